"""The gene loop reports to the same Callback / Tracker objects as the molecule loop."""

from __future__ import annotations

import json

import numpy as np
import torch

from molgraph.genes import (
    GeneDataConfig,
    GeneModelConfig,
    GeneRunConfig,
    GeneTrainConfig,
    fit_node_model,
    kfold_splits,
    labels_from_lists,
    structural_features,
    train_genes,
)
from molgraph.genes.train import graph_tensors
from molgraph.runtime.configs import flatten
from molgraph.tracking.contracts import StopTraining


class Recorder:
    """A callback and a tracker at once: keeps everything it is told."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at, self.epochs, self.metrics, self.params = stop_at, [], [], []

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append(epoch)
        if epoch == self.stop_at:
            raise StopTraining

    def log_params(self, params: dict) -> None:
        self.params.append(params)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.append((step, metrics))


def test_train_genes_reports_params_once_and_every_epoch(genes_dir, tmp_path):
    config = GeneRunConfig(
        GeneDataConfig(str(genes_dir / "network.tsv"), "edgelist", structural=True,
                       positives=str(genes_dir / "positives.txt"),
                       negatives=str(genes_dir / "negatives.txt")),
        GeneModelConfig(hidden_channels=8), GeneTrainConfig(epochs=6), folds=2)
    callback, tracker = Recorder(), Recorder()
    metrics = train_genes(config, tmp_path / "run", [callback], tracker)
    assert tracker.params == [flatten(config)]
    names = set().union(*(m for _, m in tracker.metrics))
    assert {"fold0_train_loss", "fold0_val_loss", "fold0_val_pr_auc", "fold1_val_pr_auc",
            "final_train_loss"} <= names
    fold0 = [step for step, m in tracker.metrics if "fold0_train_loss" in m]
    assert fold0 == list(range(1, len(fold0) + 1)) and len(callback.epochs) == len(tracker.metrics)
    assert [s for s, m in tracker.metrics if "final_train_loss" in m] == \
        list(range(1, metrics["final_epochs"] + 1))
    saved = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert saved == metrics["config"] and saved["model"]["hidden_channels"] == 8


def test_stop_training_ends_early_keeping_the_best_weights(tiny_graph, genes_dir):
    labels = labels_from_lists(tiny_graph, genes_dir / "positives.txt",
                               genes_dir / "negatives.txt")
    x, adj_t = graph_tensors(tiny_graph, structural_features(tiny_graph).values,
                             torch.device("cpu"))
    fold = kfold_splits(labels, folds=3, seed=0)[0]
    model, train = GeneModelConfig(hidden_channels=8), GeneTrainConfig(epochs=100)
    stopper = Recorder(stop_at=7)
    fit = fit_node_model(x, adj_t, labels, fold.train, fold.val, model, train,
                         callbacks=[stopper])
    assert stopper.epochs == list(range(1, 8)) and len(fit.history) == 7
    assert 1 <= fit.best_epoch <= 7
    # the same seed trained exactly best_epoch epochs gives the weights that were kept
    twin = fit_node_model(x, adj_t, labels, fold.train, None, model, train,
                          epochs=fit.best_epoch)
    with torch.no_grad():
        assert np.allclose(fit.model(x, adj_t).numpy(), twin.model(x, adj_t).numpy())
