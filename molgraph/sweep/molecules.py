"""Sweeping molecular property models: a ``RunConfig`` per trial, the molecules featurized
once per process.

A trial is scored on the run's validation part (the validation metric reported every epoch,
for the pruner), or, less noisily, by cross-validation inside the training part: ``cv`` folds
(``--cv K``) or ``val_repeats`` validation parts drawn again from it (``--val-repeats R``),
every epoch of every fold reported to the pruner (so a bad setting is still pruned within its
first fold). The test part is never used by a trial."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molgraph.data.dataset import MoleculeDataset
from molgraph.data.split import kfold_indices, split_indices
from molgraph.runtime.files import write_json
from molgraph.sweep.problems import StepHook, TrialOutcome
from molgraph.sweep.space import SearchSpace, default_space, load_space
from molgraph.tracking.contracts import Tracker
from molgraph.training.config import RunConfig
from molgraph.training.job import (
    RUN_CONFIG,
    TrainRun,
    add_baseline,
    load_run_data,
    resolve_labels,
    run_split,
    train_on_dataset,
    write_run,
)
from molgraph.training.metrics import monitored_metric


class _StepReporter:
    """A training callback: checks each epoch is finite and hands the validation metric on
    (``on_step`` ``None``: only the check, as in a cross-validation's folds)."""

    def __init__(self, key: str, on_step: StepHook | None) -> None:
        self.key, self.on_step = key, on_step

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        value, loss = metrics.get(self.key, math.nan), metrics.get("train_loss", 0.0)
        if not (math.isfinite(value) and math.isfinite(loss)):
            raise FloatingPointError(f"not finite at epoch {epoch}: train_loss={loss}, "
                                     f"{self.key}={value}")
        if self.on_step is not None:
            self.on_step(epoch, value)


class _FoldSteps(_StepReporter):
    """The pruner's view of a cross-validated trial: a step per epoch of every fold (fold
    ``k``'s epoch ``e`` is step ``k·epochs + e``), valued at the mean of the folds' best
    validation metric so far (the finished folds' kept values and this fold's best yet). A bad
    setting is then pruned within its first fold, as a trial scored on one validation part is,
    not only after whole folds."""

    def __init__(self, key: str, on_step: StepHook | None, fold: int, epochs: int,
                 finished: list[float], higher_is_better: bool) -> None:
        super().__init__(key, None)
        self.report, self.offset, self.finished = on_step, fold * epochs, finished
        self.better = max if higher_is_better else min
        self.best: float | None = None

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        super().on_epoch_end(epoch, metrics)
        value = metrics[self.key]
        self.best = value if self.best is None else self.better(self.best, value)
        if self.report is not None:
            self.report(self.offset + epoch, float(np.mean([*self.finished, self.best])))


class _FoldTracker:
    """A trial's tracker seen by one fold: its metrics as ``fold<k>_<name>`` per epoch, the
    settings once (from the first fold)."""

    def __init__(self, tracker: Tracker, fold: int) -> None:
        self.tracker, self.fold = tracker, fold

    def log_params(self, params: dict[str, Any]) -> None:
        if self.fold == 0:
            self.tracker.log_params(params)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.tracker.log_metrics({f"fold{self.fold}_{k}": v for k, v in metrics.items()}, step)


class MoleculeProblem:
    """Molecular property models: a ``RunConfig`` per trial, the molecules featurized once per
    process; one value per epoch for the pruner (per epoch of every fold with ``cv`` or
    ``val_repeats``).

    Args:
        base: the configuration every trial starts from.
        dataset: the molecules, when already featurized (else read from ``base.data``).
        cv: score a trial by ``cv``-fold cross-validation inside the run's training part
            (training + validation molecules; folds made as ``base.split`` says, scaffold
            groups kept whole), the mean of the folds' kept validation metric.
        val_repeats: or by ``val_repeats`` validation parts drawn again from the training
            part (``base.split`` with seeds ``seed``, ``seed + 1``, ...), the mean.
    """

    kind = "molecules"
    config_type = RunConfig
    #: settings every trial of a study must share, or validation scores are not comparable
    same_data_keys = ("data", "task", "split", "split_sizes", "seed")

    def __init__(self, base: RunConfig, dataset: MoleculeDataset | None = None, cv: int = 0,
                 val_repeats: int = 0) -> None:
        if cv and val_repeats:
            raise ValueError("score trials by --cv or by --val-repeats, not both")
        if cv == 1 or val_repeats < 0 or cv < 0:
            raise ValueError(f"--cv needs at least 2 folds and --val-repeats at least 1, not "
                             f"{cv} and {val_repeats}")
        self.base, self._dataset = base, dataset
        self.cv, self.val_repeats = cv, val_repeats
        self.metric, self.higher_is_better = monitored_metric(base.task)
        #: a trial's directory holds its model (copied to ``best/``) unless it is scored on
        #: folds: then ``best/`` is trained on the run's split at the end
        self.trials_keep_models = not (cv or val_repeats)
        self._folds: list[tuple[np.ndarray, ...]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None, "_folds": None}

    def check(self) -> None:
        self.base.check_data()

    def with_values(self, values: dict[str, Any]) -> RunConfig:
        return self.base.with_values(values)

    def space(self, path: str | Path | None = None) -> SearchSpace:
        """The YAML space at ``path``, or the default one."""
        return default_space() if path is None else load_space(path)

    def from_dict(self, data: dict[str, Any]) -> RunConfig:
        return RunConfig.from_dict(data)

    def context(self) -> dict[str, Any]:
        return self.base.flat()

    def same_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.base.to_dict().items() if k in self.same_data_keys}
        data["data"] = {**data["data"], "cache": None}
        if self.cv or self.val_repeats:  # a study scored one way is not continued another
            data.update(cv=self.cv, val_repeats=self.val_repeats)
        return data

    def input_files(self) -> dict[str, str]:
        """The files the trials read, by setting: whose contents a resumed study checks."""
        data = self.base.data
        found = {"data.path": data.path, "data.test_data": data.test_data,
                 "data.split_file": data.split_file}
        return {k: v for k, v in found.items() if v}

    def max_steps(self, space: SearchSpace) -> int:
        """The pruner's resource: epochs, the most the space can give (times the folds with
        ``cv`` or ``val_repeats``)."""
        folds = self.cv or self.val_repeats or 1
        param = next((p for p in space.params if p.name == "train.epochs"), None)
        if param is None:
            return folds * self.base.train.epochs
        values = {"fixed": [param.value], "categorical": list(param.choices)}.get(
            param.kind, [param.high])
        return folds * int(max(values))

    def load(self) -> None:
        """Read (or featurize) the molecules now; they are kept for every trial."""
        _ = self.dataset

    @property
    def dataset(self) -> MoleculeDataset:
        if self._dataset is None:
            self._dataset = load_run_data(self.base, True if self.base.data.cache else None)
        return self._dataset

    def folds(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(train, validation, no test)`` index triples of the trials' cross-validation,
        all inside the training part of the run's split (made once)."""
        if self._folds is None:
            dataset = self.dataset
            train, val, _ = run_split(dataset, self.base)
            pool = np.sort(np.concatenate([train, val]))
            smiles = [dataset.smiles[i] for i in pool]
            labels = resolve_labels(dataset, self.base)[0][pool]
            split, seed = self.base.split, self.base.seed
            if self.cv:
                pairs = kfold_indices(smiles, split, self.cv, seed, labels)
            else:
                share = len(val) / len(pool)
                pairs = []
                for r in range(self.val_repeats):  # two held-out halves, as make_split does
                    a, b, c = split_indices(smiles, split, (1 - share, share / 2, share / 2),
                                            seed + r, labels)
                    pairs.append((a, np.sort(np.concatenate([b, c]))))
            none = np.zeros(0, dtype=np.int64)
            self._folds = [(pool[a], pool[b], none) for a, b in pairs]
        return self._folds

    def train(self, config: RunConfig, tracker: Tracker | None = None,
              on_step: StepHook | None = None) -> TrialOutcome:
        if self.cv or self.val_repeats:
            return self._cross_validate(config, tracker, on_step)
        reporter = _StepReporter(f"val_{self.metric}", on_step)
        run = train_on_dataset(self.dataset, config, [reporter], tracker)
        value = float(run.metrics["val"][self.metric])
        val = {k: float(v) for k, v in run.metrics["val"].items() if math.isfinite(v)}
        dataset = self.dataset
        return TrialOutcome(value, val, run.fit.best_epoch, len(run.fit.history),
                            round(run.seconds, 2), run.config.to_dict(),
                            lambda directory: write_molecule_trial(run, dataset, directory))

    def _cross_validate(self, config: RunConfig, tracker: Tracker | None,
                        on_step: StepHook | None) -> TrialOutcome:
        """Train ``config`` on every fold; the mean of the folds' kept validation metric,
        handed to ``on_step`` every epoch (see :class:`_FoldSteps`)."""
        runs: list[TrainRun] = []
        key = f"val_{self.metric}"
        for k, split in enumerate(self.folds()):
            fold_tracker = None if tracker is None else _FoldTracker(tracker, k)
            finished = [r.metrics["val"][self.metric] for r in runs]
            steps = _FoldSteps(key, on_step, k, config.train.epochs, finished,
                               self.higher_is_better)
            runs.append(train_on_dataset(self.dataset, config, [steps], fold_tracker,
                                         split=split))
        names = [n for n in runs[0].metrics["val"] if not n.rsplit("_", 1)[-1].isdigit()]
        val = {n: float(np.nanmean([r.metrics["val"][n] for r in runs])) for n in names}
        val.update({f"{self.metric}_fold{k}": float(r.metrics["val"][self.metric])
                    for k, r in enumerate(runs)})
        val = {n: v for n, v in val.items() if math.isfinite(v)}
        best_epoch = int(np.median([r.fit.best_epoch for r in runs]))
        seconds = round(sum(r.seconds for r in runs), 2)
        history = [{"fold": k, **row} for k, r in enumerate(runs) for row in r.fit.history]

        def write(directory: Path) -> None:
            directory.mkdir(parents=True, exist_ok=True)
            runs[0].config.save(directory / RUN_CONFIG)
            write_json(directory / "metrics.json", {
                "val": val, "folds": len(runs), "best_epoch": best_epoch,
                "best_epochs": [r.fit.best_epoch for r in runs], "seconds": seconds,
                "model": config.model.name, "data": config.data.path, "task": config.task})
            pd.DataFrame(history).to_csv(directory / "history.csv", index=False)

        return TrialOutcome(val[self.metric] if self.metric in val else math.nan, val,
                            best_epoch, len(history), seconds, runs[0].config.to_dict(), write)

    def train_best(self, config: dict[str, Any], directory: Path) -> None:
        """``best/`` of a sweep scored on folds: the best configuration trained on the run's
        training and validation parts, its test part left alone."""
        train, val, _ = run_split(self.dataset, self.base)
        run = train_on_dataset(self.dataset, self.from_dict(config),
                               split=(train, val, np.zeros(0, dtype=np.int64)))
        write_molecule_trial(run, self.dataset, directory)

    def evaluate(self, config: RunConfig, out: Path,
                 baseline: bool = False) -> tuple[dict[str, float], dict[str, float] | None]:
        """Retrain ``config`` (its seed decides the split) and write the run to ``out``; its
        test metrics, touched here once, and with ``baseline`` (and ``config.baseline``)
        those of the ECFP baseline on the same split."""
        run = train_on_dataset(self.dataset, config)
        if baseline and config.baseline:
            add_baseline(run, self.dataset)
        write_run(run, self.dataset, out)
        test = {k: float(v) for k, v in run.metrics["test"].items()}
        return test, None if run.baseline is None else dict(run.baseline["test"])

def write_molecule_trial(run: TrainRun, dataset: MoleculeDataset, directory: Path) -> Path:
    """``model/``, ``run_config.json``, ``metrics.json`` (validation only), ``history.csv``
    and ``val_predictions.csv``: a directory ``molgraph predict --model`` accepts."""
    run.model.save(directory / "model")
    run.config.save(directory / RUN_CONFIG)
    write_json(directory / "metrics.json", {
        "val": run.metrics["val"], "best_epoch": run.fit.best_epoch,
        "epochs_run": len(run.fit.history), "seconds": round(run.seconds, 2),
        "model": run.config.model.name, "data": run.config.data.path,
        "task": run.config.task})
    pd.DataFrame(run.fit.history).to_csv(directory / "history.csv", index=False)
    val = run.split[1]
    frame = pd.DataFrame({"row": dataset.rows[val], "smiles": [dataset.smiles[i] for i in val]})
    for j, name in enumerate(run.model.target_names):
        frame[name] = run.labels[val, j]
        frame[f"{name}_pred"] = run.val_predictions[:, j]
    frame.to_csv(directory / "val_predictions.csv", index=False)
    return directory
