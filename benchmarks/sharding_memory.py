"""Memory per process of ``run.strategy=fsdp`` against DDP, two processes, same run.

Run from the repository root (about 3 minutes on 2 CPU cores)::

    python benchmarks/sharding_memory.py --json runs/sharding_memory.json

Each strategy is one ``accelerate launch --multi_gpu --num_processes 2`` of ``galla train`` (CPU, gloo):
SmolLM2-135M-Instruct, full fine-tuning in fp32 on the embedded default's docstring SFT data, batch 2 per
process, ``data.max_length`` 256, ``--steps`` optimizer steps. Every process loads the whole model, then
resets its peak (``/proc/self/clear_refs``) and records the peak resident memory of the training steps
(``VmHWM``) and its losses; no checkpoint is written inside the measured window. DDP keeps
the parameters, gradients and both AdamW moments whole on every process; FSDP2 keeps 1/N of each (plus
the layer being gathered).
It also counts the bytes of training state each process holds (its parameters or their shards, one
gradient per trainable parameter, the AdamW moments): FSDP2 keeps 1/N of each. RSS falls by less, since
the whole model was loaded first and freed memory stays with the allocator. The two strategies must
report the same losses (relative 1e-4).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _state_bytes(trainer) -> int:
    """Bytes this process holds of the training state: its parameters, a gradient per trainable one and
    the AdamW moments (under FSDP, the local shards)."""
    from torch.distributed.tensor import DTensor

    def local(t):
        return t.to_local() if isinstance(t, DTensor) else t

    params = [p for p in trainer.model.parameters()]
    total = sum(local(p).nbytes for p in params) + sum(local(p).nbytes for p in params if p.requires_grad)
    for state in trainer.optimizer.state.values():
        total += sum(local(v).nbytes for v in state.values() if hasattr(v, "nbytes") and v.dim() > 0)
    return total


def worker(config: str, out: str, steps: int) -> int:
    """One process of a launch: load, reset the peak, run ``steps`` steps, write this rank's numbers."""
    from galla.train.config import load_config
    from galla.train.trainer import Trainer

    trainer = Trainer(load_config(config))  # the whole model is loaded on every process here
    loaded = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS, so the peak below is the training steps' own
    result = trainer.fit(stop_after=steps)  # max_steps is one more: no final checkpoint or export
    info = {
        "rank": trainer.rank,
        "state_mb": round(_state_bytes(trainer) / 2**20),
        "rss_after_load_mb": round(loaded),
        "peak_rss_steps_mb": round(_status_mb("VmHWM")),
        "losses": result.losses,
        "seconds": result.seconds,
    }
    Path(out, f"rank{trainer.rank}.json").write_text(json.dumps(info))
    return 0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker, args.steps)
    import yaml

    from galla.recipes.default import default_data

    tmp = Path(tempfile.mkdtemp(prefix="galla-sharding-"))
    _, text = default_data(REPO / "runs" / "default-data")
    rows = {}
    for strategy in ("ddp", "fsdp"):
        out = tmp / strategy
        out.mkdir()
        cfg = {
            "name": f"sharding-{strategy}",
            "model": {"llm": "smollm2-135m"},
            "data": {"text": [str(text)], "max_length": 256},
            "optim": {"max_steps": args.steps + 1, "batch_size": 2, "warmup_steps": 0, "lr": 1e-5},
            "run": {"out_dir": str(out / "run"), "progress": False, "export": False, "strategy": strategy},
        }
        path = out / "cfg.yaml"
        path.write_text(yaml.safe_dump(cfg))
        cmd = [
            *("accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"),
            *("--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_port())),
            __file__, "--steps", str(args.steps), "--worker", str(path), str(out),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if proc.returncode:
            raise SystemExit(f"{strategy} failed:\n{proc.stderr[-3000:]}")
        ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
        row = rows[strategy] = {
            "state_mb": [r["state_mb"] for r in ranks],
            "rss_after_load_mb": [r["rss_after_load_mb"] for r in ranks],
            "peak_rss_steps_mb": [r["peak_rss_steps_mb"] for r in ranks],
            "losses": ranks[0]["losses"],
            "step_seconds": round(ranks[0]["seconds"], 1),
        }
        print(
            f"{strategy:5s} training state {row['state_mb']} MB, RSS after loading "
            f"{row['rss_after_load_mb']} MB, peak during the steps {row['peak_rss_steps_mb']} MB, "
            f"{row['step_seconds']} s of steps"
        )
    d, f = rows["ddp"], rows["fsdp"]
    same = all(abs(a - b) <= 1e-4 * abs(a) for a, b in zip(d["losses"], f["losses"], strict=True))
    ratio = max(f["peak_rss_steps_mb"]) / max(d["peak_rss_steps_mb"])
    print(f"losses {[round(x, 4) for x in d['losses']]} / {[round(x, 4) for x in f['losses']]}: same {same}")
    state = max(f["state_mb"]) / max(d["state_mb"])
    print(f"training state per process, fsdp / ddp: {state:.3f}")
    print(f"peak RSS per process during the steps, fsdp / ddp: {ratio:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "rows": rows,
            "same_losses": same,
            "steps_peak_ratio_fsdp_over_ddp": round(ratio, 3),
            "state_ratio_fsdp_over_ddp": round(state, 3),
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
