"""Sweeping molecular property models: a ``RunConfig`` per trial, the molecules featurized
once per process, the validation metric reported every epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from molgraph.data.dataset import MoleculeDataset
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
    train_on_dataset,
    write_run,
)
from molgraph.training.metrics import monitored_metric


class _StepReporter:
    """A training callback: checks each epoch is finite and hands the validation metric on."""

    def __init__(self, key: str, on_step: StepHook | None) -> None:
        self.key, self.on_step = key, on_step

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        value, loss = metrics.get(self.key, math.nan), metrics.get("train_loss", 0.0)
        if not (math.isfinite(value) and math.isfinite(loss)):
            raise FloatingPointError(f"not finite at epoch {epoch}: train_loss={loss}, "
                                     f"{self.key}={value}")
        if self.on_step is not None:
            self.on_step(epoch, value)


class MoleculeProblem:
    """Molecular property models: a ``RunConfig`` per trial, the molecules featurized once per
    process, one value per epoch for the pruner."""

    kind = "molecules"
    config_type = RunConfig
    #: settings every trial of a study must share, or validation scores are not comparable
    same_data_keys = ("data", "task", "split", "split_sizes", "seed")

    def __init__(self, base: RunConfig, dataset: MoleculeDataset | None = None) -> None:
        self.base, self._dataset = base, dataset
        self.metric, self.higher_is_better = monitored_metric(base.task)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None}

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
        return data

    def max_steps(self, space: SearchSpace) -> int:
        """The pruner's resource: epochs, the most the space can give."""
        param = next((p for p in space.params if p.name == "train.epochs"), None)
        if param is None:
            return self.base.train.epochs
        values = {"fixed": [param.value], "categorical": list(param.choices)}.get(
            param.kind, [param.high])
        return int(max(values))

    def load(self) -> None:
        """Read (or featurize) the molecules now; they are kept for every trial."""
        _ = self.dataset

    @property
    def dataset(self) -> MoleculeDataset:
        if self._dataset is None:
            self._dataset = load_run_data(self.base, True if self.base.data.cache else None)
        return self._dataset

    def train(self, config: RunConfig, tracker: Tracker | None = None,
              on_step: StepHook | None = None) -> TrialOutcome:
        reporter = _StepReporter(f"val_{self.metric}", on_step)
        run = train_on_dataset(self.dataset, config, [reporter], tracker)
        value = float(run.metrics["val"][self.metric])
        val = {k: float(v) for k, v in run.metrics["val"].items() if math.isfinite(v)}
        dataset = self.dataset
        return TrialOutcome(value, val, run.fit.best_epoch, len(run.fit.history),
                            round(run.seconds, 2), run.config.to_dict(),
                            lambda directory: write_molecule_trial(run, dataset, directory))

    #: a trial's directory holds its model, so ``best/`` is a copy of the best one
    trials_keep_models = True

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
