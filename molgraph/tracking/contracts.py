"""The objects a training loop reports to: per-epoch callbacks and a run tracker.

Epochs are counted from 1 everywhere: in callbacks, tracker steps, ``history.csv`` and
``best_epoch``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class Callback(Protocol):
    """Hears each epoch's metrics (e.g. ``val_rmse``); may raise :class:`StopTraining`, or
    ``optuna.TrialPruned`` from a pruning callback, which the loop lets through.

    Two more methods are optional, called only on callbacks that define them (see
    :func:`notify_each`), so a progress display can move within an epoch:
    ``on_batch_end(epoch, done, total)`` as each epoch starts (``done`` 0) and after each batch
    (``done`` of the epoch's ``total`` molecules), and ``on_train_end()`` once the last epoch
    has ended (early stop included; not after an error).
    """

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
        tracker.log_metrics(metrics, step=epoch)  # MLflow's step is the epoch, from 1
    try:
        for callback in callbacks:
            callback.on_epoch_end(epoch, metrics)
    except StopTraining:
        return False
    return True


def notify_each(callbacks: Iterable[Any], method: str, *args: Any) -> None:
    """Call the optional ``method`` (``"on_batch_end"``, ``"on_train_end"``) with ``args`` on
    each callback that defines it."""
    for callback in callbacks:
        hook = getattr(callback, method, None)
        if hook is not None:
            hook(*args)
