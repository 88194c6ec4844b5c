"""The training loop end to end on a tiny local LLM: every method x parameterisation, resume, NaN stop."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tiny import TINY_ENCODER

from galla.model import GraphLLM
from galla.train.checkpoint import latest_checkpoint
from galla.train.trainer import Trainer, TrainingError, train


def _weights(run_dir) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run_dir) / "model.safetensors")


@pytest.mark.parametrize("kind", ["full", "lora", "svft"])
def test_sft_two_steps_per_parameterisation(make_cfg, sft_file, kind):
    cfg = make_cfg(data={"text": [str(sft_file)]}, params={"kind": kind})
    result = train(cfg)
    assert result.steps == 2 and all(math.isfinite(x) for x in result.losses)
    s = result.summary
    assert s["recipe"] == "sft" and s["method"] == "lm" and s["params"] == kind
    if kind == "lora":  # 2 layers x 7 linears x r (in + out)
        assert cfg.run.out_dir and (result.out_dir / "lora_adapter" / "adapter_config.json").exists()
    saved = _weights(result.out_dir)
    assert not any(k.startswith(("encoder.", "adapter.")) for k in saved)  # text-only: graph path frozen
    if kind == "svft":
        assert any(k.endswith(".U") for k in saved) and any(k.endswith(".m") for k in saved)
    # final/ is a loadable GraphLLM with the update merged (plain Linear weights)
    model = GraphLLM.from_pretrained(result.out_dir / "final")
    assert model.llm.config.num_hidden_layers == 2


def test_trainable_counts_follow_parameterisation(make_cfg, sft_file):
    counts = {}
    for kind in ("full", "lora", "svft"):
        t = Trainer(
            make_cfg(
                data={"text": [str(sft_file)]},
                params={"kind": kind, "lora": {"r": 4}, "svft": {"pattern": "plain"}},
            )
        )
        counts[kind] = t.params.trainable()
    # LoRA r=4 on 2 layers: q,o (32x32), k,v (16x32), gate,up (64x32), down (32x64): r * (in + out)
    lora = 2 * 4 * (2 * (32 + 32) + 2 * (32 + 16) + 2 * (32 + 64) + (64 + 32))
    svft = 2 * (32 + 32 + 16 + 16 + 32 + 32 + 32)  # plain: min(d_out, d_in) per matrix
    assert counts["lora"] == lora and counts["svft"] == svft and counts["full"] > lora


def test_stage1_trains_graph_path_only_then_stage2_loads_it(make_cfg, graph_dir, sft_file, tmp_path):
    s1 = make_cfg(
        data={"graphs": [str(graph_dir)], "graph_tasks": ["graph2code"]},
        model={"llm_trainable": False},
        run={"out_dir": str(tmp_path / "s1"), "progress": False},
    )
    r1 = train(s1)
    assert r1.summary["recipe"] == "galla-stage1"
    saved = _weights(r1.out_dir)
    assert saved and all(k.startswith(("encoder.", "adapter.")) for k in saved)
    s1_model = GraphLLM.from_pretrained(r1.out_dir / "final")
    base = GraphLLM.from_config(s1.model)
    for (name, a), b in zip(s1_model.llm.state_dict().items(), base.llm.state_dict().values(), strict=True):
        assert torch.equal(a, b), f"stage 1 changed the frozen LLM weight {name}"

    s2 = make_cfg(
        init_from=str(r1.out_dir / "final"),
        data={"graphs": [str(graph_dir)], "graph_tasks": ["graph2code", "graph_qa"], "text": [str(sft_file)]},
        run={"out_dir": str(tmp_path / "s2"), "progress": False},
        optim={"max_steps": 0, "epochs": 1.0, "batch_size": 2},
    )
    t2 = Trainer(s2)
    for name, p in t2.model.adapter.state_dict().items():
        assert torch.equal(p, s1_model.adapter.state_dict()[name])
    kinds = {r for stream, _ in t2.plan.epoch(0) for r in [stream]}
    assert kinds == {"graph", "text"}
    assert t2.graph_scale == min(t2.n_batches["text"] / t2.n_batches["graph"], 1.0)
    r2 = t2.fit()
    assert r2.summary["recipe"] == "galla-stage2" and r2.steps == t2.steps_per_epoch
    assert {"graph", "text"} <= set(r2.summary["samples"])


@pytest.mark.parametrize(
    ("kind", "reference"), [("full", "precompute"), ("full", "copy"), ("lora", "auto"), ("svft", "auto")]
)
def test_dpo_starts_at_ln2(make_cfg, dpo_file, kind, reference):
    cfg = make_cfg(
        data={"preference": [str(dpo_file)]},
        params={"kind": kind},
        dpo={"reference": reference},
        optim={"lr": 1e-3, "max_steps": 2, "batch_size": 2},
    )
    result = train(cfg)
    assert result.summary["method"] == result.summary["recipe"] == "dpo"
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-5)
    assert math.isfinite(result.losses[1])
    if reference == "precompute":
        assert (result.out_dir / "ref_logps.safetensors").exists()


def test_resume_reaches_the_same_weights(make_cfg, graph_dir, sft_file, tmp_path):
    def cfg(out):
        return make_cfg(
            data={
                "graphs": [str(graph_dir)],
                "graph_tasks": ["graph2code", "graph_qa"],
                "text": [str(sft_file)],
            },
            model={"encoder": {**TINY_ENCODER, "dropout": 0.5}},
            optim={"max_steps": 6, "batch_size": 2, "grad_accum": 2, "warmup_steps": 2},
            run={"out_dir": str(out), "save_every": 2, "progress": False},
        )

    full = train(cfg(tmp_path / "full"))
    with pytest.raises(TrainingError, match="--resume"):  # a second start never overwrites a run
        train(cfg(tmp_path / "full"))
    part = train(cfg(tmp_path / "part"), stop_after=3)  # as if killed after step 3: newest checkpoint is 2
    assert part.steps == 3 and latest_checkpoint(tmp_path / "part").name == "step-000002"
    resumed = train(cfg(tmp_path / "part"), resume=True)
    assert resumed.losses == full.losses
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_rejects_a_changed_config(make_cfg, sft_file, tmp_path):
    train(
        make_cfg(
            data={"text": [str(sft_file)]},
            run={"out_dir": str(tmp_path / "r"), "save_every": 1, "progress": False},
        ),
        stop_after=1,
    )
    changed = make_cfg(
        data={"text": [str(sft_file)]},
        optim={"lr": 5e-4},
        run={"out_dir": str(tmp_path / "r"), "save_every": 1, "progress": False},
    )
    with pytest.raises(TrainingError, match=r"optim\.lr"):
        train(changed, resume=True)


def test_non_finite_loss_stops_with_a_checkpoint(make_cfg, sft_file):
    cfg = make_cfg(
        data={"text": [str(sft_file)]}, optim={"lr": 1e12, "min_lr": 1e12, "max_steps": 8, "grad_clip": 0.0}
    )
    with pytest.raises(TrainingError, match="non-finite") as err:
        train(cfg)
    ck = latest_checkpoint(cfg.run.out_dir and __import__("pathlib").Path(cfg.run.out_dir))
    assert ck is not None and str(ck) in str(err.value)
    assert all(torch.isfinite(t).all() for t in load_file(ck / "model.safetensors").values())


def test_bad_inputs_name_the_key(make_cfg, tmp_path, sft_file):
    from galla.config import ConfigError

    with pytest.raises(ConfigError, match=r"data\.text"):
        Trainer(make_cfg(data={"text": [str(tmp_path / "missing.jsonl")]}))
    with pytest.raises(TrainingError, match="max_length"):
        Trainer(make_cfg(data={"text": [str(sft_file)], "max_length": 8}))
    with pytest.raises(TrainingError, match="batch_size"):
        Trainer(make_cfg(data={"text": [str(sft_file)]}, optim={"batch_size": 64}))


def test_stage2_with_lora_on_the_llm(make_cfg, graph_dir, sft_file):
    """The official stage-2 option: LoRA on the LLM while the encoder and adapter train fully."""
    cfg = make_cfg(
        data={"graphs": [str(graph_dir)], "graph_tasks": ["graph_qa"], "text": [str(sft_file)]},
        params={"kind": "lora", "lora": {"r": 2}},
        optim={"max_steps": 3},
    )
    t = Trainer(cfg)
    trainable = {n.split(".")[0] for n, p in t.model.named_parameters() if p.requires_grad}
    assert trainable == {"llm", "encoder", "adapter"}
    assert all("lora_" in n for n, p in t.model.llm.named_parameters() if p.requires_grad)
    before = {n: p.detach().clone() for n, p in t.model.encoder.named_parameters()}
    result = t.fit()
    assert result.summary["recipe"] == "galla-stage2"
    saved = _weights(result.out_dir)
    assert any(not torch.equal(saved[f"encoder.{n}"], b) for n, b in before.items())


def test_init_from_must_be_a_graphllm_dir(make_cfg, sft_file, tmp_path):
    from galla.config import ConfigError

    with pytest.raises(ConfigError, match="init_from"):
        Trainer(make_cfg(data={"text": [str(sft_file)]}, init_from=str(tmp_path)))


def _stage1_dir(tiny_llm, tmp_path):
    from galla.config import ModelConfig

    cfg = ModelConfig.from_dict(
        {"llm": str(tiny_llm), "encoder": TINY_ENCODER, "adapter": {"num_tokens": 3, "num_heads": 4}}
    )
    return GraphLLM.from_config(cfg).save_pretrained(tmp_path / "stage1" / "final")


def test_init_from_settings_are_what_config_yaml_records(make_cfg, tiny_llm, graph_dir, sft_file, tmp_path):
    """Issue 17: init_from's encoder and adapter replace the config's, and config.yaml says so."""
    src = _stage1_dir(tiny_llm, tmp_path)
    data = {"graphs": [str(graph_dir)], "text": [str(sft_file)]}
    cfg = make_cfg(model={"llm": str(tiny_llm), "encoder": {}, "adapter": {}}, init_from=str(src), data=data,
                   optim={"max_steps": 1})  # fmt: skip
    assert cfg.model.adapter.num_tokens == 256  # the default, which init_from decides
    result = train(cfg)
    written = yaml.safe_load((result.out_dir / "config.yaml").read_text())["model"]
    assert written["adapter"] == {"name": "cross_attention", "num_tokens": 3, "num_heads": 4}
    assert written["encoder"] == json.loads((src / "galla_config.json").read_text())["config"]["encoder"]
    state = json.loads((latest_checkpoint(result.out_dir) / "trainer_state.json").read_text())
    assert state["config"]["model"]["adapter"]["num_tokens"] == 3
    final = json.loads((result.out_dir / "final" / "galla_config.json").read_text())["config"]
    assert final["adapter"]["num_tokens"] == 3


def test_init_from_refuses_a_conflicting_explicit_setting(make_cfg, tiny_llm, sft_file, tmp_path):
    from galla.config import ConfigError

    src = _stage1_dir(tiny_llm, tmp_path)
    cfg = make_cfg(model={"llm": str(tiny_llm), "adapter": {"num_tokens": 8}}, init_from=str(src),
                   data={"text": [str(sft_file)]})  # fmt: skip
    with pytest.raises(ConfigError, match=r"model\.adapter\.num_tokens: 8 in the config, 3 in init_from"):
        Trainer(cfg)
    assert not (tmp_path / "run").exists()  # refused at start-up, before the run directory


def test_init_from_with_node_text_is_refused_up_front(make_cfg, tiny_llm, graph_dir, tmp_path):
    from galla.config import ConfigError

    src = _stage1_dir(tiny_llm, tmp_path)
    meta = json.loads((src / "galla_config.json").read_text())
    meta["config"]["encoder"]["node_text"] = True  # a GraphLLM saved from the Python API with node text
    (src / "galla_config.json").write_text(json.dumps(meta))
    cfg = make_cfg(model={"llm": str(tiny_llm), "encoder": {}, "adapter": {}}, init_from=str(src),
                   data={"graphs": [str(graph_dir)]})  # fmt: skip
    with pytest.raises(ConfigError, match=r"encoder\.node_text: true .*init_from's galla_config\.json"):
        Trainer(cfg)
    assert not (tmp_path / "run").exists()


def test_held_out_evaluation(make_cfg, sft_file):
    cfg = make_cfg(data={"text": [str(sft_file)]}, optim={"lr": 1e-2, "max_steps": 6},
                   run={"eval_samples": 3, "eval_every": 3})  # fmt: skip
    t = Trainer(cfg)
    assert len(t.held_out["text"]) == 3 and len(t.streams["text"]) == 13
    assert not {id(e) for e in t.held_out["text"]} & {id(e) for e in t.streams["text"]}
    evals = t.fit().summary["eval"]
    assert [e["step"] for e in evals] == [0, 3, 6]
    assert evals[-1]["text"] < evals[0]["text"]  # the shared answer pattern generalises to held-out rows


def test_held_out_evaluation_is_on_by_default(make_cfg, sft_file):
    """Issue 17: by default a fifth of a small stream (at most 32 samples) is held out, evaluated every
    tenth of the run; eval_every=0 keeps only the start and the end."""
    t = Trainer(make_cfg(data={"text": [str(sft_file)]}, optim={"max_steps": 25}))
    assert len(t.held_out["text"]) == 3 and t.eval_every == 3
    t._release()
    t = Trainer(make_cfg(data={"text": [str(sft_file)]}, run={"eval_every": 0}))
    assert t.eval_every == 0
    t._release()


def test_sharded_strategies_are_refused_up_front():
    from accelerate.utils import DistributedType

    from galla.train.trainer import check_strategy

    for ok in (DistributedType.NO, DistributedType.MULTI_CPU, DistributedType.MULTI_GPU):
        check_strategy(ok)
    for bad in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        with pytest.raises(TrainingError, match=f"{bad.value}.*run.strategy=fsdp"):
            check_strategy(bad)


@pytest.mark.parametrize("stage", ["sft", "stage1"])
def test_gradient_checkpointing_changes_nothing_but_memory(make_cfg, graph_dir, sft_file, tmp_path, stage):
    data = (
        {"text": [str(sft_file)]}
        if stage == "sft"
        else {"graphs": [str(graph_dir)], "graph_tasks": ["graph2code"]}
    )
    runs = {}
    for gc in (False, True):
        cfg = make_cfg(
            data=data,
            model={
                "encoder": {**TINY_ENCODER, "dropout": 0.0},
                "llm_trainable": stage == "sft",
                "gradient_checkpointing": gc,
            },
            run={"out_dir": str(tmp_path / f"gc{gc}"), "progress": False, "export": False},
        )
        runs[gc] = (train(cfg).losses, _weights(tmp_path / f"gc{gc}"))
    (l0, w0), (l1, w1) = runs[False], runs[True]
    assert l1 == pytest.approx(l0, rel=1e-5)
    assert w0.keys() == w1.keys() and all(torch.allclose(w0[k], w1[k], atol=1e-6) for k in w0)


def test_bf16_autocast_runs_and_tracks_fp32(make_cfg, sft_file, tmp_path):
    """bf16 autocast (on CPU here): in a fresh process per precision, as accelerate's state is global."""
    cfg = make_cfg(data={"text": [str(sft_file)]}, optim={"max_steps": 3})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    losses = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        cmd = [sys.executable, "-m", "galla.cli", "train", str(path), f"run.precision={precision}"]
        proc = subprocess.run([*cmd, f"run.out_dir={out}"], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        losses[precision] = json.loads((latest_checkpoint(out) / "trainer_state.json").read_text())["losses"]
    assert all(math.isfinite(x) for x in losses["bf16"])
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)  # bf16 keeps ~3 significant digits
    assert losses["bf16"] != losses["fp32"]  # autocast really ran in bf16


