"""Training a person can watch: a bar within each epoch, the epochs' scores, and a table.

:class:`EpochProgress` is a training callback. On a terminal or in Jupyter it draws one tqdm bar
(``tqdm.auto``: a widget in Jupyter) over the molecules of the epoch under way, with tqdm's
clock, rate (molecules/s) and the epoch's ETA; its postfix carries the run: true seconds per
epoch (from the first batch on, so reading the data and fitting baselines are not counted), the
run's ETA and the best validation score so far with its epoch. Each epoch's loss and score go to
the log, above the bar: the first and last epochs, and otherwise at most one line every
``log_every`` seconds. In logs and CI (stderr not a terminal) there is no bar: those lines, a
line within a long epoch (molecules done, molecules/s, ETA) at most every ``log_every`` seconds
too, and a closing line. Epochs count from 1, as in ``history.csv`` and ``metrics.json``.
The table ``molgraph train`` prints at the end is ``training.report``'s.
"""

from __future__ import annotations

import logging
import math
import time
from typing import IO, Any

from molgraph.runtime.progress import COUNTS_FORMAT, bar_class, duration, wants_bar

log = logging.getLogger(__name__)
#: tqdm's layout of the last epoch's bar once training has ended (its clock and rate say nothing
#: now; while it runs the bar is laid out as COUNTS_FORMAT: 15,000/33,000 molecules)
CLOSED_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,}{postfix}"
#: tqdm's layout of a bar over epochs (a loop that reports no batches): the timing is ours
EPOCHS_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} epochs{postfix}"


def _per_epoch(seconds: float) -> str:
    """``95.2 s/epoch``, ``0.05 s/epoch``."""
    return f"{seconds:.1f} s/epoch" if seconds >= 1 else f"{seconds:.2f} s/epoch"


def _number(value: Any) -> str:
    """4 significant digits (``nan`` for a missing score)."""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


