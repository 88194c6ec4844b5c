"""Overhead of the graph path: a training step on a graph batch against the same batch text-only.

Run from the repository root::

    python benchmarks/graph_overhead.py                      # SmolLM2-135M, 32 graphs, seq 512, CPU
    python benchmarks/graph_overhead.py --device cuda        # bf16 + sdpa on a GPU

Workload: 32 functions of the CPython standard library (the first functions, in file order, of a fixed
list of modules whose source fits the sequence after the graph tokens), each turned into a GALLa
Graph2Code sample: ``[graph_pad] x 256`` + source + EOS, padded to 512 tokens, loss on the source. The
model is the official configuration: DUPLEX (3 x 2 GAT layers, 384 -> 1024 -> 1024 -> 1024 on MiniLM
kind embeddings) and the cross-attention adapter (256 queries, 8 heads) on SmolLM2-135M-Instruct.

One step is forward + backward over the 32 samples in micro-batches (gradient accumulation, no optimizer
step); graphs are batched and moved to the device beforehand, as a data loader would. The text-only step
runs the same ids with the placeholders replaced by the pad token and ``graphs=None``, so the LLM does
identical work and the difference is the encoder, the adapter and the splice. ``--stage 2`` (default)
trains everything; ``--stage 1`` freezes the LLM as GALLa's first stage does, and the text-only
baseline then back-propagates to the input embeddings so both steps run the LLM's backward.
The printed ratio is the median over repeats of (graph step / text step), the two run back to back in
alternating order; the encoder and adapter are also timed alone, which is steadier on a busy machine.
``--random-init`` builds the LLM from its config without weights (same timing; for machines without the
model package). Target: graph step / text step <= 1.15.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import sysconfig
import time
from pathlib import Path

import torch
from torch_geometric.data import Batch

from data_builders.pyg import to_pyg
from galla.config import AdapterConfig, EncoderConfig, ModelConfig
from galla.constants import IGNORE_INDEX
from galla.model import GraphLLM, resolve_llm
from parsers import CodeGraph, extract_file

MODULES = (
    "textwrap.py",
    "shlex.py",
    "heapq.py",
    "bisect.py",
    "fractions.py",
    "statistics.py",
    "difflib.py",
    "json/decoder.py",
    "json/encoder.py",
    "csv.py",
    "calendar.py",
    "ipaddress.py",
)
TARGET = 1.15


def stdlib_functions(tokenizer, count: int, max_tokens: int) -> list[CodeGraph]:
    """The first ``count`` functions, cycling over :data:`MODULES`, whose source fits ``max_tokens``."""
    root = Path(sysconfig.get_paths()["stdlib"])
    per_module = [extract_file((root / m).read_bytes(), "python", path=m).graphs for m in MODULES]
    picked: list[CodeGraph] = []
    for i in range(max(map(len, per_module))):
        for graphs in per_module:
            if i < len(graphs) and 16 <= len(tokenizer(graphs[i].source).input_ids) <= max_tokens:
                picked.append(graphs[i])
            if len(picked) == count:
                return picked
    raise SystemExit(f"only {len(picked)} stdlib functions fit {max_tokens} tokens")


def graph2code_batch(model: GraphLLM, graphs: list[CodeGraph], seq: int) -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``labels`` of Graph2Code samples padded to ``seq``."""
    tok = model.tokenizer
    ids, labels, mask = [], [], []
    for g in graphs:
        prompt = tok(model.graph_placeholder(g.num_nodes) + "\n").input_ids
        target = [*tok(g.source).input_ids, tok.eos_token_id][: seq - len(prompt)]
        pad = seq - len(prompt) - len(target)
        ids.append(prompt + target + [tok.pad_token_id] * pad)
        labels.append([IGNORE_INDEX] * len(prompt) + target + [IGNORE_INDEX] * pad)
        mask.append([1] * (seq - pad) + [0] * pad)
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(mask),
        "labels": torch.tensor(labels),
    }