def test_step_by_hand_matches_fit(make_cfg, sft_file, tmp_path):
    """``start()`` + ``step()`` (what benchmarks/train_speed.py drives) is ``fit``'s loop, step for step."""
    seen = []

    def parameterise(model, pcfg, **kw):
        from galla.train.params import apply_params

        seen.append(pcfg.kind)
        return apply_params(model, pcfg, **kw)

    cfg = make_cfg(data={"text": [str(sft_file)]}, run={"out_dir": str(tmp_path / "a"), "progress": False})
    t = Trainer(cfg, parameterise=parameterise)
    assert seen == ["full"]
    steps = [t.step(), t.step()]
    assert [r.step for r in steps] == [1, 2] and t.done == 2
    assert all(r.micro and r.tokens > 0 and "grad_norm" in r.metrics for r in steps)
    assert all(0 < r.optimizer_seconds <= r.seconds for r in steps)
    t._release()
    fitted = train(make_cfg(data={"text": [str(sft_file)]}, run={"out_dir": str(tmp_path / "b")}))
    assert [r.loss for r in steps] == fitted.losses


def test_export_keeps_a_16_bit_llm_in_16_bits(tiny_llm, tmp_path):
    """Issue 17: an LLM stored in bfloat16 and trained in float32 on CPU is exported in bfloat16."""
    from galla.config import ModelConfig
    from galla.model.llm import load_llm

    llm, tok = load_llm(str(tiny_llm), dtype="bfloat16")
    llm.save_pretrained(tmp_path / "bf16")
    tok.save_pretrained(tmp_path / "bf16")
    cfg = ModelConfig.from_dict({"llm": str(tmp_path / "bf16"), "encoder": TINY_ENCODER,
                                 "adapter": {"num_tokens": 4, "num_heads": 4}})  # fmt: skip
    model = GraphLLM.from_config(cfg)
    assert next(model.llm.parameters()).dtype == torch.float32  # auto on CPU
    out = model.save_pretrained(tmp_path / "final")
    saved = load_file(out / "llm" / "model.safetensors")
    assert {v.dtype for v in saved.values()} == {torch.bfloat16}
    assert json.loads((out / "llm" / "config.json").read_text())["dtype"] == "bfloat16"
    for k, v in model.llm.state_dict().items():
        assert torch.equal(saved[k], v.to(torch.bfloat16)), k
    assert next(model.llm.parameters()).dtype == torch.float32  # the model itself is not cast
    back = GraphLLM.from_pretrained(out)
    assert torch.equal(back.llm.get_input_embeddings().weight, model.llm.get_input_embeddings().weight)
    # a float32 LLM stays float32
    plain = GraphLLM.from_config(dataclasses_replace(cfg, llm=str(tiny_llm))).export(tmp_path / "plain")
    assert {v.dtype for v in load_file(plain / "model.safetensors").values()} == {torch.float32}


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)
