"""galla eval tasks: splits that no function crosses, metrics checked by hand, the generation path on a tiny
chat model, the graph probe on a tiny GraphLLM, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from surge_tiny_llm import save_tiny_chat_llm

from galla.eval.tasks import corpus, get_task, run_tasks, task_data
from galla.eval.tasks.base import mean_and_interval, read_jsonl
from galla.eval.tasks.summarize import clean_reply, rouge_l, smoothed_bleu


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Every task's splits, built once (walks the standard library and the test packages)."""
    out = tmp_path_factory.mktemp("eval-data")
    for name in ("summarize", "humaneval", "graph_probe"):
        task_data(get_task(name), out)
    return out


@pytest.fixture(scope="module")
def tiny_chat(tmp_path_factory) -> Path:
    return save_tiny_chat_llm(tmp_path_factory.mktemp("tiny") / "llm")


def test_splits_share_no_function(data_dir: Path) -> None:
    train_keys = {f.key for f in corpus.train_functions()}
    test = {f.id: f for f in corpus.test_functions(train_keys=train_keys)}
    for name in ("summarize", "humaneval"):
        train = read_jsonl(data_dir / name / "train.jsonl")
        assert train and all(r["id"].startswith("stdlib:") for r in train)
    summ = read_jsonl(data_dir / "summarize" / "test.jsonl")
    assert len(summ) > 1000 and {r["id"].split(":")[0] for r in summ} == set(corpus.TEST_PACKAGES)
    assert all(test[r["id"]].key not in train_keys for r in summ)  # deduplicated by normalised source
    assert len({test[r["id"]].key for r in summ}) == len(summ)
    train_human = {r["human"] for r in read_jsonl(data_dir / "summarize" / "train.jsonl")}
    assert not train_human & {r["human"] for r in summ}
    he = read_jsonl(data_dir / "humaneval" / "test.jsonl")
    assert len(he) == 164 and he[0]["id"] == "HumanEval/0"
    manifest = json.loads((data_dir / "summarize" / "manifest.json").read_text())
    assert set(manifest["splits"]["test"]) == set(corpus.TEST_PACKAGES)


def test_normalised_key_ignores_layout_comments_and_docstrings() -> None:
    a = 'def f(x):\n    """Doc."""\n    # note\n    return x+1\n'
    b = "def f(x):\n    return (x + 1)\n"
    assert corpus.normalised_key(a) == corpus.normalised_key(b)
    assert corpus.normalised_key(a) != corpus.normalised_key("def f(x):\n    return x - 1\n")


def test_metrics_on_hand_made_cases() -> None:
    ref = "Return the sum of two numbers."
    assert smoothed_bleu(ref, ref) == pytest.approx(100.0)
    assert smoothed_bleu("", ref) == 0.0
    # by hand (13a tokens, lowercased): 1-gram 4/4, 2-gram (2+1)/(3+1), 3-gram (1+1)/(2+1),
    # 4-gram (0+1)/(1+1), brevity penalty exp(1 - 7/4)
    expected = 100 * math.exp(1 - 7 / 4) * (1 * 0.75 * (2 / 3) * 0.5) ** 0.25
    assert smoothed_bleu("Return the sum.", ref) == pytest.approx(expected)
    # ROUGE-L: LCS "return the sum" = 3 tokens; P = 3/3, R = 3/6
    assert rouge_l("Return the sum", ref) == pytest.approx(100 * 2 * 1 * 0.5 / 1.5)
    assert clean_reply('  "Returns the sum."\n\nMore text') == "Returns the sum."
    ci = mean_and_interval([0.0, 1.0] * 50)
    assert ci["mean"] == 0.5 and ci["lo"] < 0.5 < ci["hi"] and ci["n"] == 100


def test_generation_path_on_a_tiny_chat_model(tiny_chat: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    kw = dict(data_dir=data_dir, limit=3, batch_size=2, max_new_tokens=4, chart=True, progress=False)
    res = run_tasks(str(tiny_chat), ["humaneval", "summarize"], out, **kw)
    assert res.table["humaneval"]["pass@1"]["n"] == 3 and res.table["humaneval"]["pass@1"]["mean"] == 0.0
    assert res.table["summarize"]["bleu4"]["n"] == 3 and res.generation.generated == 6
    lines = read_jsonl(out / "responses.jsonl")
    assert sorted((r["subset"], r["index"]) for r in lines) == [
        (t, i) for t in ("humaneval", "summarize") for i in range(3)
    ]
    for name in ("table.json", "table.csv", "table.md", "chart.png", "scores.jsonl"):
        assert (out / name).is_file()
    again = run_tasks(str(tiny_chat), ["humaneval", "summarize"], out, **kw)  # resumes: nothing to generate
    assert again.generation is None and again.table == res.table
    with pytest.raises(ValueError, match="unknown task"):
        run_tasks(str(tiny_chat), ["nope"], out, **kw)


def test_graph_probe_scores_graph_llm_with_real_shuffled_and_no_graph(
    tiny_chat: Path, data_dir: Path, tmp_path: Path
) -> None:
    from galla.config import AdapterConfig, EncoderConfig, ModelConfig
    from galla.model import GraphLLM, load_llm

    encoder = EncoderConfig(name="duplex", hidden_dim=16, out_dim=16, node_features="learned", kind_dim=8)
    config = ModelConfig(
        llm=str(tiny_chat), encoder=encoder, adapter=AdapterConfig(num_tokens=4, num_heads=4)
    )
    run = tmp_path / "run"
    GraphLLM.from_llm(*load_llm(str(tiny_chat)), config).save_pretrained(run / "final")
    res = run_tasks(str(run), ["graph_probe"], tmp_path / "o", data_dir=data_dir, limit=6, progress=False)
    probe = res.table["graph_probe"]
    assert {m: v["n"] for m, v in probe.items()} == {"acc_graph": 6, "acc_shuffled": 6, "acc_text": 6}
    items = read_jsonl(data_dir / "graph_probe" / "test.jsonl")[:6]
    assert {r["bot"] for r in read_jsonl(data_dir / "graph_probe" / "test.jsonl")} == {"Yes", "No"}
    assert all(r["node_kind"] for r in items)
    plain = run_tasks(
        str(tiny_chat), ["graph_probe"], tmp_path / "p", data_dir=data_dir, limit=6, progress=False
    )
    assert set(plain.table["graph_probe"]) == {"acc_text"} and plain.notes


def test_cli_prints_pass_at_1(tiny_chat: Path, data_dir: Path, tmp_path: Path, capsys) -> None:
    from galla.cli import main

    args = ["eval", "tasks", "--model", str(tiny_chat), "--tasks", "humaneval", "--limit", "2"]
    args += ["--max-new-tokens", "4", "--data-dir", str(data_dir), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "pass@1" in err and "humaneval" in err
    assert main(["eval", "tasks", "--model", str(tiny_chat), "--tasks", "klingon"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_cli_task_names_match_the_registry() -> None:
    from galla.cli import eval as eval_cli
    from galla.eval.tasks import _registry

    assert tuple(_registry()) == eval_cli.TASK_NAMES
