"""What a ``galla build-graphs`` run is asked (:class:`BuildOptions`) and what it reports, per file
(:class:`FileOutcome`) and in all (:class:`BuildReport`).

These live below :mod:`data_builders.build` so that the cache, the worker pool and the manifest can
use them without importing the build; ``data_builders.build`` re-exports every name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from data_builders.cache import CACHE_DB
from parsers.extract import DEFAULT_MAX_EDGES, DEFAULT_MAX_NODES, UNITS, Unit
from parsers.graph import parse_edge_types
from parsers.languages import LANGUAGES

EXTRACTOR_VERSION = "3"
"""Bump when the graphs the engine emits change; it is part of every cache key and of the manifest."""
Format = Literal["arrow", "galla-jsonl"]


class BuildError(ValueError):
    """Bad input to a build (path, option); the message says what to do."""


@dataclass
class BuildOptions:
    """Options of ``galla build-graphs``; every field maps to a command-line flag."""

    paths: list[str]
    """Repository directories and/or source files (none with ``from_dataset``)."""
    out: Path
    """Output directory (created; an existing dataset there is replaced when the build completes)."""
    unit: Unit = "function"
    """What one graph covers: ``function`` (every function and method), ``class`` or ``file``."""
    edges: str = "all"
    """Edge kinds: ``all``, or groups/names such as ``ast,cfg,LAST_WRITE``."""
    workers: int = 0
    """Processes; 0 = all cores."""
    num_shards: int = 1
    shard_index: int = 0
    format: Format = "arrow"
    """``arrow``: a ``datasets`` dataset; ``galla-jsonl``: official GALLa records (``graphs.jsonl``) too."""
    node_text: bool = False
    """galla-jsonl: add each node's source text (``text``), as the official sample data has."""
    languages: dict[str, str] = field(default_factory=dict)
    """Overrides: glob or extension -> language, e.g. ``{"*.h": "cpp"}``."""
    exclude: list[str] = field(default_factory=list)
    """Extra gitignore-style patterns to leave out, e.g. ``test/``."""
    max_file_bytes: int = 1_000_000
    max_nodes: int = DEFAULT_MAX_NODES
    max_edges: int = DEFAULT_MAX_EDGES
    skip_errors: bool = False
    """Drop units with syntax errors instead of keeping them flagged ``has_error``."""
    respect_gitignore: bool = True
    include_vendored: bool = False
    include_generated: bool = False
    """Keep files marked as generated (``*_pb2.py``, ``DO NOT EDIT`` headers) instead of skipping them."""
    cache: bool = True
    from_dataset: str = ""
    """Read files from a dataset's rows instead of ``paths``: a parquet or JSONL file or folder, a
    ``datasets.save_to_disk`` folder, or a hub dataset id (streamed); see
    :mod:`data_builders.from_dataset`."""
    content_column: str = "content"
    path_column: str = ""
    """Column(s), comma-separated and joined with "/", giving each row's relpath; "" = ``path`` if present."""
    language_column: str = ""
    """Column naming each row's language ("Python", "C++", ...); else the path's extension decides."""
    split: str = ""
    """Split of a hub dataset (default ``train``) or of a saved ``DatasetDict`` (default: its only one)."""

    @classmethod
    def for_rows(
        cls,
        source: str,
        *,
        unit: str = "function",
        edges: str = "all",
        max_file_bytes: int = 1_000_000,
        max_nodes: int | None = None,
        max_edges: int | None = None,
        skip_errors: bool = False,
        include_generated: bool = False,
        languages: dict[str, str] | None = None,
    ) -> BuildOptions:
        """Validated extraction options for rows handled outside a build (``source``: the datasets.map
        function or the datatrove step); no paths, no output folder. None caps mean the defaults."""
        opts = cls(
            paths=[],
            out=Path("."),
            from_dataset=source,
            unit=unit,  # type: ignore[arg-type]
            edges=edges,
            max_file_bytes=max_file_bytes,
            max_nodes=DEFAULT_MAX_NODES if max_nodes is None else max_nodes,
            max_edges=DEFAULT_MAX_EDGES if max_edges is None else max_edges,
            skip_errors=skip_errors,
            include_generated=include_generated,
            languages=dict(languages or {}),
        )
        opts.validate()
        return opts

    def validate(self) -> None:
        if self.unit not in UNITS:
            raise BuildError(f"--unit {self.unit!r} is not one of {', '.join(UNITS)}")
        if self.num_shards < 1 or not 0 <= self.shard_index < self.num_shards:
            raise BuildError(
                f"--shard-index {self.shard_index} must be in 0..{self.num_shards - 1} "
                f"(--num-shards {self.num_shards})"
            )
        if self.format not in ("arrow", "galla-jsonl"):
            raise BuildError(f"--format {self.format!r} is not one of arrow, galla-jsonl")
        for name in ("max_file_bytes", "max_nodes", "max_edges"):
            if getattr(self, name) < 1:
                raise BuildError(f"--{name.replace('_', '-')} must be positive")
        for pattern, lang in self.languages.items():
            if lang not in LANGUAGES:
                choices = ", ".join(sorted(LANGUAGES))
                raise BuildError(f"--language {pattern}={lang}: unknown language; choose from {choices}")
        try:
            parse_edge_types(self.edges)
        except ValueError as err:
            raise BuildError(str(err)) from None
        if self.from_dataset and self.paths:
            raise BuildError(
                "--from-dataset reads files from a dataset's rows: pass it or repository paths, not both"
            )
        if not self.paths and not self.from_dataset:
            raise BuildError(
                "no input path given; pass one or more repository directories or files, or --from-dataset"
            )
        if self.from_dataset and not self.content_column:
            raise BuildError("--content-column must name the column that holds each file's text")

    def signature(self) -> str:
        """What a cached file result depends on besides the file itself."""
        keys = {
            "extractor": EXTRACTOR_VERSION,
            "cache_format": CACHE_DB,
            "unit": self.unit,
            "edges": sorted(t.name for t in parse_edge_types(self.edges)),
            "max_nodes": self.max_nodes,
            "max_edges": self.max_edges,
            "skip_errors": self.skip_errors,
            "grammars": grammar_versions(),
        }
        return hashlib.blake2b(json.dumps(keys, sort_keys=True).encode(), digest_size=8).hexdigest()


