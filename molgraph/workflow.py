"""The training job: data set → split → model → fit → metrics → saved model and predictions.

``molgraph train`` and the Python API both call :func:`train_from_file`; benchmarks that loop
over seeds call :func:`train_on_dataset` to featurize once.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.dataset import MoleculeDataset, load_dataset
from molgraph.featurize import ATOM_FEATURES, BOND_FEATURES
from molgraph.metrics import compute_metrics
from molgraph.models import ModelConfig, build_model
from molgraph.saved import TrainedModel
from molgraph.split import split_indices
from molgraph.train import Callback, FitResult, Tracker, TrainConfig, fit, seed_everything

log = logging.getLogger(__name__)


@dataclass
class TrainRun:
    """Result of a training job.

    Attributes:
        model: the trained model (best validation epoch).
        metrics: ``{"val": {...}, "test": {...}}`` in label units.
        fit: epochs, best epoch and history.
        split: indices (into the valid molecules) of train, validation and test.
        test_predictions: ``[len(test), n_targets]`` predictions for the test molecules.
        seconds: wall time of the job.
    """

    model: TrainedModel
    metrics: dict[str, dict[str, float]]
    fit: FitResult
    split: tuple[np.ndarray, np.ndarray, np.ndarray]
    test_predictions: np.ndarray
    seconds: float


def _pick(options: dict | None, cls: type) -> dict:
    """Options that belong to dataclass ``cls``; unknown keys are an error, not ignored."""
    options = dict(options or {})
    names = {f.name for f in fields(cls)}
    unknown = set(options) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} options {sorted(unknown)}; "
                         f"known: {sorted(names)}")
    return options


def train_on_dataset(
    dataset: MoleculeDataset,
    task: str = "regression",
    model: str = "dmpnn",
    split: str = "scaffold",
    seed: int = 0,
    epochs: int = 50,
    sizes: Sequence[float] = (0.8, 0.1, 0.1),
    model_options: dict | None = None,
    train_options: dict | None = None,
    callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None,
) -> TrainRun:
    """Split ``dataset``, train a model named ``model`` and evaluate it on validation and test.

    Args:
        dataset: from :func:`molgraph.dataset.load_dataset`, with targets.
        task: ``regression`` or ``classification``.
        model: ``gcn``, ``gat``, ``gine``, ``attentivefp`` or ``dmpnn``.
        split: ``random``, ``scaffold`` or ``stratified``.
        seed: fixes the split, initialisation, shuffling and dropout.
        epochs: maximum epochs (early stopping on validation may end sooner).
        sizes: train/validation/test fractions.
        model_options: ``ModelConfig`` fields, e.g. ``{"hidden_channels": 300}``.
        train_options: ``TrainConfig`` fields, e.g. ``{"lr": 1e-3, "device": "cuda"}``.
        callbacks: receive each epoch's metrics (e.g. Optuna pruning).
        tracker: receives parameters and metrics (e.g. MLflow).
    """
    started = time.perf_counter()
    if dataset.table.targets is None or not dataset.table.target_names:
        raise ValueError("training needs target columns (--target-columns)")
    y = dataset.y
    train_idx, val_idx, test_idx = split_indices(dataset.smiles, split, sizes, seed, y)
    log.info("split %s (seed %d): %d train, %d validation, %d test molecules", split, seed,
             len(train_idx), len(val_idx), len(test_idx))
    config = TrainConfig(task=task, epochs=epochs, seed=seed,
                         **_pick(train_options, TrainConfig))
    seed_everything(seed)
    model_config = ModelConfig(name=model, atom_vocab=list(ATOM_FEATURES.values()),
                               bond_vocab=list(BOND_FEATURES.values()), out_channels=y.shape[1],
                               **_pick(model_options, ModelConfig))
    network = build_model(model_config)
    if tracker is not None:
        tracker.log_params({"model": model, "split": split, "seed": seed, "task": task,
                            **{f"model.{k}": v for k, v in asdict(model_config).items()
                               if k not in ("atom_vocab", "bond_vocab")}})
    graphs = dataset.graphs
    result = fit(network, (graphs.take(train_idx), y[train_idx]),
                 (graphs.take(val_idx), y[val_idx]), config, callbacks, tracker)
    trained = TrainedModel(network, task, dataset.table.target_names, result.scaler,
                           device=next(network.parameters()).device)
    predictions = {name: trained.predict_graphs(graphs.take(idx))
                   for name, idx in (("val", val_idx), ("test", test_idx))}
    metrics = {name: compute_metrics(task, y[idx], predictions[name])
               for name, idx in (("val", val_idx), ("test", test_idx))}
    return TrainRun(trained, metrics, result, (train_idx, val_idx, test_idx),
                    predictions["test"], time.perf_counter() - started)


def write_run(run: TrainRun, dataset: MoleculeDataset, out: str | Path,
              extra: dict | None = None) -> Path:
    """Write ``out/model/``, ``out/metrics.json`` and ``out/test_predictions.csv``."""
    out = Path(out)
    run.model.save(out / "model")
    summary = {**run.metrics, "best_epoch": run.fit.best_epoch,
               "epochs_run": len(run.fit.history), "seconds": round(run.seconds, 2),
               "n_train": len(run.split[0]), "n_val": len(run.split[1]),
               "n_test": len(run.split[2]), "n_invalid": len(dataset.errors), **(extra or {})}
    text = json.dumps(summary, indent=2, default=lambda v: None)
    (out / "metrics.json").write_text(text.replace("NaN", "null"))
    pd.DataFrame(run.fit.history).to_csv(out / "history.csv", index=False)
    test, pred = run.split[2], run.test_predictions
    frame = pd.DataFrame({"row": dataset.rows[test],
                          "smiles": [dataset.smiles[i] for i in test]})
    for j, name in enumerate(run.model.target_names):
        frame[name] = dataset.y[test, j]
        frame[f"{name}_pred"] = pred[:, j]
    frame.to_csv(out / "test_predictions.csv", index=False)
    return out


def train_from_file(
    data: str | Path,
    target_columns: Sequence[str],
    task: str = "regression",
    model: str = "dmpnn",
    split: str = "scaffold",
    seed: int = 0,
    epochs: int = 50,
    out: str | Path | None = None,
    smiles_column: str | None = None,
    model_options: dict | None = None,
    train_options: dict | None = None,
    callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None,
    cache_dir: Path | bool | None = True,
) -> TrainRun:
    """Train on a molecule file and, with ``out``, write the model, metrics and predictions.

    Example::

        run = molgraph.train_from_file("delaney.csv", ["measured log solubility in mols per litre"],
                                       model="dmpnn", split="scaffold", out="runs/esol")
        run.metrics["test"]["rmse"]
    """
    dataset = load_dataset(data, smiles_column, target_columns, cache_dir=cache_dir)
    run = train_on_dataset(dataset, task, model, split, seed, epochs,
                           model_options=model_options, train_options=train_options,
                           callbacks=callbacks, tracker=tracker)
    if out is not None:
        write_run(run, dataset, out, {"data": str(data), "model": model, "split": split,
                                      "seed": seed, "task": task})
    test = run.metrics["test"]
    key = "rmse" if task == "regression" else "roc_auc"
    log.info("test %s = %.4f", key, test.get(key, math.nan))
    return run
