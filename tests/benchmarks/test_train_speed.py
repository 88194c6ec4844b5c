"""benchmarks/train_speed.py: the helpers (summaries, verdicts, records, memory probes), no timings."""

from __future__ import annotations

import pytest

from benchmarks.train_speed import (
    TARGETS,
    StepTime,
    frozen_storage,
    hwm_bytes,
    parse_args,
    report,
    reset_hwm,
    rss_bytes,
    ru_maxrss_bytes,
    summarise,
    trl_record,
    verdict,
)


def test_summarise_skips_warmup_and_splits_streams() -> None:
    steps = [
        StepTime(100.0, 10, 4),  # warm-up: left out
        StepTime(2.0, 1000, 4, "text", optimizer_s=0.5, cpu_s=4.0),
        StepTime(3.0, 500, 4, "graph", optimizer_s=0.5, cpu_s=6.0),
    ]
    s = summarise(steps)
    assert s["steps"] == 2 and s["seconds"] == 5.0 and s["tokens"] == 1500
    assert s["tokens_per_s"] == 300.0 and s["s_per_1k_tokens"] == pytest.approx(5000 / 1500, abs=1e-4)
    assert s["tokens_per_sample"] == 187.5 and s["optimizer_s_per_step"] == 0.5
    g = summarise(steps, stream="graph")
    assert g["steps"] == 1 and g["s_per_1k_tokens"] == 6.0
    assert summarise(steps[:1]) == {"steps": 0}
    assert summarise(steps, skip=0)["steps"] == 3


def test_verdicts_follow_the_direction_of_each_target() -> None:
    assert verdict("sft_vs_trl", 1.0) == "met" and verdict("sft_vs_trl", 0.99) == "NOT met"
    assert verdict("stage2_vs_sft", 1.15) == "met" and verdict("stage2_vs_sft", 1.2) == "NOT met"
    assert verdict("svft_vs_lora", 1.5) == "NOT met"
    assert set(TARGETS) == {"sft_vs_trl", "stage2_vs_sft", "svft_vs_lora"}


def test_frozen_storage_counts_u_and_vt() -> None:
    # square 576x576: U and Vt are twice W0; 192x576 (k_proj): n=192, 192*(192+576)
    s = frozen_storage([(576, 576), (192, 576)])
    assert s["dense"] == 576 * 576 + 192 * 576
    assert s["svft"] == 576 * 1152 + 192 * 768


def test_trl_record_is_conversational_prompt_completion() -> None:
    rec = trl_record({"task": "sft", "question": "Summarise f.", "answer": "Adds one."})
    assert rec == {
        "prompt": [{"role": "user", "content": "Summarise f."}],
        "completion": [{"role": "assistant", "content": "Adds one."}],
    }


def test_memory_probes() -> None:
    assert 0 < rss_bytes() <= hwm_bytes() and ru_maxrss_bytes() > 0
    block = bytearray(64 << 20)
    block[::4096] = b"x" * (len(block) // 4096)  # touched: 64 MiB resident
    before = hwm_bytes()
    del block
    if reset_hwm():  # the peak drops back to the current RSS
        assert hwm_bytes() < before - (32 << 20)


def test_cli_defaults_and_only() -> None:
    a = parse_args([])
    assert a.steps == 10 and a.batch_size == 4 and a.max_length == 512 and a.only is None
    b = parse_args(["--only", "svft_vs_lora", "--only", "sft_vs_trl", "--steps", "3"])
    assert b.only == ["svft_vs_lora", "sft_vs_trl"] and b.steps == 3
    with pytest.raises(SystemExit):
        parse_args(["--steps", "0"])


def test_report_prints_every_table(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    steps = [StepTime(9.0, 100, 4), StepTime(2.0, 400, 4, "text", 0.5, 3.0, 3.0)]
    graph = [*steps, StepTime(3.0, 300, 4, "graph", 0.5, 3.0, 5.0)]
    s = summarise(steps)
    gib = 1 << 30
    mem = dict.fromkeys(("rss_after_load", "rss_after_apply", "peak_rss_setup"), gib)
    mem |= {"trainable": 10, "apply_s": 0.1, "peak_rss_steps": 2 * gib, "peak_rss": 2 * gib}
    mem["ru_maxrss"] = 3 * gib
    results = {
        "sft_vs_trl": {
            "galla": s, "trl": s | {"trl": "1.16.0", "optim": "adamw_torch_fused"},
            "first_loss": {"galla": 3.0, "trl": 2.9}, "median_paired_step_ratio_galla_over_trl": 1.0,
            "tokens_per_s_without_optimizer": {"galla": 1.0, "trl": 1.0}, "ratio_without_optimizer": 1.0,
            "ratio": 1.0, "verdict": "met", "load_average": [9.0, 9.0],
        },
        "stage2_vs_sft": {
            "stage2": summarise(graph) | {"streams": {"graph": 8, "text": 4}, "trainable": 3,
                                         "encoder_params": 1, "adapter_params": 1},
            "stage2_graph_steps": summarise(graph, stream="graph"),
            "stage2_text_steps": summarise(steps, stream="graph"),  # none: an empty row
            "sft": s | {"trainable": 1}, "ratio": 1.2, "verdict": "NOT met",
        },
        "svft_vs_lora": {
            "lora": s | mem,
            "svft": s | mem | {"target_layers": 2, "frozen_values": frozen_storage([(4, 4)])},
            "peak_rss_steps_ratio": 1.0, "overhead_ratio": 1.0, "step_time_ratio": 1.0,
            "ratio": 1.0, "verdict": "met",
        },
    }  # fmt: skip
    report(results, Console(width=200, force_terminal=False))
    out = capsys.readouterr().out
    for text in ("sft_vs_trl", "stage2_vs_sft", "svft_vs_lora", "NOT met", "other processes shared"):
        assert text in out