@dataclass
class FileOutcome:
    """What happened to one file (sent back from a worker)."""

    relpath: str
    language: str
    size: int
    batch_file: str = ""
    """Where the file's record batch (an IPC stream ``batch_bytes`` long) waits for the main process:
    a cache pack file or the worker's spool file, at ``batch_offset``; so 70 MB of graphs never travel
    through pipes."""
    batch_offset: int = 0
    batch_bytes: int = 0
    units: int = 0
    nodes: int = 0
    edges: int = 0
    edge_counts: dict[int, int] = field(default_factory=dict)
    has_error: bool = False
    error_units: int = 0
    skipped_error_units: int = 0
    truncated_units: int = 0
    replaced_invalid_utf8: bool = False
    cached: bool = False
    failure: str = ""
    """Set when reading or extracting failed; the file contributes no units."""


@dataclass
class BuildReport:
    """Returned by :func:`build_graphs`; also what ``manifest.json`` records."""

    out: Path
    files: int = 0
    units: int = 0
    nodes: int = 0
    edges: int = 0
    seconds: float = 0.0
    cached_files: int = 0
    manifest: dict = field(default_factory=dict)


def grammar_versions() -> dict[str, str]:
    out = {"tree-sitter": _version("tree-sitter")}
    for name in ("python", "java", "javascript", "typescript", "go", "rust", "c", "cpp"):
        out[f"tree-sitter-{name}"] = _version(f"tree-sitter-{name}")
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"
