"""SURGE generation: chat prompts, batched left-padded greedy decoding, resume, refusals, long prompts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from surge_fixtures import REAL_DATA, TINY, needs_real_data, write_tiny_surge
from surge_tiny_llm import save_tiny_chat_llm

from galla.cli import main
from galla.eval.surge.data import SurgeItem, load_surge
from galla.eval.surge.generate import (
    MAX_NEW_TOKENS,
    REASONING_TOKENS,
    GenerationError,
    Prompt,
    build_prompts,
    generate_batched,
    max_new_tokens_for,
    model_label,
    paper_name,
    resolve_model,
    run_generation,
)
from galla.model.llm import load_llm

_SYS = {"0shot": "Say the output.", "cot": "Think step by step, then say the output.", "3shot": "Examples."}
_QUESTIONS = [
    "print(1)",
    "def add(a, b):\n    return a + b\nprint(add(1, 2))",
    "x = 3\nprint(x * x)",
    "#include <iostream>\nint main() { std::cout << 42 << std::endl; return 0; }",
    "for i in range(3):\n    print(i)\nprint('done')\n# a longer program, with a comment",
    "s = 'abc'\nprint(s[::-1])",
    "print(sum(range(10)))",
]


def _items(questions: list[str] = _QUESTIONS) -> list[SurgeItem]:
    return [SurgeItem("ml", i, q, "1", "ML-Others", system_prompts=_SYS) for i, q in enumerate(questions)]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _surge_folder(folder: Path, n_ml: int = 5) -> Path:
    """The hand-made SURGE folder with ``n_ml`` ML items of different lengths (ml and cl only)."""
    write_tiny_surge(folder, ("ml", "cl"))
    base = TINY["ml"][0]
    records = [{**base, "question": q} for q in (_QUESTIONS * 2)[:n_ml]]
    (folder / "ml.json").write_text(json.dumps(records), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_chat_llm(tmp_path_factory.mktemp("llm") / "tiny", context=4096)


@pytest.fixture(scope="module")
def loaded(tiny_llm: Path):
    return load_llm(str(tiny_llm))


# --- prompts ---------------------------------------------------------------------------------------


def test_prompt_is_system_and_question_through_chat_template(loaded) -> None:
    _, tok = loaded
    item = _items()[1]
    (prompt,) = build_prompts([item], tok, "cot")
    assert prompt.text == (f"<|system|>\n{_SYS['cot']}</s>\n<|user|>\n{item.question}</s>\n<|assistant|>\n")
    assert prompt.input_ids == tok(prompt.text, add_special_tokens=False).input_ids
    assert (prompt.subset, prompt.index) == ("ml", 1)
    assert tok.decode(prompt.input_ids) == prompt.text  # byte-level BPE: every character encodes
    with pytest.raises(ValueError, match="unknown SURGE setting"):
        build_prompts([item], tok, "5shot")


def test_tokenizer_without_chat_template_is_refused(loaded) -> None:
    _, tok = loaded
    saved = tok.chat_template
    tok.chat_template = None
    try:
        with pytest.raises(GenerationError, match="no chat template"):
            build_prompts(_items()[:1], tok, "0shot")
    finally:
        tok.chat_template = saved


# --- batching --------------------------------------------------------------------------------------


def test_batched_left_padded_equals_one_at_a_time(loaded) -> None:
    model, tok = loaded
    prompts = build_prompts(_items(), tok, "0shot")
    assert len({len(p.input_ids) for p in prompts}) >= 5  # the batches really are padded

    def run(batch_size: int) -> dict[int, tuple[str, int, bool]]:
        out = {}
        for batch in generate_batched(model, tok, prompts, max_new_tokens=12, batch_size=batch_size):
            assert len(batch) <= batch_size
            out.update({g.prompt.index: (g.response, g.new_tokens, g.finished) for g in batch})
        return out

    one = run(1)
    assert sorted(one) == list(range(len(prompts)))
    assert run(3) == one
    assert run(len(prompts)) == one
    assert len({r for r, _, _ in one.values()}) > 1  # not a degenerate model that always says the same


class _FakeLM:
    """Records the batches it is given and 'generates' a fixed continuation per prompt length."""

    def __init__(self, continuation: dict[int, list[int]]) -> None:
        self.continuation, self.calls = continuation, []
        self.device = torch.device("cpu")
        self.generation_config = SimpleNamespace(eos_token_id=[7, 8])

    def generate(self, input_ids, attention_mask, max_new_tokens, **kwargs):
        self.calls.append((input_ids.clone(), attention_mask.clone(), max_new_tokens, kwargs))
        rows = [self.continuation[int(m.sum())][:max_new_tokens] for m in attention_mask]
        width = max(len(r) for r in rows)
        new = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, new], dim=1)


def test_generate_batched_pads_left_sorts_and_stops() -> None:
    tok = SimpleNamespace(pad_token_id=0, eos_token_id=9, decode=lambda ids, **_: " ".join(map(str, ids)))
    lm = _FakeLM({1: [5, 7, 0], 2: [5, 5, 5, 5], 3: [6, 9, 0, 0]})
    prompts = [Prompt("ml", i, "", [3] * n) for i, n in enumerate([1, 3, 2])]
    batches = list(generate_batched(lm, tok, prompts, max_new_tokens=4, batch_size=2))
    assert [[g.prompt.index for g in b] for b in batches] == [[1, 2], [0]]  # longest first
    ids, mask, budget, kwargs = lm.calls[0]
    assert ids.tolist() == [[3, 3, 3], [0, 3, 3]] and mask.tolist() == [[1, 1, 1], [0, 1, 1]]
    assert budget == 4 and kwargs["do_sample"] is False and kwargs["num_beams"] == 1
    assert kwargs["eos_token_id"] == [7, 8, 9] and kwargs["repetition_penalty"] == 1.0
    got = {g.prompt.index: (g.response, g.new_tokens, g.finished) for b in batches for g in b}
    assert got == {1: ("6", 2, True), 2: ("5 5 5 5", 4, False), 0: ("5", 2, True)}
    with pytest.raises(ValueError, match="batch_size"):
        next(generate_batched(lm, tok, prompts, max_new_tokens=4, batch_size=0))


def test_token_budgets() -> None:
    assert max_new_tokens_for("ml", "0shot") == MAX_NEW_TOKENS["ml"]
    assert max_new_tokens_for("fl", "cot") == MAX_NEW_TOKENS["fl"] + REASONING_TOKENS
    assert max_new_tokens_for("rl", "3shot", cap=64) == 64
    assert paper_name("qwen2.5-coder-0.5b") == "Qwen-2.5-Coder-0.5B-Instruct"
    assert paper_name("Qwen/Qwen2.5-7B-Instruct") == "Qwen-2.5-7B-Instruct"
    assert paper_name("smollm2-135m") is None


# --- the responses file ----------------------------------------------------------------------------


def test_resume_appends_only_missing_items(tiny_llm: Path, tmp_path: Path) -> None:
    data, out = _surge_folder(tmp_path / "surge"), tmp_path / "out"
    kwargs = dict(max_new_tokens=6, batch_size=2, compare=None, chart=False, progress=False)
    first = run_generation(str(tiny_llm), data, out, "0shot", "ml,cl", 2, **kwargs)
    responses = out / "responses.jsonl"
    before = responses.read_bytes()
    lines = _jsonl(responses)
    assert (first.selected, first.generated, first.already_done) == (3, 3, 0)  # ml 2 + cl 1
    assert sorted((r["subset"], r["index"]) for r in lines) == [("cl", 0), ("ml", 0), ("ml", 1)]
    expected = {"subset", "index", "response", "model", "setting", "prompt_tokens", "new_tokens", "seconds"}
    assert all(expected <= set(r) and r["model"] == str(tiny_llm.resolve()) for r in lines)
    assert all(r["setting"] == "0shot" and 1 <= r["new_tokens"] <= 6 for r in lines)

    # a kill in the middle of a write leaves a partial line: it is dropped and that item redone
    responses.write_bytes(before + b'{"subset": "ml", "index": 2, "resp')
    second = run_generation(str(tiny_llm), data, out, "0shot", "ml,cl", None, **kwargs)
    after = responses.read_bytes()
    assert after.startswith(before)  # earlier lines untouched
    added = _jsonl(responses)[len(lines) :]
    assert sorted(r["index"] for r in added) == [2, 3, 4] and {r["subset"] for r in added} == {"ml"}
    assert (second.generated, second.already_done) == (3, 3)
    assert second.score is not None and second.score.scored == 6
    assert json.loads((out / "table.json").read_text())["coverage"]["ml"] == {"scored": 5, "total": 5}

    third = run_generation(str(tiny_llm), data, out, "0shot", "ml,cl", None, **kwargs)
    assert third.generated == 0 and responses.read_bytes() == after


def test_other_model_or_setting_is_refused(tiny_llm: Path, tmp_path: Path) -> None:
    data, out = _surge_folder(tmp_path / "surge", n_ml=2), tmp_path / "out"
    kwargs = dict(max_new_tokens=4, compare=None, chart=False, progress=False)
    run_generation(str(tiny_llm), data, out, "0shot", "ml", 1, **kwargs)
    before = (out / "responses.jsonl").read_bytes()
    with pytest.raises(GenerationError, match=r"responses\.jsonl was written for .*setting '0shot'"):
        run_generation(str(tiny_llm), data, out, "cot", "ml", None, **kwargs)
    other = shutil.copytree(tiny_llm, tmp_path / "other")
    with pytest.raises(GenerationError, match=r"responses\.jsonl was written for model"):
        run_generation(str(other), data, out, "0shot", "ml", None, **kwargs)
    assert (out / "responses.jsonl").read_bytes() == before
    # the CLI says so and exits 2
    args = ["eval", "surge", "--model", str(other), "--data", str(data), "--subsets", "ml", "--out", str(out)]
    assert main([*args, "--quiet", "--no-chart", "--max-new-tokens", "4"]) == 2


def test_too_long_prompts_are_recorded_and_scored_zero(tmp_path: Path) -> None:
    short_llm = save_tiny_chat_llm(tmp_path / "short", context=96)
    data, out = _surge_folder(tmp_path / "surge", n_ml=2), tmp_path / "out"
    records = json.loads((data / "ml.json").read_text())
    records[1]["question"] = "print('a long line of code that does not fit')\n" * 4
    records[0]["gt"] = ""  # an empty reply can match the empty answer; a skipped item never scores
    (data / "ml.json").write_text(json.dumps(records))
    kwargs = dict(max_new_tokens=8, compare=None, chart=False, progress=False)
    summary = run_generation(str(short_llm), data, out, "0shot", "ml", None, **kwargs)
    assert (summary.too_long, summary.generated) == (1, 1)
    by_index = {r["index"]: r for r in _jsonl(out / "responses.jsonl")}
    assert by_index[1]["response"] is None and by_index[1]["skipped"] == "prompt_too_long"
    assert by_index[1]["prompt_tokens"] > 96 - 8 and by_index[1]["context"] == 96
    assert by_index[0]["prompt_tokens"] <= 96 - 8 and "skipped" not in by_index[0]
    scores = {r["index"]: r["score"] for r in _jsonl(out / "scores.jsonl")}
    assert scores[1] == 0.0 and set(scores) == {0, 1}


def test_graph_llm_and_run_directories(tiny_llm: Path, tmp_path: Path) -> None:
    from galla.config import AdapterConfig, EncoderConfig, ModelConfig
    from galla.model import GraphLLM

    encoder = EncoderConfig(name="duplex", hidden_dim=16, out_dim=16, node_features="learned", kind_dim=8)
    config = ModelConfig(llm=str(tiny_llm), encoder=encoder, adapter=AdapterConfig(num_tokens=4, num_heads=4))
    final = tmp_path / "run" / "final"
    GraphLLM.from_llm(*load_llm(str(tiny_llm)), config).save_pretrained(final)  # as galla train writes it
    assert (final / "galla_config.json").is_file() and (final / "encoder.safetensors").is_file()
    assert resolve_model(str(final)) == str((final / "llm").resolve())
    assert model_label(resolve_model(str(final))) == "run/final"
    assert resolve_model(str(tmp_path / "run")) == str((final / "llm").resolve())  # no export/: final/
    shutil.copytree(tiny_llm, tmp_path / "run" / "export")
    assert resolve_model(str(tmp_path / "run")) == str((tmp_path / "run" / "export").resolve())
    assert resolve_model("smollm2-135m") == "smollm2-135m" and model_label("org/name") == "org/name"
    for stage in ("stage1", "stage2", "stage10"):  # a multi-stage run (the default `galla train`): last stage
        shutil.copytree(tiny_llm, tmp_path / "multi" / stage / "export")
    last = tmp_path / "multi" / "stage10" / "export"
    assert resolve_model(str(tmp_path / "multi")) == str(last.resolve())
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenerationError, match="not a model directory"):
        resolve_model(str(tmp_path / "empty"))
    data = _surge_folder(tmp_path / "surge", n_ml=1)
    kwargs = dict(max_new_tokens=3, compare=None, chart=False, progress=False)
    summary = run_generation(str(final), data, tmp_path / "o", "0shot", "ml", None, **kwargs)
    assert summary.generated == 1 and summary.score is not None and summary.score.row.name == "run/final"


# --- the CLI on real data --------------------------------------------------------------------------


@needs_real_data
def test_cli_end_to_end_on_real_items(tiny_llm: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    args = ["eval", "surge", "--model", str(tiny_llm), "--data", str(REAL_DATA), "--setting", "cot"]
    args += ["--subsets", "ml,cl", "--limit", "1", "--batch-size", "2", "--max-new-tokens", "8", "--quiet"]
    assert main([*args, "--out", str(out), "--no-chart"]) == 0
    err = capsys.readouterr().err
    assert "generated 2 of 2 selected items" in err and "SURGE · tiny" in err
    lines = _jsonl(out / "responses.jsonl")
    assert sorted((r["subset"], r["index"]) for r in lines) == [("cl", 0), ("ml", 0)]
    items = load_surge(REAL_DATA, ["ml", "cl"])
    for r in lines:
        item = items[r["subset"]][r["index"]]
        assert r["setting"] == "cot" and r["prompt_tokens"] > len(item.question) // 4
        assert isinstance(r["response"], str) and r["new_tokens"] <= 8
    table = json.loads((out / "table.json").read_text())
    assert table["coverage"] == {"ml": {"scored": 1, "total": 150}, "cl": {"scored": 1, "total": 150}}
    assert table["rows"][0]["setting"] == "cot" and len(table["rows"]) == 6
    assert main([*args, "--out", str(out), "--no-chart"]) == 0  # resumed: nothing left to do
    assert "generated 0 of 2 selected items" in capsys.readouterr().err
    assert len(_jsonl(out / "responses.jsonl")) == 2
