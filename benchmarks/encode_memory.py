"""Peak memory and time of turning a graph corpus into training samples, streamed vs all in memory.

Run from the repository root on a ``galla build-graphs`` output::

    STDLIB=$(python -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
    galla build-graphs "$STDLIB" --out runs/stdlib-graphs
    python benchmarks/encode_memory.py runs/stdlib-graphs --max-graphs 10000 --json runs/encode_memory.json

Each side runs in a fresh process (peak RSS = ``ru_maxrss``) with the SmolLM2-135M tokenizer and GALLa
stage-2 data settings (Graph2Code with a question + GraphQA, ``qa_per_graph`` 2):

- **streamed** (what ``galla train`` does): :func:`galla.train.streams.open_streams`, records built
  256 graph rows at a time and encoded as they come;
- **in memory** (the reference): :func:`galla.train.streams.load_streams` holds every row and record as
  Python objects, then the same encoder runs over the list.

- **disk** (``data.encoded: disk``, what ``auto`` picks above 50,000 graph rows): the streamed records
  encoded into a memory-mapped Arrow file (:mod:`galla.train.store`), then every sample read back once
  in batches of 8, as training reads them.

Every side must produce the same samples (checked by a digest of every sample's token ids and graph).
Besides the peak RSS, each side reports its anonymous resident memory at the end (``RssAnon``, the
samples held: the disk side's mapped pages are file-backed and the kernel drops them under pressure).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIDES = ("streamed", "memory", "disk")


def _rss_anon_mb() -> int:
    """This process's anonymous resident memory in MB (Linux), 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return 0


def _side(mode: str, graphs: str, max_graphs: int) -> dict:
    from transformers import AutoTokenizer

    from galla.model.llm import resolve_llm
    from galla.train.config import load_config
    from galla.train.data import Encoder
    from galla.train.streams import load_streams, open_streams

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tok = AutoTokenizer.from_pretrained(resolve_llm("smollm2-135m"))
    tok.add_special_tokens({"additional_special_tokens": ["<graph>"]}, replace_extra_special_tokens=False)
    gid = tok.convert_tokens_to_ids("<graph>")
    cfg = load_config(
        "configs/galla_stage2_smollm2.yaml",
        [f"data.graphs=[{graphs}]", f"data.max_graphs={max_graphs}", "data.text=[]", "init_from=null"],
    )
    enc = Encoder(tok, gid, lambda n: 32, cfg.data.max_length, cfg.data.template, cfg.run.seed)
    t0 = time.perf_counter()
    records = load_streams(cfg)["graph"] if mode == "memory" else open_streams(cfg).graph()
    digest = hashlib.blake2b(digest_size=16)

    def add(ex) -> None:
        digest.update(ex.ids.tobytes())
        digest.update(ex.graph.edge_index.numpy().tobytes())

    examples: list = []
    if mode == "disk":
        from galla.train.store import write_examples

        with tempfile.TemporaryDirectory() as tmp:
            stored, _ = write_examples(enc.encode_stream(records, "graph"), Path(tmp) / "graph.arrow")
            for a in range(0, len(stored), 8):  # as training reads them: a batch at a time
                for ex in stored.take(range(a, min(a + 8, len(stored)))):
                    add(ex)
            n, anon = len(stored), _rss_anon_mb()
            del stored
    else:
        for ex in enc.encode_stream(records, "graph"):  # as the trainer does: 512 records per call
            if ex is not None:
                examples.append(ex)
                add(ex)
        n, anon = len(examples), _rss_anon_mb()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": mode,
        "samples": n,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak / 1024),
        "end_rss_anon_mb": anon,
        "baseline_rss_mb": round(base / 1024),
        "digest": digest.hexdigest(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("graphs", help="a galla build-graphs output directory")
    ap.add_argument("--max-graphs", type=int, default=10000, help="graph rows to use (0: all)")
    ap.add_argument("--json", type=Path, help="write the result here")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(_side(args.side, args.graphs, args.max_graphs)))
        return 0
    rows = {}
    for side in SIDES:
        cmd = [sys.executable, __file__, args.graphs, "--max-graphs", str(args.max_graphs), "--side", side]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{side} side failed:\n{proc.stderr[-3000:]}")
        rows[side] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = rows[side]
        peak = r["peak_rss_mb"]
        anon = r["end_rss_anon_mb"]
        print(
            f"{side:9s} {r['samples']:>8,} samples {r['seconds']:>7.1f} s  peak RSS {peak:>6,} MB"
            f"  anonymous at the end {anon:>6,} MB"
        )
    s, m, d = rows["streamed"], rows["memory"], rows["disk"]
    same = all(r["digest"] == m["digest"] and r["samples"] == m["samples"] for r in (s, d))
    result = {
        "rows": rows,
        "identical_samples": same,
        "peak_rss_ratio_streamed_over_memory": round(s["peak_rss_mb"] / m["peak_rss_mb"], 3),
        "time_ratio_streamed_over_memory": round(s["seconds"] / m["seconds"], 3),
        "end_anon_ratio_disk_over_streamed": round(d["end_rss_anon_mb"] / max(1, s["end_rss_anon_mb"]), 3),
        "time_ratio_disk_over_streamed": round(d["seconds"] / s["seconds"], 3),
    }
    print(f"identical samples: {same}")
    print(f"peak RSS streamed / in memory: {result['peak_rss_ratio_streamed_over_memory']:.3f}")
    print(f"time streamed / in memory:     {result['time_ratio_streamed_over_memory']:.3f}")
    print(f"anonymous memory disk / streamed: {result['end_anon_ratio_disk_over_streamed']:.3f}")
    print(f"time disk / streamed:             {result['time_ratio_disk_over_streamed']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
