"""Graph probe: do the model's answers to graph questions depend on the graph it is shown?

Held-out GraphQA ``edge_exists`` questions (does this syntax-tree / data-flow graph have an edge from A to
B?, exactly balanced yes/no per unit) about functions of the test packages (``corpus.TEST_PACKAGES``),
asked in the training layout (chat template, graph placeholders where the training data puts them).
Scored without generation: an item is right when the model puts more probability on the first token of
the right answer ("Yes" / "No") than on the other's, right after the prompt.

- ``acc_graph``: a GraphLLM (``galla train``'s ``final/``) with the item's own graph;
- ``acc_shuffled``: the same GraphLLM with another unit's graph (a fixed derangement);
- ``acc_text``: the LLM alone, no graph tokens (the question carries the code), for any model.

``acc_graph - acc_shuffled`` is what the graph itself contributes; a plain LLM gets ``acc_text`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from galla.eval.tasks import corpus
from galla.eval.tasks.base import Task, TaskExample, seeded_order

GRAPH_COLUMNS = ("node_kind", "edge_src", "edge_dst", "edge_type")
MAX_ITEMS = 600


class GraphProbe(Task):
    name = "graph_probe"
    metrics = ("acc_graph", "acc_shuffled", "acc_text")
    generative = False

    def build(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        from data_builders.tasks import graph_qa_records
        from parsers import extract_file

        records = []
        for dist in ("requests", "rich"):
            root = corpus.package_root(dist)
            for path in sorted(root.rglob("*.py")):
                if "tests" in path.relative_to(root).parts:
                    continue
                graphs = extract_file(path.read_bytes(), "python", unit="function", path=path.name).graphs
                for rec in graph_qa_records(graphs, per_graph=2, subtasks=["edge_exists"], seed=17):
                    answer = "Yes" if rec["answer"].startswith("Yes") else "No"
                    records.append(
                        {
                            "human": rec["question"],
                            "bot": answer,
                            "id": f"{dist}:{rec['graph_id']}",
                            **{c: rec[c] for c in GRAPH_COLUMNS},
                        }
                    )
        test = seeded_order(records)[:MAX_ITEMS]
        provenance = {
            "splits": {"test": {d: corpus.package_version(d) for d in ("requests", "rich")}},
            "question": "GraphQA edge_exists (galla build-tasks templates), seed 17, 2 per graph",
        }
        return [], test, provenance

    def score(
        self, examples: Sequence[TaskExample], responses: Mapping[int, str | None]
    ) -> list[dict[str, Any]]:
        raise TypeError("the graph probe scores a model, not replies: use score_model")

    def score_model(
        self, examples: Sequence[TaskExample], llm: Any, tokenizer: Any, graph_llm: Any | None
    ) -> list[dict[str, Any]]:
        """Per item: the right answer and, per condition, whether the model preferred it."""
        import torch

        from galla.train.data import Encoder

        yes = tokenizer("Yes", add_special_tokens=False).input_ids[0]
        no = tokenizer("No", add_special_tokens=False).input_ids[0]

        def prefers_right(model: Any, ex: TaskExample, graph_of: TaskExample | None) -> bool:
            """One forward pass of the prompt; ``graph_of``: the example whose graph is shown (None: none)."""
            record = {"task": "graph_qa", "question": ex.human, "answer": ex.reference}
            if graph_of is None:
                enc = Encoder(tokenizer, 0, lambda n: 0, max_length=1 << 30, template="chat")
            else:
                record.update({c: graph_of.meta[c] for c in GRAPH_COLUMNS})
                enc = Encoder(
                    tokenizer,
                    model.graph_token_id,
                    model.num_graph_tokens,
                    max_length=1 << 30,
                    template="chat",
                )
            example = enc.encode(record, f"probe:{ex.index}")
            assert example is not None
            ids = torch.as_tensor(example.ids[: example.prompt_len], dtype=torch.long)[None]  # (1, T)
            with torch.inference_mode():
                if example.graph is None:
                    logits = model(input_ids=ids.to(model.device)).logits
                else:
                    logits = model(ids.to(model.device), graphs=[example.graph]).logits  # (1, T, V)
            last = logits[0, -1]
            right, wrong = (yes, no) if ex.reference == "Yes" else (no, yes)
            return bool(last[right] > last[wrong])

        out = []
        for i, ex in enumerate(examples):
            row: dict[str, Any] = {"index": ex.index, "id": ex.meta.get("id"), "answer": ex.reference}
            row["acc_text"] = float(prefers_right(llm, ex, None))
            if graph_llm is not None:
                donor = _donor(examples, i)
                row["acc_graph"] = float(prefers_right(graph_llm, ex, ex))
                row["acc_shuffled"] = float(prefers_right(graph_llm, ex, donor))
            out.append(row)
        return out


def _donor(examples: Sequence[TaskExample], i: int) -> TaskExample:
    """Another unit's example, half the list away (a fixed derangement; skips the unit's own questions)."""
    n = len(examples)
    for step in range(n // 2 or 1, n + n // 2):
        other = examples[(i + step) % n]
        if other.meta.get("id") != examples[i].meta.get("id"):
            return other
    return examples[i]