def build_model(args: argparse.Namespace) -> GraphLLM:
    encoder = EncoderConfig(node_features=args.node_features)
    config = ModelConfig(
        llm=args.llm,
        encoder=encoder,
        adapter=AdapterConfig(num_tokens=args.graph_tokens),
        llm_trainable=args.stage == 2,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    if not args.random_init:
        return GraphLLM.from_config(config, device=args.device)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    path = resolve_llm(args.llm)
    tokenizer = AutoTokenizer.from_pretrained(path)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    llm = AutoModelForCausalLM.from_config(
        AutoConfig.from_pretrained(path), dtype=dtype, attn_implementation="sdpa"
    )
    return GraphLLM.from_llm(llm.to(args.device), tokenizer, config)


def step(model: GraphLLM, micro: list[tuple[dict, Batch]], mode: str) -> float:
    """Seconds for forward + backward over all micro-batches.

    ``text``: the LLM on the ids with placeholders replaced by the pad token; ``graph``: the full GraphLLM
    step; ``path``: the encoder and adapter alone (backward from the sum of the graph tokens).
    """
    model.zero_grad(set_to_none=True)
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for batch, graphs in micro:
        ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
        if mode == "path":
            tokens, _ = model.encode_graphs(graphs)
            loss = tokens.sum()
        elif mode == "graph":
            loss = model(ids, mask, labels, graphs=graphs).loss
        else:
            embeds, _ = model.embed(
                ids.masked_fill(ids == model.graph_token_id, model.tokenizer.pad_token_id)
            )
            if not model.llm_trainable:
                embeds = embeds.detach().requires_grad_()  # stage 1: back-propagate through the LLM too
            loss = model.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss
        loss.backward()
    sync()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--llm", default="smollm2-135m", help="offline name, HF dir, .gguf or hub id")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--graphs", type=int, default=32, help="samples (one stdlib function each)")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--graph-tokens", type=int, default=256)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3, help="timed steps of each kind, alternating")
    p.add_argument("--stage", type=int, default=2, choices=[1, 2], help="1: LLM frozen; 2: all trainable")
    p.add_argument("--node-features", default="kind_text", choices=["kind_text", "learned"])
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--random-init", action="store_true", help="LLM weights from its config (same timing)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = build_model(args).train()
    graphs = stdlib_functions(model.tokenizer, args.graphs, args.seq - args.graph_tokens - 2)
    micro = []
    for i in range(0, len(graphs), args.micro_batch):
        chunk = graphs[i : i + args.micro_batch]
        batch = {k: v.to(model.device) for k, v in graph2code_batch(model, chunk, args.seq).items()}
        micro.append((batch, Batch.from_data_list([to_pyg(g) for g in chunk]).to(model.device)))
    nodes = [g.num_nodes for g in graphs]
    print(
        f"{len(graphs)} stdlib functions: {sum(nodes)} nodes (median {statistics.median(nodes):.0f}, "
        f"max {max(nodes)}), {sum(g.num_edges for g in graphs)} edges; seq {args.seq}, "
        f"micro-batch {args.micro_batch}, stage {args.stage}, {args.device}, {model.llm.dtype}",
        file=sys.stderr,
    )
    for mode in ("text", "graph", "path"):  # warm-up
        step(model, micro[:1], mode)
    times: dict[str, list[float]] = {"text": [], "graph": [], "path": []}
    for r in range(args.repeats):
        for mode in ("text", "graph", "path") if r % 2 == 0 else ("graph", "text", "path"):
            times[mode].append(step(model, micro, mode))
        print("  repeat {}: text {:.2f} s, graph {:.2f} s, encoder+adapter {:.2f} s".format(
            r + 1, *(times[m][-1] for m in ("text", "graph", "path"))), file=sys.stderr)  # fmt: skip
    t, g, e = (statistics.median(times[m]) for m in ("text", "graph", "path"))
    ratio = statistics.median(b / a for a, b in zip(times["text"], times["graph"], strict=True))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    result = {
        "llm": args.llm,
        "device": args.device,
        "dtype": str(model.llm.dtype),
        "stage": args.stage,
        "graphs": len(graphs),
        "seq": args.seq,
        "graph_tokens": args.graph_tokens,
        "nodes": sum(nodes),
        "encoder_params": count(model.encoder),
        "adapter_params": count(model.adapter),
        "text_step_s": [round(x, 3) for x in times["text"]],
        "graph_step_s": [round(x, 3) for x in times["graph"]],
        "encoder_adapter_s": [round(x, 3) for x in times["path"]],
        "ratio": round(ratio, 4),
        "encoder_adapter_share": round(e / t, 4),
        "target": TARGET,
    }
    print(
        f"text-only step {t:.2f} s, graph step {g:.2f} s (medians of {args.repeats}); "
        f"encoder + adapter alone {e:.2f} s = {100 * e / t:.1f}% of the text step"
    )
    print(f"ratio graph / text-only step: {ratio:.3f} (median of paired repeats; target <= {TARGET})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
