"""Task records (Graph2Code, GraphQA, SFT, DPO) built from real graphs of small snippets."""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from datasets import concatenate_datasets, load_from_disk

from data_builders.build import BuildOptions, build_graphs
from data_builders.formats import read_galla_jsonl
from data_builders.tasks import (
    MANIFEST,
    QA_SUBTASKS,
    TASK_FEATURES,
    build_tasks,
    check_qa,
    dpo_records,
    graph2code_records,
    graph_qa_records,
    read_task_file,
    row_from_graph,
    sft_records,
    to_dataset,
)
from parsers import EdgeType, extract_file

LOOP = "def f(a):\n    for i in range(3):\n        a = i\n    return a\n"
PY = (
    LOOP
    + "\n\ndef g(x, y):\n    z = x + y\n    if z > 0:\n        z = -z\n    else:\n        z = z * 2\n"
    + "    return z * x\n\n\nclass K:\n    def m(self, items):\n        total = 0\n"
    + "        for it in items:\n            total += it\n        return total\n"
)
JAVA = (
    "class Acc {\n  int sum(int[] xs) {\n    int s = 0;\n    for (int x : xs) {\n      s += x;\n    }\n"
    "    return s;\n  }\n\n  static void main(String[] args) {\n    String t = args[0];\n"
    "    System.out.println(t + args.length);\n  }\n}\n"
)


def rows_of(code: str, language: str, path: str = "") -> list[dict]:
    return [row_from_graph(g) for g in extract_file(code, language, path=path).graphs]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return rows_of(PY, "python", "m.py") + rows_of(JAVA, "java", "Acc.java")


def key(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True)


def by_question(recs: list[dict], subtask: str, needle: str) -> dict:
    (rec,) = [r for r in recs if r["subtask"] == subtask and needle in r["question"].split("\n\n")[-1]]
    return rec


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_same_records_and_a_new_seed_changes_them(rows):
    a = graph_qa_records(rows, seed=3)
    assert a == graph_qa_records(rows, seed=3)
    assert a != graph_qa_records(rows, seed=4)
    g1 = graph2code_records(rows, with_question=True, seed=3)
    assert g1 == graph2code_records(rows, with_question=True, seed=3)
    assert [r["question"] for r in g1] != [
        r["question"] for r in graph2code_records(rows, with_question=True)
    ]


def test_records_do_not_depend_on_row_order(rows):
    forward = graph_qa_records(rows, seed=1) + graph2code_records(rows, with_question=True, seed=1)
    backward = graph_qa_records(rows[::-1], seed=1) + graph2code_records(
        rows[::-1], with_question=True, seed=1
    )
    assert sorted(map(key, forward)) == sorted(map(key, backward))
    alone = graph_qa_records(rows[1:2], seed=1)
    assert alone == [r for r in forward if r["graph_id"] == rows[1]["id"] and r["task"] == "graph_qa"]


# --- GraphQA -----------------------------------------------------------------------------------


def test_every_record_passes_its_checker_and_tampering_fails(rows):
    recs = graph_qa_records(rows, per_graph=6, seed=0)
    assert {r["subtask"] for r in recs} == set(QA_SUBTASKS)
    assert all(check_qa(r) for r in recs)
    for r in recs:
        assert not check_qa({**r, "answer": r["answer"] + " Also `q`."})
        assert not check_qa({**r, "question": r["question"].replace("line", "row", 1) + "?"})
    flipped = 0
    for r in (r for r in recs if r["subtask"] == "edge_exists"):
        flipped += not check_qa({**r, "answer": r["answer"].replace("Yes", "No").replace("No,", "Yes,")})
    assert flipped > 0
    # the answer is re-derived from the graph columns: dropping the asked edges breaks the record
    rd = next(r for r in recs if r["subtask"] == "reaching_defs")
    (use,) = json.loads(rd["meta"])["nodes"]
    keep = [
        i for i, (s, t) in enumerate(zip(rd["edge_src"], rd["edge_type"], strict=True))
        if not (s == use and t == EdgeType.LAST_WRITE)
    ]  # fmt: skip
    cut = {**rd, **{c: [rd[c][i] for i in keep] for c in ("edge_src", "edge_dst", "edge_type")}}
    assert not check_qa(cut)
    with pytest.raises(ValueError, match="generated GraphQA"):
        check_qa(graph2code_records(rows)[0])


