"""``data.encoded: disk``: graph-stream samples in a memory-mapped file, trained the same as in memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galla.train import store
from galla.train.config import TrainConfig
from galla.train.trainer import Trainer, train


def _same_sample(a, b) -> None:
    assert np.array_equal(a.ids, b.ids) and a.prompt_len == b.prompt_len and a.task == b.task
    assert (a.graph is None) == (b.graph is None)
    if a.graph is not None:
        assert torch.equal(a.graph.x, b.graph.x) and torch.equal(a.graph.edge_index, b.graph.edge_index)
        assert torch.equal(a.graph.edge_type, b.graph.edge_type) and a.graph.name == b.graph.name


def _stage2(make_cfg, graph_dir, sft_file, tmp_path, name: str, encoded: str) -> TrainConfig:
    return make_cfg(
        data={
            "graphs": [str(graph_dir)],
            "graph_tasks": ["graph2code", "graph_qa"],
            "qa_per_graph": 3,
            "text": [str(sft_file)],
            "encoded": encoded,
        },
        run={"out_dir": str(tmp_path / name), "progress": False, "export": False, "eval_samples": 2},
        optim={"max_steps": 4, "batch_size": 2},
    )


def test_disk_samples_are_the_memory_samples(make_cfg, graph_dir, sft_file, tmp_path) -> None:
    mem = Trainer(_stage2(make_cfg, graph_dir, sft_file, tmp_path, "mem", "memory"))
    disk = Trainer(_stage2(make_cfg, graph_dir, sft_file, tmp_path, "disk", "disk"))
    try:
        m, d = mem.streams["graph"], disk.streams["graph"]
        assert isinstance(m, list) and isinstance(d, store.DiskExamples)
        assert disk.encoded_file is not None and disk.encoded_file.is_file()
        assert len(m) == len(d) > 10 and list(d.lengths) == [e.length for e in m]
        assert list(d.num_targets) == [e.num_targets for e in m]
        for a, b in zip(m, d, strict=True):  # iteration, and random access below
            _same_sample(a, b)
        for i in (len(d) - 1, 0, 3):
            _same_sample(m[i], d[i])
        for a, b in zip(mem.held_out["graph"], disk.held_out["graph"], strict=True):
            _same_sample(a, b)
        # a unit's GraphQA questions share one stored graph, and one Data when taken together
        taken = d.take(range(len(d)))
        assert len({id(e.graph) for e in taken}) < len(taken)
        assert mem.plan.epoch(0) == disk.plan.epoch(0)
    finally:
        mem._release()
        disk._release()
    assert disk.encoded_file is None
    assert not (tmp_path / "disk" / "encoded").exists()  # removed with the run's lock


def test_training_from_disk_matches_memory(make_cfg, graph_dir, sft_file, tmp_path) -> None:
    runs = {e: train(_stage2(make_cfg, graph_dir, sft_file, tmp_path, e, e)) for e in ("memory", "disk")}
    assert runs["disk"].losses == pytest.approx(runs["memory"].losses, rel=1e-6)
    assert runs["disk"].summary["eval"] == runs["memory"].summary["eval"]
    assert not (tmp_path / "disk" / "encoded").exists()


def test_auto_goes_to_disk_only_for_a_large_or_streamed_corpus() -> None:
    assert store.use_disk("auto", None) and store.use_disk("auto", store.AUTO_DISK_ROWS + 1)
    assert not store.use_disk("auto", 1000) and not store.use_disk("memory", None)
    assert store.use_disk("disk", 3)


def test_encoded_is_checked(make_cfg) -> None:
    from galla.config import ConfigError

    with pytest.raises(ConfigError, match=r"DataConfig\.encoded: choose one of auto, memory, disk"):
        make_cfg(data={"encoded": "ram"})


def test_write_examples_of_nothing_leaves_no_file(tmp_path) -> None:
    samples, read = store.write_examples([None, None], tmp_path / "e" / "g.arrow")
    assert samples is None and read == 2 and not (tmp_path / "e" / "g.arrow").exists()
