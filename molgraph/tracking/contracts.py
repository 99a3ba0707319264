"""The objects a training loop reports to: per-epoch callbacks and a run tracker."""

from __future__ import annotations

from typing import Any, Protocol


class Callback(Protocol):
    """Hears each epoch's metrics (e.g. ``val_rmse``); may raise :class:`StopTraining`, or
    ``optuna.TrialPruned`` from a pruning callback, which the loop lets through."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...


class Tracker(Protocol):
    """Records a run: its parameters (dotted names, as in the run configuration) once, and its
    metrics at each step (e.g. MLflow)."""

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...


class StopTraining(Exception):
    """Raised by a callback to end training early; the best checkpoint is kept."""


def notify(callbacks, tracker: Tracker | None, epoch: int, metrics: dict[str, float]) -> bool:
    """Report one epoch to the tracker and every callback; ``False`` when one asked to stop."""
    if tracker is not None:
        tracker.log_metrics(metrics, step=epoch)
    try:
        for callback in callbacks:
            callback.on_epoch_end(epoch, metrics)
    except StopTraining:
        return False
    return True
