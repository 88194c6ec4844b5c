"""Which samples each optimizer step trains on: a pure function of (data, config, step).

Each stream (``graph``, ``text``) is cut into global batches of ``optim.batch_size`` x processes samples
per epoch (lengths grouped to cut padding, :func:`~galla.train.data.epoch_batches`); the batches of the
two streams are interleaved in GALLa's proportional order (:func:`~galla.train.data.mix_schedule`), and
step ``s`` takes ``optim.grad_accum`` consecutive micro-batches of that order. A resumed run, or another
number of processes with the same global batch, sees the same samples at the same step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from galla.train.config import TrainConfig
from galla.train.data import Example, epoch_batches, graph_loss_scale, mix_schedule
from galla.train.errors import TrainingError

MicroBatch = tuple[str, list[int]]
"""A global micro-batch: its stream and the indices of its samples in that stream."""


def hash_name(name: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(name)) % 10_007


def _lengths(samples: Sequence[Example]) -> list[int]:
    lengths = getattr(samples, "lengths", None)
    return [int(n) for n in lengths] if lengths is not None else [e.length for e in samples]


class BatchPlan:
    """The step plan of ``streams`` (encoded examples by stream) for ``world`` processes.

    Raises :class:`TrainingError` when a stream holds less than one global batch or an epoch less than
    one optimizer step."""

    def __init__(self, cfg: TrainConfig, streams: Mapping[str, Sequence[Example]], world: int) -> None:
        # a stream on disk (galla.train.store) knows its lengths without building its samples
        self.lengths = {k: _lengths(v) for k, v in streams.items()}
        self.seed, self.grouping = cfg.run.seed, cfg.data.length_grouping
        self.batch_size, self.grad_accum = cfg.optim.batch_size, cfg.optim.grad_accum
        self.global_batch = gb = cfg.optim.batch_size * world
        counts = {k: len(v) // gb for k, v in streams.items()}
        short = [k for k, c in counts.items() if c == 0]
        if short:
            raise TrainingError(
                f"data: the {short[0]} stream has {len(streams[short[0]])} usable samples, fewer "
                f"than one global batch ({cfg.optim.batch_size} x {world} processes); "
                "lower optim.batch_size"
            )
        self.n_batches = counts
        """Global batches per epoch, by stream."""
        self.graph_scale = graph_loss_scale(counts.get("graph", 0), counts.get("text", 0))
        """The graph stream's loss weight, ``min(N_text / N_graph, 1)`` (1 without both streams)."""
        per_epoch = sum(counts.values()) // cfg.optim.grad_accum
        if per_epoch == 0:
            raise TrainingError(
                f"data: {sum(counts.values())} micro-batches per epoch, fewer than "
                f"optim.grad_accum={cfg.optim.grad_accum}"
            )
        self.steps_per_epoch = per_epoch
        self.total_steps = cfg.optim.max_steps or max(1, int(cfg.optim.epochs * per_epoch))
        self._epoch: int | None = None
        self._plan: list[MicroBatch] = []

    def epoch(self, epoch: int) -> list[MicroBatch]:
        """Every global micro-batch of ``epoch``, in training order."""
        batches = {
            k: epoch_batches(v, self.global_batch, self.seed + hash_name(k), epoch, self.grouping)
            for k, v in self.lengths.items()
        }
        order = mix_schedule(len(batches.get("graph", [])), len(batches.get("text", [])), self.seed, epoch)
        return [(k, batches[k][i]) for k, i in order]

    def step(self, step: int) -> list[MicroBatch]:
        """The global micro-batches of optimizer step ``step``."""
        epoch, within = divmod(step, self.steps_per_epoch)
        if self._epoch != epoch:
            self._plan, self._epoch = self.epoch(epoch), epoch
        ga = self.grad_accum
        return self._plan[within * ga : (within + 1) * ga]

    def local(self, rows: list[int], rank: int) -> list[int]:
        """Process ``rank``'s share of a global micro-batch."""
        return rows[rank * self.batch_size : (rank + 1) * self.batch_size]
