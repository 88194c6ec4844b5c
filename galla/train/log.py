"""What a run shows and logs: the console, the progress bars, tensorboard scalars and ``config.yaml``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from galla.train.config import TrainConfig

if TYPE_CHECKING:
    from galla.train.trainer import StepResult

console = Console(stderr=True)


def config_yaml(cfg: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def encode_progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]encode[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    )


def train_progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f} · lr {task.fields[lr]:.2e} · {task.fields[tps]:,.0f} tok/s"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )


def log_step(writer, result: StepResult, lr: float, tokens_per_second: float) -> None:
    """One step's scalars under ``train/`` (loss, lr, tokens/s, then the method's own metrics)."""
    done = result.step
    writer.add_scalar("train/loss", result.loss, done)
    writer.add_scalar("train/lr", lr, done)
    writer.add_scalar("train/tokens_per_second", tokens_per_second, done)
    for k, v in result.metrics.items():
        writer.add_scalar(f"train/{k}", v, done)
