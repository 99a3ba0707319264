"""One trial of a sweep: sample settings, train on data featurized once, report every epoch.

The objective returns the best epoch's validation metric (RMSE or ROC-AUC, as
``monitored_metric`` says); trials are compared on validation only, and nothing about the test
set is stored in the study or written to a trial's directory. A trial that raises (a refused
setting, NaN loss, out of memory) records why as the user attribute ``fail_reason`` and
re-raises, so Optuna marks it FAILED; ``run_sweep`` lets the sweep go on.
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
import pandas as pd

from molgraph.data.dataset import MoleculeDataset
from molgraph.runtime.files import write_json
from molgraph.runtime.processes import process_identity
from molgraph.sweep.space import SearchSpace
from molgraph.tracking.contracts import Tracker
from molgraph.training.config import RunConfig
from molgraph.training.job import RUN_CONFIG, TrainRun, train_on_dataset
from molgraph.training.metrics import monitored_metric

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


class PruningReporter:
    """A training callback: checks each epoch is finite, reports the validation metric to the
    trial (``trial.intermediate_values``), and stops a trial the pruner gives up on."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.key = trial, f"val_{metric}"

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        value, loss = metrics.get(self.key, math.nan), metrics.get("train_loss", 0.0)
        if not (math.isfinite(value) and math.isfinite(loss)):
            raise FloatingPointError(f"not finite at epoch {epoch}: train_loss={loss}, "
                                     f"{self.key}={value}")
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({self.key} = {value:.4g})")


def write_trial(run: TrainRun, directory: Path, number: int) -> Path:
    """``model/``, ``run_config.json``, ``metrics.json`` (validation only) and
    ``history.csv``: a directory ``molgraph predict --model`` accepts."""
    run.model.save(directory / "model")
    run.config.save(directory / RUN_CONFIG)
    write_json(directory / "metrics.json", {
        "trial": number, "val": run.metrics["val"], "best_epoch": run.fit.best_epoch,
        "epochs_run": len(run.fit.history), "seconds": round(run.seconds, 2),
        "model": run.config.model.name, "data": run.config.data.path})
    pd.DataFrame(run.fit.history).to_csv(directory / "history.csv", index=False)
    return directory


class Objective:
    """``objective(trial) -> best validation metric``, over a data set loaded once per
    process; with ``out`` each completed trial is written to ``out/trials/NNNN/``."""

    def __init__(self, dataset: MoleculeDataset, base: RunConfig, space: SearchSpace,
                 out: str | Path | None = None,
                 tracker_factory: TrackerFactory | None = None) -> None:
        self.dataset, self.base, self.space = dataset, base, space
        self.out = None if out is None else Path(out)
        self.tracker_factory = tracker_factory
        self.metric, self.higher_is_better = monitored_metric(base.task)
        self.context = base.flat()

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", owner())
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
        config = self.base.with_values(settings)
        tracker = self.tracker_factory(trial.number, settings) if self.tracker_factory else None
        scope = tracker if hasattr(tracker, "__enter__") else contextlib.nullcontext()
        tag = getattr(tracker, "set_tags", lambda tags: None)  # MLflow child runs have tags
        tag({"optuna.trial_number": trial.number})
        pruned = None
        with scope:
            try:
                run = train_on_dataset(self.dataset, config,
                                       [PruningReporter(trial, self.metric)], tracker)
            except optuna.TrialPruned as err:  # a finished run, marked as pruned
                tag({"optuna.state": "PRUNED"})
                pruned = err
            except Exception as err:
                tag({"optuna.state": "FAIL", "optuna.fail_reason": fail_reason(err)})
                raise
            else:
                value = float(run.metrics["val"][self.metric])
                if not math.isfinite(value):
                    tag({"optuna.state": "FAIL"})
                    raise FloatingPointError(f"validation {self.metric} is {value}")
                if tracker is not None:  # validation only: a sweep never looks at test data
                    tracker.log_metrics({f"best_val_{self.metric}": value},
                                        step=run.fit.best_epoch)
                tag({"optuna.state": "COMPLETE"})
        if pruned is not None:
            raise pruned
        trial.set_user_attr("val", {k: float(v) for k, v in run.metrics["val"].items()
                                    if math.isfinite(v)})
        trial.set_user_attr("best_epoch", run.fit.best_epoch)
        trial.set_user_attr("epochs_run", len(run.fit.history))
        trial.set_user_attr("seconds", round(run.seconds, 2))
        trial.set_user_attr("config", run.config.to_dict())
        if self.out is not None:
            write_trial(run, trial_dir(self.out, trial.number), trial.number)
        return value


def _free_gpu() -> None:
    """After an out-of-memory trial, give the cached blocks back before the next one."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
