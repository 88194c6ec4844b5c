"""SURGE generation speed: batched, left-padded greedy decoding against one item at a time.

Run from the repository root (SmolLM2 ships offline; its first use converts the GGUF, about a minute)::

    python benchmarks/surge_speed.py --json runs/surge_speed.json
    python benchmarks/surge_speed.py --items 32 --batch-size 16 --max-new-tokens 32

Both sides run ``galla.eval.surge.generate.generate_batched`` on the same model (default
``smollm2-135m``, fp32 on CPU, sdpa attention), the same prompts (the first ``--items`` items of
``--subset`` in ``--setting``, rendered through the chat template) and the same greedy settings with the
same ``--max-new-tokens`` cap: once with ``--batch-size`` prompts per call, once with one prompt per call.
The prompts are sorted by length (as ``galla eval surge`` does) and cut into chunks of ``--batch-size``;
for each chunk both sides run back to back, alternating which goes first, so drift of a shared CPU hits
both alike. Timed: the ``generate`` calls with tensor set-up and decoding of the replies (wall clock);
model loading, tokenisation and one short warm-up call are excluded. A batch runs until its longest
reply stops, so the batched side decodes more (padded) steps than the sequential side.

Reported: items/s and new tokens/s of each side, the ratio batched / sequential of items/s (target
>= 3 on CPU) and how many replies agree exactly (greedy decoding of a padded batch may differ in the
last bits of float arithmetic, which can flip a near-tie).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("GALLA_SURGE_DATA", REPO.parent / "shared" / "data" / "surge"))
TARGET = 3.0
"""Batched items/s over one-at-a-time items/s, on CPU."""


def measure(
    model: Any,
    tokenizer: Any,
    prompts: list[Any],
    max_new_tokens: int,
    batch_size: int,
) -> dict[str, Any]:
    """Time both sides chunk by chunk (alternating order) and compare their replies."""
    from galla.eval.surge.generate import generate_batched

    ordered = sorted(prompts, key=lambda p: (-len(p.input_ids), p.subset, p.index))
    list(generate_batched(model, tokenizer, ordered[-1:], 2, 1))  # warm-up
    sides: dict[str, dict[str, Any]] = {
        "batched": {"seconds": 0.0, "new_tokens": 0, "replies": {}},
        "sequential": {"seconds": 0.0, "new_tokens": 0, "replies": {}},
    }
    padded = real = 0
    for n, start in enumerate(range(0, len(ordered), batch_size)):
        chunk = ordered[start : start + batch_size]
        padded += len(chunk) * max(len(p.input_ids) for p in chunk)
        real += sum(len(p.input_ids) for p in chunk)
        order = [("batched", batch_size), ("sequential", 1)]
        for side, size in order if n % 2 == 0 else order[::-1]:
            began = time.perf_counter()
            out = [
                g for batch in generate_batched(model, tokenizer, chunk, max_new_tokens, size) for g in batch
            ]
            sides[side]["seconds"] += time.perf_counter() - began
            sides[side]["new_tokens"] += sum(g.new_tokens for g in out)
            sides[side]["replies"].update({(g.prompt.subset, g.prompt.index): g.response for g in out})
    result: dict[str, Any] = {}
    for side, s in sides.items():
        result[side] = {
            "seconds": round(s["seconds"], 3),
            "items_per_s": round(len(prompts) / s["seconds"], 4),
            "new_tokens": s["new_tokens"],
            "new_tokens_per_s": round(s["new_tokens"] / s["seconds"], 2),
        }
    replies = sides["batched"]["replies"], sides["sequential"]["replies"]
    result["agree"] = sum(replies[0][k] == replies[1][k] for k in replies[1])
    result["items"] = len(prompts)
    result["prompt_tokens"] = real
    result["padding_fraction"] = round(1 - real / padded, 4)
    ratio = result["batched"]["items_per_s"] / result["sequential"]["items_per_s"]
    result["ratio"] = round(ratio, 3)
    result["target"] = TARGET
    result["met"] = ratio >= TARGET
    return result


def print_report(res: dict[str, Any]) -> None:
    cfg = res["config"]
    print(
        f"SURGE generation speed: {cfg['model']}, {res['items']} {cfg['subset']} items ({cfg['setting']}), "
        f"max_new_tokens {cfg['max_new_tokens']}, batch {cfg['batch_size']}, {cfg['device']}, "
        f"{cfg['torch_threads']} torch threads"
    )
    for side in ("batched", "sequential"):
        r = res[side]
        print(
            f"  {side:10s} {r['seconds']:9.1f} s  {r['items_per_s']:7.3f} items/s  "
            f"{r['new_tokens']:6d} new tokens  {r['new_tokens_per_s']:7.1f} tokens/s"
        )
    verdict = "met" if res["met"] else "NOT met"
    print(f"  batched / sequential items/s: {res['ratio']:.2f}  (target >= {res['target']:g}: {verdict})")
    print(
        f"  replies identical: {res['agree']}/{res['items']}; padding {100 * res['padding_fraction']:.1f}% "
        f"of the batched prompt tokens"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m", help="any load_llm spec (default smollm2-135m)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"SURGE folder (default {DEFAULT_DATA})")
    ap.add_argument("--subset", default="ml")
    ap.add_argument("--setting", default="0shot", choices=("0shot", "cot", "3shot"))
    ap.add_argument("--items", type=int, default=16, help="first N items of the subset (16)")
    ap.add_argument("--batch-size", type=int, default=8, help="prompts per batched call (8)")
    ap.add_argument("--max-new-tokens", type=int, default=64, help="cap on both sides (64)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--json", type=Path, help="write the result here")
    args = ap.parse_args(argv)

    import torch

    from galla.eval.surge.data import load_surge
    from galla.eval.surge.generate import build_prompts
    from galla.model.llm import load_llm

    if args.threads:
        torch.set_num_threads(args.threads)
    items = load_surge(args.data, [args.subset])[args.subset][: args.items]
    model, tokenizer = load_llm(args.model, device=args.device)
    model.eval()
    prompts = build_prompts(items, tokenizer, args.setting)
    load_before = os.getloadavg()
    res = measure(model, tokenizer, prompts, args.max_new_tokens, args.batch_size)
    res["config"] = {
        "model": args.model,
        "subset": args.subset,
        "setting": args.setting,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "device": args.device,
        "dtype": str(model.dtype),
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    print_report(res)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
