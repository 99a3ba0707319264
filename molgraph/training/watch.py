"""Training a person can watch: one progress bar over the epochs, and a table of the scores.

:class:`EpochProgress` is a training callback (``on_epoch_end``). On a terminal it draws a tqdm
bar over the epochs (``epoch n/N``, tqdm's rate and ETA) with the training loss, the monitored
validation metric and the best value so far with its epoch; log lines written meanwhile go
above the bar. In logs and CI (stderr not a terminal) there is no bar: a plain log line for
the first and last epochs and at most one every ``log_every`` seconds between, and a closing
line. Epochs are counted from 1 here (``history.csv`` and ``metrics.json`` count from 0).
:func:`metrics_table` is the small aligned table ``molgraph train`` prints at the end.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import IO, Any

from molgraph.runtime.progress import duration, wants_bar

log = logging.getLogger(__name__)


def _number(value: Any) -> str:
    """4 significant digits (``nan`` for a missing score)."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


class EpochProgress:
    """Shows each epoch of one training run; use it as a context manager (or call
    :meth:`close`), so the bar ends cleanly after an early stop or an error.

    Args:
        total_epochs: the most epochs the run may take (an early stop ends sooner).
        metric: the monitored validation metric, ``"rmse"`` or ``"val_rmse"``.
        higher_is_better: how the best epoch is picked (as the training loop does).
        enabled: ``True`` for a bar, ``False`` for log lines, ``None``: a bar when stderr
            is a terminal.
        file: where the bar is drawn (default stderr).
        log_every: seconds between log lines without a bar.
    """

    def __init__(self, total_epochs: int, metric: str, higher_is_better: bool,
                 enabled: bool | None = None, file: IO[str] | None = None,
                 log_every: float = 30.0) -> None:
        self.total = int(total_epochs)
        self.metric = metric if metric.startswith("val_") else f"val_{metric}"
        self.higher_is_better = higher_is_better
        self.log_every = log_every
        self.epochs = 0  # epochs seen
        self.best: float | None = None
        self.best_epoch: int | None = None  # counted from 1
        self.last: dict[str, float] = {}
        self.started = time.perf_counter()
        self._first_epoch_end = self.started
        self._last_log = -math.inf
        self._redirect: Any = None
        self._bar: Any = None
        if wants_bar(enabled):
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc="epoch", unit="epoch", file=file,
                             dynamic_ncols=True, leave=True)

    # the training callback -------------------------------------------------------------
    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs = epoch + 1
        if self.epochs == 1:
            self._first_epoch_end = time.perf_counter()
        self.last = dict(metrics)
        score = metrics.get(self.metric)
        if score is not None:
            better = (score > self.best if self.higher_is_better else score < self.best) \
                if self.best is not None else True
            if better:
                self.best, self.best_epoch = float(score), self.epochs
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix(), refresh=False)
            self._bar.update(self.epochs - self._bar.n)
            return
        now = time.perf_counter()
        if self.epochs in (1, self.total) or now - self._last_log >= self.log_every:
            self._last_log = now
            log.info("%s", self.line())

    # what is shown ---------------------------------------------------------------------
    def postfix(self) -> str:
        """``loss=0.4123, val_rmse=1.032, best=0.9871 (epoch 3)``."""
        parts = []
        if "train_loss" in self.last:
            parts.append(f"loss={_number(self.last['train_loss'])}")
        if self.metric in self.last:
            parts.append(f"{self.metric}={_number(self.last[self.metric])}")
        if self.best is not None:
            parts.append(f"best={_number(self.best)} (epoch {self.best_epoch})")
        return ", ".join(parts)

    def line(self) -> str:
        """``epoch 3/30 loss=0.4123, val_rmse=1.032, best=0.9871 (epoch 3), ETA 0:01:05``."""
        text = f"epoch {self.epochs}/{self.total} {self.postfix()}"
        if 0 < self.epochs < self.total:
            now = time.perf_counter()
            if self.epochs > 1:  # from the first epoch's end on: data loading not counted
                per_epoch = (now - self._first_epoch_end) / (self.epochs - 1)
            else:
                per_epoch = now - self.started
            text += f", ETA {duration(per_epoch * (self.total - self.epochs))}"
        return text

    def summary(self) -> str:
        """``30/30 epochs in 0:01:12, best val_rmse=0.9871 (epoch 21)``; ``early stop
        after 12/30 epochs ...`` when the run ended sooner."""
        elapsed = duration(time.perf_counter() - self.started)
        text = f"{self.epochs}/{self.total} epochs in {elapsed}"
        if 0 < self.epochs < self.total:
            text = f"early stop after {text}"
        if self.best is not None:
            text += f", best {self.metric}={_number(self.best)} (epoch {self.best_epoch})"
        return text

    # the end ---------------------------------------------------------------------------
    def close(self, error: bool = False) -> None:
        """End the bar (drawn as it stands: an early stop leaves ``12/30``) or, without one,
        log the summary. Safe to call twice."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            if not error and 0 < self.epochs < self.total:  # no ETA left to wait for
                bar.bar_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
                best = f"best={_number(self.best)} (epoch {self.best_epoch}), " \
                    if self.best is not None else ""
                bar.set_postfix_str(f"{best}early stop", refresh=False)
            bar.close()
        elif self.epochs and not error:
            log.info("%s", self.summary())
        if self._redirect is not None:
            redirect, self._redirect = self._redirect, None
            redirect.__exit__(None, None, None)

    def __enter__(self) -> EpochProgress:
        if self._bar is not None and self._redirect is None:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect = logging_redirect_tqdm()  # log lines above the bar, not through it
            self._redirect.__enter__()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(error=kind is not None)


def metrics_table(metrics: dict[str, dict[str, float]], columns: Sequence[str],
                  rows: Sequence[str] = ("val", "test")) -> str:
    """An aligned table of ``metrics[row][column]``, 4 significant digits::

                rmse     mae      r2
        val    1.032  0.8123  0.6411
        test   1.104  0.8502   0.598
    """
    cells = [["", *columns]]
    cells += [[row, *(_number(metrics.get(row, {}).get(c, math.nan)) for c in columns)]
              for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join([line[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(line[1:], widths[1:])])
        .rstrip() for line in cells)
