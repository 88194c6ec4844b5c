"""The manifest of a ``galla build-graphs`` output (``manifest.json``: options, versions, totals,
what was skipped or failed), and what in ``--out`` a build owns, which that manifest tells: a build
replaces or deletes only files an earlier build wrote, and refuses a folder that is not ours.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from data_builders.cache import CACHE_ROOT, _is_own_cache
from data_builders.formats import DATA_FILE, KIND_VOCAB
from data_builders.lock import LOCK_NAME
from data_builders.options import EXTRACTOR_VERSION, BuildError, _version, grammar_versions
from data_builders.outputs import output_problem
from parsers.graph import EdgeType, parse_edge_types

if TYPE_CHECKING:
    from data_builders.content import Skipped, SourceFile
    from data_builders.options import BuildOptions, FileOutcome

MANIFEST = "manifest.json"


# --- what build-graphs owns in --out ----------------------------------------------------------

OUTPUTS = (DATA_FILE, "dataset_info.json", "state.json", MANIFEST)
"""The files every build writes into ``--out`` (plus :data:`JSONL` with ``--format galla-jsonl``)."""
JSONL = "graphs.jsonl"
TMP_PREFIX = ".tmp-"


def _is_own_entry(entry: Path) -> bool:
    """Whether an entry of ``--out`` is a leftover of a build-graphs run (a killed one leaves only
    these): the cache, a temporary dataset, the lock file (:mod:`data_builders.lock`)."""
    if entry.name == CACHE_ROOT and entry.is_dir() and not entry.is_symlink():
        return all(_is_own_cache(d) for d in entry.iterdir())
    if re.fullmatch(re.escape(TMP_PREFIX) + r"[0-9]+", entry.name):
        return entry.is_dir() and not entry.is_symlink()
    return entry.name == LOCK_NAME and entry.is_file()


def _owned_outputs(out: Path, opts: BuildOptions) -> frozenset[str]:
    """The files in ``out`` a previous build wrote (so this one may replace or delete them).

    Raises :class:`BuildError`, before anything is written, when ``out`` is not empty and is not a
    galla graph dataset (a manifest of ours, or only a killed build's leftovers), or when this build
    would overwrite a file it did not write."""
    problem = output_problem(out, "--out")
    if problem:
        raise BuildError(problem)
    if not out.exists():
        return frozenset()
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        ours = (
            isinstance(manifest, dict) and {"extractor_version", "kind_vocab", "options"} <= manifest.keys()
        )
    except (OSError, ValueError):
        manifest, ours = None, False
    if not ours:
        foreign = sorted(e.name for e in out.iterdir() if not _is_own_entry(e))
        if foreign:
            raise BuildError(
                f"--out '{out}' is not empty and is not a galla graph dataset (it holds '{foreign[0]}' "
                f"and no build-graphs {MANIFEST}); choose a new or empty directory (nothing was changed)"
            )
        return frozenset()
    owned = set(OUTPUTS)
    if isinstance(manifest["options"], dict) and manifest["options"].get("format") == "galla-jsonl":
        owned.add(JSONL)
    if opts.format == "galla-jsonl" and (out / JSONL).exists() and JSONL not in owned:
        raise BuildError(
            f"--out '{out}': {JSONL} there was not written by build-graphs (the dataset's manifest lists "
            "no galla-jsonl output); move it away or choose another --out (nothing was changed)"
        )
    return frozenset(owned)


def _remove_stale_tmp(out: Path) -> None:
    """Delete the temporary datasets of killed builds (``.tmp-<pid>`` whose process is gone); a live
    process's is left alone."""
    for d in out.glob(f"{TMP_PREFIX}*"):
        pid = d.name.removeprefix(TMP_PREFIX)
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and _is_own_entry(d):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


# --- the manifest ------------------------------------------------------------------------------


def _manifest(
    opts: BuildOptions, files: list[SourceFile], skipped: list[Skipped], outs: list[FileOutcome]
) -> dict:
    per_lang: dict[str, Counter] = {}
    edge_counts: Counter = Counter()
    for o in outs:
        c = per_lang.setdefault(o.language, Counter())
        c["files"] += 1
        c["bytes"] += o.size
        c["units"] += o.units
        c["nodes"] += o.nodes
        c["edges"] += o.edges
        c["files_with_syntax_errors"] += int(o.has_error)
        c["failed_files"] += int(bool(o.failure))
        for t, n in o.edge_counts.items():
            edge_counts[EdgeType(t).name] += n
    failures = [{"path": o.relpath, "reason": o.failure} for o in outs if o.failure]
    no_units = [
        {"path": o.relpath, "reason": "syntax error" if o.has_error else f"no {opts.unit} definitions"}
        for o in outs
        if not o.failure and o.units == 0
    ]
    skip_reasons = Counter(s.reason for s in skipped)
    totals = {
        "files_found": len(files) + len(skipped),
        "files_parsed": sum(1 for o in outs if not o.failure),
        "files_skipped": len(skipped),
        "files_failed": len(failures),
        "bytes": sum(o.size for o in outs),
        "units": sum(o.units for o in outs),
        "nodes": sum(o.nodes for o in outs),
        "edges": sum(o.edges for o in outs),
        "units_with_syntax_errors": sum(o.error_units for o in outs),
        "units_dropped_for_syntax_errors": sum(o.skipped_error_units for o in outs),
        "units_truncated": sum(o.truncated_units for o in outs),
        "files_with_invalid_utf8": sum(int(o.replaced_invalid_utf8) for o in outs),
        "files_without_units": len(no_units),
    }
    return {
        "galla_version": _version("galla"),
        "extractor_version": EXTRACTOR_VERSION,
        "grammars": grammar_versions(),
        "kind_vocab": KIND_VOCAB,
        "edge_vocab": {t.name: int(t) for t in EdgeType},
        "options": {
            "unit": opts.unit,
            "edges": sorted(t.name for t in parse_edge_types(opts.edges)),
            "num_shards": opts.num_shards,
            "shard_index": opts.shard_index,
            "max_file_bytes": opts.max_file_bytes,
            "max_nodes": opts.max_nodes,
            "max_edges": opts.max_edges,
            "skip_errors": opts.skip_errors,
            "languages": opts.languages,
            "exclude": opts.exclude,
            "include_vendored": opts.include_vendored,
            "include_generated": opts.include_generated,
            "format": opts.format,
            **(
                {
                    "from_dataset": {
                        "source": opts.from_dataset,
                        "content_column": opts.content_column,
                        "path_column": opts.path_column,
                        "language_column": opts.language_column,
                        "split": opts.split,
                    }
                }
                if opts.from_dataset
                else {}
            ),
        },
        "totals": totals,
        "languages": {k: dict(sorted(v.items())) for k, v in sorted(per_lang.items())},
        "edge_counts": dict(sorted(edge_counts.items())),
        "skipped_by_reason": dict(sorted(skip_reasons.items())),
        "skipped": [{"path": s.relpath, "reason": s.reason, "detail": s.detail} for s in skipped],
        "failed": failures,
        "files_without_units": no_units,
    }
