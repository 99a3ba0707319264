"""Sweeping gene node models: a ``GeneRunConfig`` per trial, scored by cross-validation on
the folds' validation genes, the running mean reported after every fold."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molgraph.genes.config import GeneDataConfig, GeneModelConfig, GeneRunConfig, GeneTrainConfig
from molgraph.runtime.configs import flatten, from_dict, to_dict, with_values
from molgraph.runtime.files import write_json
from molgraph.sweep.problems import StepHook, TrialOutcome
from molgraph.sweep.space import SearchSpace, load_space, space_from_dict
from molgraph.tracking.contracts import Callback, Tracker
from molgraph.training.job import RUN_CONFIG

#: The default space of ``molgraph genes sweep``.
GENE_SPACE = {
    "model.name": {"type": "categorical", "choices": ["gcn", "sage", "gat", "mlp"]},
    "model.hidden_channels": {"type": "int", "low": 32, "high": 256, "step": 32},
    "model.num_layers": {"type": "int", "low": 1, "high": 3},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.7, "step": 0.05},
    "model.input_dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.05},
    "model.residual": {"type": "categorical", "choices": [True, False]},
    # Correct & Smooth is left out: trials are judged on the epochs' validation AUPRC, which
    # is taken before it
    "model.use_labels": {"type": "categorical", "choices": ["none", "input"]},
    "model.heads": {"type": "categorical", "choices": [1, 2, 4, 8],
                    "when": {"model.name": "gat"}},
    "train.lr": {"type": "float", "low": 1.0e-3, "high": 5.0e-2, "log": True},
    "train.weight_decay": {"type": "float", "low": 1.0e-7, "high": 1.0e-2, "log": True},
}



class _FoldBest:
    """Hears a cross-validation's epochs (``fold{i}_val_pr_auc``), keeps each fold's best
    validation value and history, and hands the running mean on after each fold."""

    def __init__(self, metric: str, on_step: StepHook | None) -> None:
        self.metric, self.on_step = metric, on_step
        self.best: list[float] = []
        self.rows: list[dict[str, float]] = []
        self._fold = -1

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        prefix = next(iter(metrics)).split("_", 1)[0]
        fold = int(prefix[4:]) if prefix.startswith("fold") else self._fold
        if fold != self._fold:
            self.end_fold()
            self._fold = fold
            self.best.append(-math.inf)
        values = {k.split("_", 1)[1]: v for k, v in metrics.items()}
        loss = values.get("train_loss", 0.0)
        if not math.isfinite(loss):
            raise FloatingPointError(f"fold {fold}: train loss not finite at epoch {epoch}")
        self.rows.append({"fold": fold, "epoch": epoch, **values})
        value = values.get(f"val_{self.metric}", math.nan)
        if math.isfinite(value):
            self.best[-1] = max(self.best[-1], value)

    def end_fold(self) -> None:
        """The running mean to the pruner; none while no fold has a finite score (a NaN
        would be pruned, hiding why: the trial then fails saying so)."""
        mean = self.mean()
        if self.on_step is not None and math.isfinite(mean):
            self.on_step(self._fold, mean)

    def mean(self) -> float:
        finite = [b for b in self.best if math.isfinite(b)]
        return float(np.mean(finite)) if finite else math.nan


class GeneProblem:
    """Gene node models: a ``GeneRunConfig`` per trial, scored by cross-validation on the
    folds' validation genes (mean best validation AUPRC), one value per fold for the pruner.
    The network, features, labels and folds are read once per process."""

    kind = "genes"
    config_type = GeneRunConfig
    same_data_keys = ("data", "folds", "val_fraction", "seed")
    metric, higher_is_better = "pr_auc", True

    def __init__(self, base: GeneRunConfig) -> None:
        self.base = base
        self._data: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_data": None}

    def check(self) -> None:
        data = self.base.data
        if not data.network or not (data.labels or data.positives):
            raise ValueError("a gene sweep needs --network and --labels (or --positives and "
                             "--negatives)")

    def with_values(self, values: dict[str, Any]) -> GeneRunConfig:
        return with_values(self.base, values)

    def space(self, path: str | Path | None = None) -> SearchSpace:
        """The YAML space at ``path`` (entries checked against ``GeneRunConfig``), or the
        default gene space (:data:`GENE_SPACE`)."""
        if path is None:
            return space_from_dict(GENE_SPACE, "the default gene search space",
                                   gene_space_base())
        return load_space(path, gene_space_base())

    def from_dict(self, data: dict[str, Any]) -> GeneRunConfig:
        return from_dict(GeneRunConfig, data)

    def context(self) -> dict[str, Any]:
        return flatten(self.base)

    def same_data(self) -> dict[str, Any]:
        return {k: v for k, v in to_dict(self.base).items() if k in self.same_data_keys}

    def input_files(self) -> dict[str, str]:
        """The files the trials read, by setting: whose contents a resumed study checks."""
        data = self.base.data
        found = {f"data.{k}": getattr(data, k) for k in (
            "network", "go", "labels", "positives", "negatives", "splits", "groups", "id_map")}
        found.update({f"data.features[{i}]": f for i, f in enumerate(data.features)})
        found["data.network_options.info"] = data.network_options.get("info")
        return {k: v for k, v in found.items() if v}

    def max_steps(self, space: SearchSpace) -> int:
        """The pruner's resource: folds."""
        return max(self.base.folds, 1)

    def load(self) -> None:
        """Read the network, features, labels and folds now; they are kept for every trial."""
        self._inputs()

    def _inputs(self) -> Any:
        if self._data is None:
            from molgraph.genes.workflow import load_gene_data, make_folds

            data = load_gene_data(self.base.data)
            folds, _ = make_folds(data, self.base)
            self._data = data, folds
        return self._data

    def train(self, config: GeneRunConfig, tracker: Tracker | None = None,
              on_step: StepHook | None = None) -> TrialOutcome:
        from molgraph.genes.train import cross_validate

        started = time.perf_counter()
        data, folds = self._inputs()
        if tracker is not None:
            tracker.log_params(flatten(config))
        recorder = _FoldBest(self.metric, on_step)
        callbacks: list[Callback] = [recorder]
        # test-fold scores are computed by cross_validate and deliberately dropped here
        cv = cross_validate(data.graph, data.x, data.labels, folds, config.model, config.train,
                            seed=config.seed, callbacks=callbacks, tracker=tracker)
        recorder.end_fold()  # the last fold's step, as every epoch's for molecules
        value = recorder.mean()
        if not math.isfinite(value):
            raise FloatingPointError(f"no finite validation {self.metric} in any fold")
        val = {self.metric: value, **{f"{self.metric}_fold{i}": b
                                      for i, b in enumerate(recorder.best)}}
        best_epoch = int(np.median(cv.best_epochs))
        seconds = round(time.perf_counter() - started, 2)
        plain = to_dict(config)

        def write(directory: Path) -> None:
            directory.mkdir(parents=True, exist_ok=True)
            write_json(directory / RUN_CONFIG, plain)
            write_json(directory / "metrics.json", {"val": val, "best_epoch": best_epoch,
                                                    "best_epochs": cv.best_epochs,
                                                    "seconds": seconds,
                                                    "model": config.model.name,
                                                    "data": config.data.network})
            pd.DataFrame(recorder.rows).to_csv(directory / "history.csv", index=False)

        return TrialOutcome(value, val, best_epoch, len(recorder.rows), seconds, plain, write)

    def evaluate(self, config: GeneRunConfig, out: Path, baseline: bool = False
                 ) -> tuple[dict[str, float], dict[str, float] | None]:
        """``genes train`` with ``config`` into ``out``: cross-validated test metrics (mean
        over folds), the final model and, with ``baseline``, the mean test metrics of the
        baseline chosen on validation, on the same folds."""
        from molgraph.genes.workflow import train_genes

        metrics = train_genes(replace(config, baseline=baseline and config.baseline), out)
        found = metrics.get("baseline")
        chosen = None if found is None else {k: float(v) for k, v in
                                             found[found["best"]]["mean"].items()}
        return {k: float(v) for k, v in metrics["cv"]["mean"].items()}, chosen

    #: a trial is cross-validation only, without a model to keep
    trials_keep_models = False

    def train_best(self, config: dict[str, Any], directory: Path) -> None:
        """``best/`` for genes: ``genes train`` with the best configuration (the folds again,
        then the final model on every labelled gene)."""
        from molgraph.genes.workflow import train_genes

        train_genes(self.from_dict(config), directory)


def gene_space_base() -> GeneRunConfig:
    """A gene configuration with every default, for checking search-space entries."""
    return GeneRunConfig(GeneDataConfig(network="", format="string"), GeneModelConfig(),
                         GeneTrainConfig())