def test_edge_exists_is_balanced_per_graph_and_negatives_are_plausible(rows):
    recs = [r for r in graph_qa_records(rows, per_graph=4, seed=7) if r["subtask"] == "edge_exists"]
    per_graph: dict[str, Counter] = {}
    for r in recs:
        per_graph.setdefault(r["graph_id"], Counter())[r["answer"].startswith("Yes")] += 1
    assert len(per_graph) == len(rows)
    assert all(c[True] == c[False] == 2 for c in per_graph.values())
    graphs = {"syntax tree": 0, "data flow graph": 0}
    for r in recs:
        meta = json.loads(r["meta"])
        a, b = meta["nodes"]
        wanted = EdgeType.CHILD if meta["graph"] == "ast" else EdgeType.LAST_WRITE
        edges = {
            (s, d)
            for s, d, t in zip(r["edge_src"], r["edge_dst"], r["edge_type"], strict=True)
            if t == wanted
        }
        kind_pairs = {(r["node_kind"][s], r["node_kind"][d]) for s, d in edges}
        stored = (
            (a, b) if meta["graph"] == "ast" else (b, a)
        )  # data flow: asked def -> use, stored use -> def
        if r["answer"].startswith("Yes"):
            assert stored in edges
        else:  # no edge either way, and the kinds of a real edge
            assert stored not in edges and stored[::-1] not in edges
            assert (r["node_kind"][stored[0]], r["node_kind"][stored[1]]) in kind_pairs
        graphs[next(g for g in graphs if g in r["question"].split("\n\n")[-1])] += 1
    assert graphs["syntax tree"] and graphs["data flow graph"]
    odd = [r for r in graph_qa_records(rows, per_graph=3, seed=7) if r["subtask"] == "edge_exists"]
    yes = sum(r["answer"].startswith("Yes") for r in odd)
    assert len(odd) == 3 * len(rows) and abs(2 * yes - len(odd)) <= len(rows)


def test_reaching_defs_finds_the_loop_write_and_the_parameter():
    recs = graph_qa_records(rows_of(LOOP, "python"), per_graph=10, subtasks=["reaching_defs"])
    asked = [r["question"].split("\n\n")[-1] for r in recs]
    rec = next(r for r, q in zip(recs, asked, strict=True) if "`a`" in q and "line 4" in q)
    assert rec["answer"].endswith("`a` on line 1 and `a` on line 3.")
    assert "2 definitions" in rec["answer"] or rec["answer"].startswith("Reaching definitions:")
    assert check_qa(rec)
    single = next(r for r, q in zip(recs, asked, strict=True) if "`i`" in q and "line 3" in q)
    assert single["answer"].endswith("`i` on line 2.") and " and " not in single["answer"]


def test_parent_and_children_answers_on_a_known_snippet():
    recs = graph_qa_records(rows_of(LOOP, "python"), per_graph=50, subtasks=["parent", "children"])
    loop = "for statement `for i in range(3): a = i`"
    assert by_question(recs, "children", loop)["answer"].endswith(
        "identifier `i` (line 2), token `in`, call `range(3)` and block `a = i`."
    )
    assert by_question(recs, "children", "assignment `a = i`")["answer"].endswith(
        "identifier `a` (line 3), token `=` and identifier `i` (line 3)."
    )
    assert by_question(recs, "parent", "call `range(3)`")["answer"].endswith(loop[1:] + ".")
    assert by_question(recs, "parent", "identifier `a` (line 1)")["answer"].endswith("parameters `(a)`.")
    # long spans are cut with an ellipsis; nodes with two or more children only
    root = by_question(recs, "children", "function definition `def f(a)")
    assert "`def f(a): for i in range(3): a = i retu…`" in root["question"]
    assert root["answer"].endswith(
        "identifier `f`, parameters `(a)` and block `for i in range(3): a = i return a`."
    )
    assert not [r for r in recs if r["subtask"] == "children" and "parameters `(a)`" in r["question"]]