class EpochProgress:
    """Shows one training run as it goes; use it as a context manager (or call :meth:`close`),
    so the bar ends cleanly after an error. The training loop's ``on_train_end`` closes it.

    Args:
        total_epochs: the most epochs the run may take (an early stop ends sooner).
        metric: the monitored validation metric, ``"rmse"`` or ``"val_rmse"``.
        higher_is_better: how the best epoch is picked (as the training loop does).
        enabled: ``True`` for a bar, ``False`` for log lines, ``None``: a bar when stderr
            is a terminal or in Jupyter.
        file: where a text bar is drawn (default stderr).
        log_every: seconds between log lines without a bar.
    """

    def __init__(self, total_epochs: int, metric: str, higher_is_better: bool,
                 enabled: bool | None = None, file: IO[str] | None = None,
                 log_every: float = 30.0) -> None:
        self.total = int(total_epochs)
        self.metric = metric if metric.startswith("val_") else f"val_{metric}"
        self.higher_is_better = higher_is_better
        self.enabled = wants_bar(enabled)
        self.file = file
        self.log_every = log_every
        self.epochs = 0  # epochs ended
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.last: dict[str, float] = {}
        self.started = time.perf_counter()  # again at the first batch: data loading not counted
        self.ended = self.started  # the last epoch's end
        self._epoch = 0  # the epoch under way (its first batch seen)
        self._epoch_started = self.started
        self._done, self._in_epoch = 0, 0  # its molecules done, of how many
        self._last_log = -math.inf
        self._last_postfix = -math.inf
        self._bar: Any = None
        self._redirect: Any = None
        self._closed = False

    # the training callback -------------------------------------------------------------
    def on_batch_end(self, epoch: int, done: int, total: int) -> None:
        """``done`` of the ``total`` molecules of ``epoch``: 0 as it starts, then per batch."""
        if self._closed:
            return
        now = time.perf_counter()
        if epoch != self._epoch:
            if self._epoch == 0:
                self.started = self.ended = self._last_log = now
            self._epoch, self._epoch_started = epoch, now
            if self.enabled:
                self._open_bar(total)
        self._done, self._in_epoch = done, total
        if self._bar is not None:
            if now - self._last_postfix >= 1.0:  # the run's ETA moves with the molecules
                self._last_postfix = now
                self._bar.set_postfix_str(self.bar_postfix(), refresh=False)
            self._bar.update(done - self._bar.n)
        elif now - self._last_log >= self.log_every:
            self._last_log = now
            log.info("%s", self.batch_line())

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        if self._closed:
            return
        now = time.perf_counter()
        self.epochs, self.ended, self.last = epoch, now, dict(metrics)
        score = metrics.get(self.metric)
        if score is not None:
            better = (score > self.best if self.higher_is_better else score < self.best) \
                if self.best is not None else True
            if better:
                self.best, self.best_epoch = float(score), epoch
        if self.enabled:
            if self._bar is None:  # a loop that reports no batches: a bar over the epochs
                self._bar = self._new_bar(total=self.total, desc="epochs", unit="epoch",
                                          bar_format=EPOCHS_FORMAT)
            self._last_postfix = now
            self._bar.set_postfix_str(self.bar_postfix(), refresh=False)
            if self._bar.unit == "epoch":
                self._bar.update(epoch - self._bar.n)
            else:
                self._bar.refresh()
        if epoch in (1, self.total) or now - self._last_log >= self.log_every:
            self._last_log = now
            log.info("%s", self.line())  # above the bar, when there is one

    def on_train_end(self) -> None:
        """The last epoch has ended (an early stop too): the bar closes now, before whatever
        the run does next (baselines, plots)."""
        self.close()

    # what is shown ---------------------------------------------------------------------
    def seconds_per_epoch(self) -> float | None:
        """The epochs ended so far on average, else the epoch under way extrapolated from
        its molecules done; ``None`` before anything is known."""
        if self.epochs:
            return (self.ended - self.started) / self.epochs
        if self._done and self._in_epoch:
            return (time.perf_counter() - self._epoch_started) * self._in_epoch / self._done
        return None

    def eta(self) -> float | None:
        """Seconds until the last epoch ends, at :meth:`seconds_per_epoch`."""
        per_epoch = self.seconds_per_epoch()
        if per_epoch is None:
            return None
        left = self.total - self.epochs
        if self._epoch > self.epochs and self._in_epoch:  # part of the epoch under way is done
            left -= self._done / self._in_epoch
        return per_epoch * max(left, 0.0)

    def timing(self) -> str:
        """``95.2 s/epoch, ETA 0:42:45`` (what is known of it); once closed ``trained in
        0:47:36, 95.2 s/epoch``, after ``early stop`` when the run ended sooner."""
        per_epoch = self.seconds_per_epoch()
        parts = [] if per_epoch is None else [_per_epoch(per_epoch)]
        if self._closed:
            parts.insert(0, f"trained in {duration(self.ended - self.started)}")
            if 0 < self.epochs < self.total:
                parts.insert(0, "early stop")
        elif (eta := self.eta()) is not None and self.epochs < self.total:
            parts.append(f"ETA {duration(eta)}")
        return ", ".join(parts)

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

    def best_text(self) -> str:
        """``best val_rmse=0.9871 (epoch 21)`` (empty before the first score)."""
        if self.best is None:
            return ""
        return f"best {self.metric}={_number(self.best)} (epoch {self.best_epoch})"

    def bar_postfix(self) -> str:
        """The run beside the epoch's bar, short enough to leave the bar room on a terminal:
        :meth:`timing` and :meth:`best_text` (each epoch's loss and score go to the log)."""
        return ", ".join(part for part in (self.timing(), self.best_text()) if part)

    def batch_line(self) -> str:
        """``epoch 1/30: 15,000/33,000 molecules (45%), 356 mol/s, ETA 0:44:10``."""
        elapsed = time.perf_counter() - self._epoch_started
        text = f"epoch {self._epoch}/{self.total}: {self._done:,}/{self._in_epoch:,} molecules"
        if self._in_epoch:
            text += f" ({100 * self._done / self._in_epoch:.0f}%)"
        if elapsed > 0:
            text += f", {self._done / elapsed:,.0f} mol/s"
        eta = self.eta()
        return text + (f", ETA {duration(eta)}" if eta is not None else "")

    def line(self) -> str:
        """``epoch 3/30 loss=0.4123, val_rmse=1.032, best=0.9871 (epoch 3), 95.2 s/epoch,
        ETA 0:42:45``."""
        return ", ".join(part for part in (f"epoch {self.epochs}/{self.total} {self.postfix()}",
                                           self.timing()) if part)

    def summary(self) -> str:
        """``30/30 epochs in 0:47:36 (95.2 s/epoch), best val_rmse=0.9871 (epoch 21)``;
        ``early stop after 12/30 epochs ...`` when the run ended sooner."""
        text = f"{self.epochs}/{self.total} epochs in {duration(self.ended - self.started)}"
        if self.epochs:
            text += f" ({_per_epoch(self.seconds_per_epoch())})"
        if 0 < self.epochs < self.total:
            text = f"early stop after {text}"
        return ", ".join(part for part in (text, self.best_text()) if part)

    # the bar ---------------------------------------------------------------------------
    def _new_bar(self, **options: Any) -> Any:
        return bar_class()(file=self.file, dynamic_ncols=True, leave=True, **options)

    def _open_bar(self, molecules: int) -> None:
        """The bar of epoch ``self._epoch`` over its ``molecules``: the run's one bar, reset."""
        desc = f"epoch {self._epoch}/{self.total}"
        if self._bar is None:
            self._bar = self._new_bar(total=molecules, desc=desc, unit="mol", unit_scale=True,
                                      bar_format=COUNTS_FORMAT)
            return
        self._bar.set_description_str(desc, refresh=False)
        self._bar.reset(total=molecules)

    # the end ---------------------------------------------------------------------------
    def close(self, error: bool = False) -> None:
        """End the bar as it stands, with the run's time and best epoch unless ``error``, or,
        without a bar, log :meth:`summary`. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            bar, self._bar = self._bar, None
            if not error and self.epochs:
                if bar.unit != "epoch":
                    bar.bar_format = CLOSED_FORMAT
                bar.set_postfix_str(self.bar_postfix(), refresh=False)
            bar.close()
        elif self.epochs and not error and not self.enabled:
            log.info("%s", self.summary())
        if self._redirect is not None:
            redirect, self._redirect = self._redirect, None
            redirect.__exit__(None, None, None)

    def __enter__(self) -> EpochProgress:
        if self.enabled and self._redirect is None and not self._closed:
            from tqdm.contrib.logging import logging_redirect_tqdm

            # log lines above the bar, not through it
            self._redirect = logging_redirect_tqdm(tqdm_class=bar_class())
            self._redirect.__enter__()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(error=kind is not None)

