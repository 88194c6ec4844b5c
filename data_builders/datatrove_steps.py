"""galla's graph extraction as a datatrove pipeline step (``pip install 'galla[datatrove]'``).

datatrove runs a pipeline (reader -> steps -> writer) as many tasks, locally, on Slurm or on Ray, each
task reading its share of the input files. :class:`GraphExtractor` turns each source document (its
text a file's content, its metadata the file's path and maybe language) into one document per unit,
whose metadata holds the graph row's columns; :func:`graph_row` is the writer adapter that flattens a
document back into a row of the schema ``galla build-graphs`` writes, and :func:`graph_pipeline`
assembles the three::

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader
    from data_builders.datatrove_steps import graph_pipeline

    reader = ParquetReader("corpus/", text_key="content")
    LocalPipelineExecutor(graph_pipeline(reader, "graphs/"), tasks=8, workers=2, logging_dir="logs/").run()

The rows are those of ``build-graphs --from-dataset`` on the same files (both run
``data_builders.build.extract_into``); skipped rows are counted in the step's stats by reason.
datatrove is imported only when a step is made, so this module loads without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

__all__ = ["GraphExtractor", "graph_pipeline", "graph_row"]  # noqa: F822 (defined on first use)


def _datatrove() -> Any:
    try:
        import datatrove.pipeline.base as base
    except ImportError:
        raise ImportError(
            "data_builders.datatrove_steps needs datatrove: pip install 'galla[datatrove]' (or datatrove)"
        ) from None
    return base


@cache
def _extractor_class() -> type:
    """Define :class:`GraphExtractor` (a ``PipelineStep`` subclass) on first use."""
    base = _datatrove()
    from datatrove.data import Document

    from data_builders.build import BuildOptions, FileOutcome, extract_into
    from data_builders.content import Skipped
    from data_builders.from_dataset import RowNamer, _join_path
    from parsers.extract import DEFAULT_MAX_EDGES, DEFAULT_MAX_NODES
    from parsers.languages import extension_map

    class GraphExtractor(base.PipelineStep):
        """Source documents -> one document per unit (``id``, ``text`` = the unit's source, metadata =
        the other columns of the graph row).

        Args:
            path_key: metadata key(s), comma-separated and joined with "/", of each file's path
                (e.g. ``"repo_name,path"``); a document without one is named by its datatrove id.
            language_key: metadata key naming each file's language ("Python", "C++"); else the
                path's extension decides.
            unit, edges, max_file_bytes, max_nodes, max_edges, skip_errors, include_generated,
            languages: as the ``galla build-graphs`` flags of the same names.
        """

        name = "🕸️ galla graphs"
        type = "🔨 - EXTRACT"

        def __init__(
            self,
            path_key: str = "path",
            language_key: str = "",
            *,
            unit: str = "function",
            edges: str = "all",
            max_file_bytes: int = 1_000_000,
            max_nodes: int = DEFAULT_MAX_NODES,
            max_edges: int = DEFAULT_MAX_EDGES,
            skip_errors: bool = False,
            include_generated: bool = False,
            languages: Mapping[str, str] | None = None,
        ) -> None:
            super().__init__()
            self.path_keys = [k.strip() for k in path_key.split(",") if k.strip()]
            self.language_key = language_key
            # validated here: a bad option fails where the pipeline is written, not in every task
            self.opts = BuildOptions.for_rows(
                "datatrove",
                unit=unit,
                edges=edges,
                max_file_bytes=max_file_bytes,
                max_nodes=max_nodes,
                max_edges=max_edges,
                skip_errors=skip_errors,
                include_generated=include_generated,
                languages=dict(languages or {}),
            )

        def run(self, data: Iterator[Any], rank: int = 0, world_size: int = 1) -> Iterator[Any]:
            opts = self.opts
            namer = RowNamer(extension_map(), opts.languages, opts.max_file_bytes, opts.include_generated)
            for index, doc in enumerate(data):
                self.stat_update("files")
                meta = doc.metadata
                path = _join_path([meta.get(k) for k in self.path_keys]) or doc.id
                lang = meta.get(self.language_key) if self.language_key else None
                with self.track_time():
                    sf = namer.file(index, doc.text, path, lang, f"task {rank}")
                    if sf is None or isinstance(sf, Skipped):
                        if sf is not None:
                            self.stat_update(f"skipped: {sf.reason}")
                        continue
                    out = FileOutcome(sf.relpath, sf.language, sf.size)
                    assert sf.data is not None
                    batch = extract_into(out, sf.data, opts)
                if batch is None:
                    self.stat_update("failed")
                    continue
                self.stat_update("units", value=batch.num_rows)
                for row in batch.to_pylist():
                    yield Document(text=row.pop("source"), id=row.pop("id"), metadata=row)

    GraphExtractor.__module__ = __name__
    GraphExtractor.__qualname__ = "GraphExtractor"
    return GraphExtractor


def __getattr__(name: str) -> Any:
    if name == "GraphExtractor":
        return _extractor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def graph_row(writer: Any, document: Any) -> dict:
    """A datatrove writer adapter: a :class:`GraphExtractor` document as a graph row (its columns)."""
    return {"id": document.id, "source": document.text, **document.metadata}


def graph_pipeline(
    reader: Any, output_folder: str, *, path_key: str = "path", language_key: str = "", **options: Any
) -> list:
    """``[reader, GraphExtractor(...), ParquetWriter(output_folder)]`` writing the graph-row schema
    (``${rank}.parquet`` per task); ``options`` go to :class:`GraphExtractor`."""
    _datatrove()
    from datatrove.pipeline.writers import ParquetWriter

    from data_builders.formats import SCHEMA

    step = _extractor_class()(path_key, language_key, **options)
    return [reader, step, ParquetWriter(output_folder, adapter=graph_row, schema=SCHEMA)]