def test_the_question_embeds_the_fenced_code_like_the_official_sample(rows):
    for r in graph_qa_records(rows, seed=2):
        row = next(x for x in rows if x["id"] == r["graph_id"])
        code = textwrap.dedent(" " * row["node_start_col"][0] + row["source"].rstrip())  # as Graph2Code
        head = f"```{row['language']}\n{code}\n```\n\n"
        assert r["question"].startswith(head)
        sentence = r["question"][len(head) :]
        assert "\n" not in sentence and sentence.endswith(("?", ".")) and r["answer"]
        assert r["node_kind"] == row["node_kind"] and r["edge_src"] == row["edge_src"]
    java = [r for r in graph_qa_records(rows) if r["language"] == "java"]
    assert java and any("Java" in r["question"].split("\n\n")[-1] for r in java)


def test_units_that_cannot_support_a_subtask_are_skipped_and_counted(tmp_path):
    skipped: Counter = Counter()
    code = "def p():\n    pass\n\n\ndef big(x):\n    return x" + " + x" * 2000 + "\n"
    recs = graph_qa_records(rows_of(code, "python"), skipped=skipped, max_source_chars=4000)
    assert skipped["graph_qa: source longer than 4000 chars"] == 1
    assert skipped["graph_qa/reaching_defs: no variable use with reaching definitions"] == 1
    assert recs and {r["graph_id"] for r in recs} == {"::p@1"}
    official = tmp_path / "Python_AST.jsonl"
    official.write_text(json.dumps({"node_ids": [1, 2], "edge_index": [[0, 1]], "source": "x = 1"}) + "\n")
    official = list(read_galla_jsonl(official))
    assert graph_qa_records(official, skipped=skipped) == []
    assert skipped["graph_qa: foreign node-kind vocabulary"] == 1
    with pytest.raises(ValueError, match="unknown GraphQA subtasks"):
        graph_qa_records([], subtasks=["siblings"])


# --- Graph2Code --------------------------------------------------------------------------------


def test_graph2code_stage1_has_no_question_and_stage2_a_varied_one(rows):
    stage1 = graph2code_records(rows)
    # the source dedented: a method reads as at top level, its body indented under it
    assert [r["answer"] for r in stage1] == [
        textwrap.dedent(" " * r["node_start_col"][0] + r["source"]) for r in rows
    ]
    method = next(r["answer"] for r in stage1 if r["graph_id"] == "m.py::K.m@17")
    body = "    total = 0\n    for it in items:\n        total += it\n    return total"
    assert method == "def m(self, items):\n" + body
    assert stage1[2]["node_start_byte"] == rows[2]["node_start_byte"]  # spans still index `source`
    assert all(r["question"] == "" and r["task"] == "graph2code" for r in stage1)
    assert stage1[0]["edge_type"] == rows[0]["edge_type"] and stage1[0]["graph_id"] == rows[0]["id"]
    stage2 = graph2code_records(rows * 3, with_question=True)
    assert len({r["question"] for r in stage2}) > 1
    assert all(("Python" in r["question"]) == (r["language"] == "python") for r in stage2)


def test_dedent_keeps_units_that_start_mid_line_or_hold_less_indented_lines():
    js = "function outer() {\n  const add = (a, b) => {\n    return a + b;\n  };\n}\n"
    py = 'class K:\n    def m(self):\n        s = """\nflush left\n"""\n        return s\n'
    rows = rows_of(js, "javascript") + rows_of(py, "python")
    answers = {r["graph_id"]: r["answer"] for r in graph2code_records(rows)}
    # the arrow starts at column 14 of a line indented 2: its last line `}` comes back to column 0
    assert answers["::outer.<locals>.add@2"] == "(a, b) => {\n  return a + b;\n}"
    # a string's line at column 0 inside the method: nothing can be taken off, the source stays as is
    assert answers["::K.m@2"] == rows[-1]["source"]
    qa = graph_qa_records(rows, per_graph=8)
    assert qa and all(check_qa(r) for r in qa)
    arrow = [r for r in qa if r["graph_id"] == "::outer.<locals>.add@2"]
    assert arrow and all(
        r["question"].startswith("```javascript\n(a, b) => {\n  return a + b;\n}\n```") for r in arrow
    )


def test_graph_qa_columns_are_those_of_the_shown_code():
    code = "class K:\n    def m(self, a):\n        b = a; c = a\n        return b + c\n"
    qa = graph_qa_records(rows_of(code, "python"), per_graph=20)
    assert all(check_qa(r) for r in qa)
    columns = [m for r in qa for m in re.findall(r"line (\d+), column (\d+)", r["question"])]
    # line 2 reads `    b = a; c = a` once dedented: its second `a` is at column 16 (20 in the file)
    assert ("2", "16") in columns and ("2", "20") not in columns


