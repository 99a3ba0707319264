"""One trial of a sweep: sample settings, train the problem's model, report every step.

The objective returns the kept model's validation metric (RMSE or ROC-AUC for molecules, as
``monitored_metric`` says; the folds' mean AUPRC for genes); trials are compared on
validation only, and nothing about the test set is stored in the study or written to a
trial's directory. A trial that raises (a refused
setting, NaN loss, out of memory) records why as the user attribute ``fail_reason`` and
re-raises, so Optuna marks it FAILED; ``run_study`` lets the sweep go on.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from molgraph.runtime.files import write_json
from molgraph.runtime.processes import process_identity
from molgraph.sweep.problems import Problem
from molgraph.sweep.space import SearchSpace
from molgraph.tracking.contracts import Tracker

#: ``(trial_number, settings) -> Tracker | None``: a tracker for one trial's training (e.g. an
#: MLflow child run). When the tracker is also a context manager, the training runs inside
#: ``with tracker:``, so it can close its run, as failed when the trial raises.
TrackerFactory = Callable[[int, dict[str, Any]], Tracker | None]


def owner() -> dict[str, Any]:
    """Who runs a trial (host, pid, process start time), stored on it so a later start can
    tell whether its process died (Optuna's ``JournalStorage`` has no heartbeat)."""
    pid = os.getpid()
    identity = process_identity(pid)
    return {"host": socket.gethostname(), "pid": pid,
            "started": identity[1] if identity else None}


def trial_dir(out: str | Path, number: int) -> Path:
    return Path(out) / "trials" / f"{number:04d}"


def fail_reason(err: BaseException) -> str:
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    name = type(err).__name__
    if "OutOfMemory" in name or "out of memory" in str(err):
        return f"out of memory: {err}"[:500]
    return f"{name}: {err}"[:500]


def pruning_hook(trial: optuna.Trial, key: str) -> Callable[[int, float], None]:
    """Reports the validation metric at each step (an epoch; a fold for genes) to the trial
    (``trial.intermediate_values``), and stops a trial the pruner gives up on."""

    def on_step(step: int, value: float) -> None:
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} ({key} = {value:.4g})")
    return on_step


class Objective:
    """``objective(trial) -> best validation metric`` of a problem (molecules or genes, see
    ``problems``) whose data are loaded once per process; with ``out`` each completed trial
    is written to ``out/trials/NNNN/``."""

    def __init__(self, problem: Problem, space: SearchSpace, out: str | Path | None = None,
                 tracker_factory: TrackerFactory | None = None) -> None:
        self.problem, self.space = problem, space
        self.out = None if out is None else Path(out)
        self.tracker_factory = tracker_factory
        self.metric = problem.metric
        self.context = problem.context()

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", owner())
        if self.out is not None:  # where its directory is, for sweeps sharing a storage
            trial.set_user_attr("out", str(self.out.resolve()))
        try:
            return self._run(trial)
        except optuna.TrialPruned:
            raise
        except (Exception, KeyboardInterrupt) as err:
            trial.set_user_attr("fail_reason", fail_reason(err))
            if "OutOfMemory" in type(err).__name__:
                _free_gpu()
            raise

    def _run(self, trial: optuna.Trial) -> float:
        settings = self.space.sample(trial, self.context)
        trial.set_user_attr("settings", settings)
        config = self.problem.with_values(settings)
        tracker = self.tracker_factory(trial.number, settings) if self.tracker_factory else None
        scope = tracker if hasattr(tracker, "__enter__") else contextlib.nullcontext()
        tag = getattr(tracker, "set_tags", lambda tags: None)  # MLflow child runs have tags
        tag({"optuna.trial_number": trial.number})
        pruned = None
        key = f"val_{self.metric}"
        with scope:
            try:
                outcome = self.problem.train(config, tracker, pruning_hook(trial, key))
            except optuna.TrialPruned as err:  # an MLflow run stopped early: KILLED
                tag({"optuna.state": "PRUNED"})
                getattr(tracker, "finish", lambda status: None)("KILLED")
                pruned = err
            except Exception as err:
                tag({"optuna.state": "FAIL", "optuna.fail_reason": fail_reason(err)})
                raise
            else:
                if not math.isfinite(outcome.value):
                    tag({"optuna.state": "FAIL"})
                    raise FloatingPointError(f"validation {self.metric} is {outcome.value}")
                if tracker is not None:  # validation only: a sweep never looks at test data
                    tracker.log_metrics({f"best_{key}": outcome.value},
                                        step=outcome.best_epoch)
                tag({"optuna.state": "COMPLETE"})
        if pruned is not None:
            raise pruned
        trial.set_user_attr("val", outcome.val)
        trial.set_user_attr("best_epoch", outcome.best_epoch)
        trial.set_user_attr("epochs_run", outcome.epochs_run)
        trial.set_user_attr("seconds", outcome.seconds)
        trial.set_user_attr("config", outcome.config)
        if self.out is not None:
            directory = trial_dir(self.out, trial.number)
            outcome.write(directory)
            write_json(directory / "trial.json", {"trial": trial.number,
                                                  key: outcome.value})
        return outcome.value


def _free_gpu() -> None:
    """After an out-of-memory trial, give the cached blocks back before the next one."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
