"""A sweep a person can watch: trials done out of the total and the best so far.

:class:`TrialProgress` is an Optuna trial callback (``run_study(..., on_trial_end=[...])``).
On a terminal it draws a tqdm bar over the trials (``trials 8/40``, tqdm's rate and ETA) with
the best value, its trial and the pruned and failed counts, and writes a failed trial's line
(with why) above it; in logs and CI (stderr not a terminal) it logs one plain line per
finished trial::

    trial 7 COMPLETE val_rmse=0.812 (best 0.79, trial 3); 8/40 done

The counts are read from the study, so they include earlier runs of a resumed sweep and the
trials of other workers. It pickles (the bar is left behind and drawn again, in a worker
process, at its first finished trial), so with ``jobs > 1`` every worker draws the same line.
Optuna is not imported here: trial states are read by name.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import IO, Any

from molgraph.runtime.progress import bar_class, wants_bar

log = logging.getLogger(__name__)
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def _state(trial: Any) -> str:
    state = trial.state
    return getattr(state, "name", str(state))


class TrialProgress:
    """Counts the finished trials of a sweep and shows the best so far.

    Args:
        total: trials the study should hold at the end (``run_study``'s ``trials``).
        done_before: trials it held when this run started (where the bar starts).
        metric: name of the value, e.g. ``"val_rmse"``.
        direction: ``"minimize"`` or ``"maximize"`` (or Optuna's ``StudyDirection``).
        enabled: ``True`` for a bar, ``False`` for log lines, ``None``: a bar when stderr
            is a terminal.
        file: where the bar is drawn (default stderr).
    """

    def __init__(self, total: int, done_before: int = 0, metric: str = "value",
                 direction: Any = "minimize", enabled: bool | None = None,
                 file: IO[str] | None = None) -> None:
        self.total = int(total)
        self.done_before = int(done_before)
        self.metric = metric
        self.direction = str(getattr(direction, "name", direction)).lower()
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be minimize or maximize, not {direction!r}")
        self.enabled = wants_bar(enabled)  # decided once, here, also for worker processes
        self.file = file
        self.done = self.done_before
        self.counts = {state: 0 for state in FINISHED}
        self.best: float | None = None
        self.best_trial: int | None = None
        self._bar: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_bar"] = None  # a bar does not pickle; a worker draws its own
        if state["file"] is not None and not _picklable(state["file"]):
            state["file"] = None
        return state

    def __call__(self, study: Any, trial: Any) -> None:
        self._count(study)
        if self.enabled:
            if self.done > self.total and self._bar is None:
                return  # a resumed study past its total: the bar was ended
            bar = self._open_bar()
            if _state(trial) == "FAIL":  # why, above the bar (Optuna's traceback is -v only)
                bar.write(self.line(trial), file=self.file or sys.stderr)
            bar.set_postfix_str(self.postfix(), refresh=False)
            bar.update(max(0, min(self.done, self.total) - bar.n))
            if self.done >= self.total:
                self.close()
            return
        log.info("%s", self.line(trial))

    def _count(self, study: Any) -> None:
        counts = {state: 0 for state in FINISHED}
        best, best_trial = None, None
        higher = self.direction == "maximize"
        for trial in study.get_trials(deepcopy=False):
            state = _state(trial)
            if state not in counts:
                continue
            counts[state] += 1
            value = trial.value if state == "COMPLETE" else None
            if value is None or math.isnan(value):
                continue
            if best is None or (value > best if higher else value < best):
                best, best_trial = float(value), trial.number
        self.counts = counts
        self.done = sum(counts.values())
        self.best, self.best_trial = best, best_trial

    def _open_bar(self) -> Any:
        if self._bar is None:  # a widget in Jupyter, a text bar in a terminal
            self._bar = bar_class()(total=self.total, initial=min(self.done_before, self.total),
                                    desc="trials", unit="trial", file=self.file,
                                    dynamic_ncols=True, leave=True)
        return self._bar

    def postfix(self) -> str:
        """``best=0.79 (trial 3), 2 pruned, 1 failed``."""
        parts = []
        if self.best is not None:
            parts.append(f"best={_number(self.best)} (trial {self.best_trial})")
        parts.append(f"{self.counts['PRUNED']} pruned")
        parts.append(f"{self.counts['FAIL']} failed")
        return ", ".join(parts)

    def line(self, trial: Any) -> str:
        """``trial 7 COMPLETE val_rmse=0.812 (best 0.79, trial 3); 8/40 done``."""
        state = _state(trial)
        text = f"trial {trial.number} {state}"
        if state == "COMPLETE" and trial.value is not None:
            text += f" {self.metric}={_number(trial.value)}"
        elif state == "PRUNED" and trial.intermediate_values:
            step = max(trial.intermediate_values)
            text += (f" at step {step} ({self.metric}="
                     f"{_number(trial.intermediate_values[step])})")
        elif state == "FAIL" and trial.user_attrs.get("fail_reason"):
            text += f": {trial.user_attrs['fail_reason']}"
        if self.best is not None:
            text += f" (best {_number(self.best)}, trial {self.best_trial})"
        text += f"; {self.done}/{self.total} done"
        extra = [f"{self.counts[s]} {name}" for s, name in (("PRUNED", "pruned"),
                                                           ("FAIL", "failed")) if self.counts[s]]
        if extra:
            text += f" ({', '.join(extra)})"
        return text

    def summary(self) -> str:
        """``40/40 trials done (31 complete, 8 pruned, 1 failed), best val_rmse=0.79
        (trial 3)``."""
        text = (f"{self.done}/{self.total} trials done ({self.counts['COMPLETE']} complete, "
                f"{self.counts['PRUNED']} pruned, {self.counts['FAIL']} failed)")
        if self.best is not None:
            text += f", best {self.metric}={_number(self.best)} (trial {self.best_trial})"
        return text

    def close(self) -> None:
        """End the bar in this process (drawn as it stands). Safe to call twice."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.close()

    def __enter__(self) -> TrialProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _picklable(value: Any) -> bool:
    import pickle

    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True