# --- downstream readers ------------------------------------------------------------------------


def write_lines(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_sft_records_accept_the_three_field_conventions(tmp_path):
    p = write_lines(
        tmp_path / "down.jsonl",
        [
            {"human": "# Fix the bug\n\n# Buggy\nx\n\n# Fixed\n", "bot": "y"},
            "",
            {"prompt": "p", "completion": "c"},
            {"instruction": "Translate", "input": "print(1)", "output": "System.out.println(1);"},
        ],
    )
    recs = sft_records(p)
    assert [(r["question"], r["answer"]) for r in recs] == [
        ("# Fix the bug\n\n# Buggy\nx\n\n# Fixed\n", "y"),
        ("p", "c"),
        ("Translate\n\nprint(1)", "System.out.println(1);"),
    ]
    assert all(r["task"] == "sft" and r["node_kind"] == [] and r["graph_id"] == "" for r in recs)
    assert sft_records([{"human": "h", "bot": "b"}])[0]["answer"] == "b"


def test_sft_and_dpo_errors_name_the_file_and_line(tmp_path):
    bad_json = write_lines(tmp_path / "a.jsonl", [{"human": "h", "bot": "b"}, "{not json"])
    with pytest.raises(ValueError, match=r"a\.jsonl:2: not valid JSON"):
        sft_records(bad_json)
    missing = write_lines(tmp_path / "b.jsonl", [{"human": "h", "bot": "b"}, {"human": "h"}, {}])
    with pytest.raises(ValueError, match=r"b\.jsonl:2: expected fields 'human' and 'bot'.*found \['human'\]"):
        sft_records(missing)
    typed = write_lines(tmp_path / "c.jsonl", [{"prompt": "p", "chosen": "c", "rejected": 3}])
    with pytest.raises(ValueError, match=r"c\.jsonl:1: field 'rejected' must be a string"):
        dpo_records(typed)
    no_rejected = write_lines(tmp_path / "d.jsonl", [{"prompt": "p", "chosen": "c"}])
    with pytest.raises(ValueError, match=r"d\.jsonl:1: expected fields 'prompt', 'chosen', 'rejected'"):
        dpo_records(no_rejected)
    with pytest.raises(ValueError, match=r"record 2: expected fields"):
        sft_records([{"human": "h", "bot": "b"}, {"question": "q"}])
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        sft_records(tmp_path / "nope.jsonl")


def test_dpo_records_keep_the_pair_and_ignore_reference_logps(tmp_path):
    p = write_lines(
        tmp_path / "pairs.jsonl",
        [{"prompt": "Fix it", "chosen": "good", "rejected": "bad", "ref_chosen_logps": -1.5}],
    )
    (r,) = dpo_records(p)
    assert (r["task"], r["question"], r["chosen"], r["rejected"], r["answer"]) == (
        "dpo", "Fix it", "good", "bad", ""
    )  # fmt: skip
    assert set(r) == set(TASK_FEATURES)


OFFICIAL_QA = {
    "node_ids": [12, 7, 7, 30],
    "edge_index": [[1, 2], [2, 2]],
    "question": "```java\nclass A { void m(String[] args) { f(args); } }\n```\n\n"
    "Is there an edge from identifier expression `args` to identifier expression `args` in this Java "
    "data flow graph?",
    "bot": "Yes, that is the case. `args` is directly connected to `args`.",
}


def test_official_files_read_the_same_edge_types_both_ways(tmp_path):
    """``read_galla_jsonl`` (a graph dataset) and ``read_task_file`` (training records) give one file's
    graphs the same edge types, whatever the file is called; a record's own types win."""
    g2c = {"node_ids": [1, 2, 3], "edge_index": [[0, 1], [0, 2]], "source": "M = 9"}
    typed = {**g2c, "edge_type": [int(EdgeType.NEXT_TOKEN), int(EdgeType.LAST_WRITE)]}
    for name in ("graphs.jsonl", "Python_AST.jsonl", "Java_DFG.jsonl"):
        p = write_lines(tmp_path / name, [g2c, OFFICIAL_QA, typed])
        dataset = [(r["edge_src"], r["edge_dst"], r["edge_type"]) for r in read_galla_jsonl(p)]
        records = [(r["edge_src"], r["edge_dst"], r["edge_type"]) for r in read_task_file(p)]
        assert dataset == records, name
        assert dataset[2][2] == [EdgeType.NEXT_TOKEN, EdgeType.LAST_WRITE], name
    assert read_task_file(tmp_path / "Python_AST.jsonl")[0]["edge_type"] == [EdgeType.CHILD] * 2
    assert read_task_file(tmp_path / "Java_DFG.jsonl")[0]["edge_type"] == [EdgeType.DATA_FLOW] * 2


def test_read_task_file_tells_official_records_apart(tmp_path):
    p = write_lines(
        tmp_path / "mixed.jsonl",
        [
            OFFICIAL_QA,
            {
                "node_ids": [1, 2, 3],
                "edge_index": [[0, 1], [0, 2]],
                "source": "M = 9",
                "text": ["M = 9", "M", "9"],
            },
            {"human": "h", "bot": "b"},
            {"prompt": "p", "chosen": "c", "rejected": "r"},
        ],
    )
    qa, g2c, sft, dpo = read_task_file(p)
    assert (qa["task"], qa["subtask"], qa["answer"]) == ("graph_qa", "official", OFFICIAL_QA["bot"])
    assert qa["question"] == OFFICIAL_QA["question"] and qa["graph_id"] == "mixed.jsonl:1"
    assert qa["node_kind"] == [12, 7, 7, 30] and (qa["edge_src"], qa["edge_dst"]) == ([1, 2], [2, 2])
    assert qa["edge_type"] == [EdgeType.DATA_FLOW] * 2 and qa["node_start_byte"] == []
    assert qa["node_kind"] == read_galla_jsonl(p)[0]["node_kind"]
    assert (g2c["task"], g2c["question"], g2c["answer"]) == ("graph2code", "", "M = 9")
    assert sft["task"] == "sft" and dpo["task"] == "dpo" and dpo["chosen"] == "c"
    ast = write_lines(tmp_path / "Java_AST.jsonl", [{**OFFICIAL_QA}])
    assert read_task_file(ast)[0]["edge_type"] == [EdgeType.CHILD] * 2
    assert read_task_file(ast)[0]["language"] == "java"
    bad = write_lines(
        tmp_path / "bad.jsonl", [OFFICIAL_QA, {"node_ids": [0], "edge_index": [[0, 5]], "source": "x"}]
    )
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: edge_index refers to a node outside 0\.\.0"):
        read_task_file(bad)
    unknown = write_lines(tmp_path / "u.jsonl", [{"text": "hello"}])
    with pytest.raises(ValueError, match=r"u\.jsonl:1: unknown record; expected node_ids"):
        read_task_file(unknown)
    as_json = tmp_path / "list.json"
    as_json.write_text(json.dumps([{"human": "h", "bot": "b"}, OFFICIAL_QA]))
    assert [r["task"] for r in read_task_file(as_json)] == ["sft", "graph_qa"]


# --- datasets ----------------------------------------------------------------------------------


def test_all_tasks_concatenate_into_one_dataset(rows, tmp_path):
    parts = [
        graph2code_records(rows),
        graph_qa_records(rows),
        sft_records([{"human": "h", "bot": "b"}]),
        dpo_records([{"prompt": "p", "chosen": "c", "rejected": "r"}]),
    ]
    ds = concatenate_datasets([to_dataset(p) for p in parts])
    assert ds.features == TASK_FEATURES and len(ds) == sum(map(len, parts))
    assert Counter(ds["task"]) == {"graph2code": len(rows), "graph_qa": len(parts[1]), "sft": 1, "dpo": 1}
    assert ds[len(rows)] == parts[1][0]  # round trip through Arrow keeps every field
    assert check_qa(ds[len(rows)])
    assert len(to_dataset([])) == 0


def test_build_tasks_writes_a_dataset_with_its_manifest(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(PY)
    (repo / "Acc.java").write_text(JAVA)
    graphs = tmp_path / "graphs"
    build_graphs(BuildOptions(paths=[str(repo)], out=graphs, workers=1))
    down = write_lines(tmp_path / "down.jsonl", [{"human": "h", "bot": "b"}] * 3)
    out = tmp_path / "tasks"
    manifest = build_tasks(graphs, out, seed=5, with_question=True, downstream=[down])
    ds = load_from_disk(str(out))
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert len(ds) == manifest["records"] and manifest["graph_units"] == 5
    assert dict(Counter(ds["task"])) == manifest["counts"] == {
        "graph2code": 5, "graph_qa": manifest["records"] - 8, "sft": 3
    }  # fmt: skip
    qa = [r for r in ds if r["task"] == "graph_qa"]
    assert dict(Counter(r["subtask"] for r in qa)) == manifest["subtask_counts"]["graph_qa"]
    assert manifest["edge_exists_answers"]["yes"] == manifest["edge_exists_answers"]["no"]
    assert all(check_qa(r) for r in qa)
    assert manifest["seed"] == 5 and manifest["graphs"] == str(graphs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["down.jsonl", "graphs", "repo", "tasks"]
    # the same records as from rows in memory; a rebuild replaces the directory
    same = graph_qa_records(
        rows_of(PY, "python", "repo/m.py") + rows_of(JAVA, "java", "repo/Acc.java"), seed=5
    )
    assert {r["graph_id"] for r in same} == {r["graph_id"] for r in qa}
    assert sorted(map(key, same)) == sorted(map(key, qa))
    again = build_tasks(graphs, out, tasks=["graph2code"])
    assert len(load_from_disk(str(out))) == again["records"] == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tasks")]


def test_build_tasks_streams_what_the_in_memory_dataset_held(tmp_path):
    """Streamed in batches of 3, the folder holds the records (and Arrow table) the old writer did:
    ``to_dataset`` of every record in memory, then ``save_to_disk``."""
    import pyarrow as pa

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "m.py").write_text(PY)
    (repo / "sub" / "loop.py").write_text(LOOP.replace("def f", "def h"))
    (repo / "Acc.java").write_text(JAVA)
    graphs = tmp_path / "graphs"
    build_graphs(BuildOptions(paths=[str(repo)], out=graphs, workers=1))
    down = write_lines(tmp_path / "down.jsonl", [{"human": "h", "bot": "b"}, {"human": "x", "bot": "y"}])
    manifest = build_tasks(
        graphs, tmp_path / "streamed", seed=3, per_graph=3, downstream=[down], batch_size=3
    )
    rows = load_from_disk(str(graphs)).to_list()
    held = graph2code_records(rows, seed=3) + graph_qa_records(rows, per_graph=3, seed=3) + sft_records(down)
    to_dataset(held).save_to_disk(str(tmp_path / "old"))
    old, streamed = load_from_disk(str(tmp_path / "old")), load_from_disk(str(tmp_path / "streamed"))
    assert streamed.features == old.features == TASK_FEATURES and manifest["records"] == len(held) > 20
    assert streamed.to_list() == old.to_list() == held  # same records, same order, same ids
    assert streamed.data.table.equals(old.data.table)
    with pa.ipc.open_stream(str(tmp_path / "streamed" / "data-00000-of-00001.arrow")) as reader:
        sizes = [b.num_rows for b in reader]
    assert sizes == [3] * (len(held) // 3) + ([len(held) % 3] if len(held) % 3 else [])
    assert build_tasks(graphs, tmp_path / "again", seed=3, per_graph=3, downstream=[down]) == manifest
    assert load_from_disk(str(tmp_path / "again")).to_list() == held  # the batch size changes nothing
    with pytest.raises(ValueError, match="batch_size"):
        build_tasks(graphs, tmp_path / "none", batch_size=0)


def test_build_tasks_rejects_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "missing")):
        build_tasks(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"junk.*not a graph dataset"):
        build_tasks(tmp_path / "junk", tmp_path / "out")
    to_dataset(sft_records([{"human": "h", "bot": "b"}])).save_to_disk(str(tmp_path / "taskset"))
    with pytest.raises(ValueError, match=r"taskset.*lacks columns"):
        build_tasks(tmp_path / "taskset", tmp_path / "out")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        build_tasks([], tmp_path / "junk")
    with pytest.raises(ValueError, match="unknown graph tasks"):
        build_tasks([], tmp_path / "out", tasks=["graph2text"])
    assert not (tmp_path / "out").exists()
