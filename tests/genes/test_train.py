"""Training: overfit a tiny graph, class weights, CV, multi-class and multi-label, save → load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from molgraph.genes import (
    GeneModelConfig,
    GeneTrainConfig,
    TrainedGeneModel,
    cross_validate,
    fit_node_model,
    go_features,
    kfold_splits,
    labels_from_lists,
    load_gene_model,
    read_label_table,
    stack_features,
    structural_features,
)
from molgraph.genes.train import class_weights, graph_tensors


@pytest.fixture
def features(tiny_graph, genes_dir):
    blocks = [go_features(tiny_graph, genes_dir / "gene2go_excerpt.tsv", 2, 0.5),
              structural_features(tiny_graph)]
    return stack_features(blocks, tiny_graph.num_genes)[0]


@pytest.fixture
def labels(tiny_graph, genes_dir):
    return labels_from_lists(tiny_graph, genes_dir / "positives.txt", genes_dir / "negatives.txt")


@pytest.mark.parametrize("name", ["gcn", "gat", "sage", "mlp"])
def test_overfits_the_tiny_graph(tiny_graph, features, labels, name):
    x, adj_t = graph_tensors(tiny_graph, features, torch.device("cpu"))
    train = np.flatnonzero(labels.labelled)
    model = GeneModelConfig(name=name, hidden_channels=32, dropout=0.0, heads=2)
    fit = fit_node_model(x, adj_t, labels, train, None, model,
                         GeneTrainConfig(weight_decay=0.0, lr=0.01), epochs=150)
    with torch.no_grad():
        probs = torch.sigmoid(fit.model(x, adj_t)).numpy()[train, 0]
    assert np.abs(probs - labels.y[train, 0]).max() < 0.1


def test_class_weights(labels):
    nodes = np.flatnonzero(labels.labelled)
    assert class_weights(labels, nodes, "balanced").tolist() == pytest.approx([11 / 12])
    assert class_weights(labels, nodes, "none") is None


def test_cross_validation_scores_every_labelled_gene(tiny_graph, features, labels):
    folds = kfold_splits(labels, folds=3, seed=0)
    model, train = GeneModelConfig(hidden_channels=16), GeneTrainConfig(epochs=40, patience=20)
    cv = cross_validate(tiny_graph, features, labels, folds, model, train)
    assert len(cv.folds) == 3 and 0.5 < cv.mean["pr_auc"] <= 1
    tested = ~np.isnan(cv.oof[:, 0])
    assert np.array_equal(tested, labels.labelled)
    again = cross_validate(tiny_graph, features, labels, folds, model, train)
    assert np.array_equal(cv.oof, again.oof, equal_nan=True)  # seeded


@pytest.mark.parametrize("table", ["labels_multiclass.csv", "labels_multilabel.csv"])
def test_multiclass_and_multilabel(tiny_graph, features, genes_dir, table):
    labels = read_label_table(genes_dir / table, tiny_graph)
    folds = kfold_splits(labels, folds=2, seed=0)
    model = GeneModelConfig(name="sage", hidden_channels=16)
    cv = cross_validate(tiny_graph, features, labels, folds, model, GeneTrainConfig(epochs=20))
    assert cv.oof.shape == (43, labels.num_outputs)
    assert np.isfinite(cv.mean["roc_auc"])
    if labels.task == "multiclass":
        assert np.allclose(cv.oof[labels.labelled].sum(1), 1) and "accuracy" in cv.mean


def test_save_load_gives_identical_predictions(tiny_graph, features, labels, tmp_path):
    x, adj_t = graph_tensors(tiny_graph, features, torch.device("cpu"))
    fit = fit_node_model(x, adj_t, labels, np.flatnonzero(labels.labelled), None,
                         GeneModelConfig(name="gat", heads=2, hidden_channels=8),
                         GeneTrainConfig(), epochs=10)
    oof = np.full((43, 1), np.nan)
    trained = TrainedGeneModel(fit.model, tiny_graph, features, ["f"] * features.shape[1],
                               labels, oof, {"model": "gat"})
    trained.save(tmp_path / "model")
    loaded = load_gene_model(tmp_path / "model")
    assert loaded.graph.genes == tiny_graph.genes
    assert np.array_equal(loaded.predict("cpu"), trained.predict("cpu"))
    ranked = loaded.rank()
    assert len(ranked) == 43 and ranked["rank"].tolist() == list(range(1, 44))
    assert ranked["score"].is_monotonic_decreasing
    assert set(ranked.columns) >= {"gene", "score", "label", "labelled", "cv_score", "degree"}


def test_old_model_directory_still_loads_and_ranks(tiny_graph, features, labels, tmp_path):
    """Directories written before run configs: config.json "train" is one flat settings dict."""
    x, adj_t = graph_tensors(tiny_graph, features, torch.device("cpu"))
    fit = fit_node_model(x, adj_t, labels, np.flatnonzero(labels.labelled), None,
                         GeneModelConfig(hidden_channels=8), GeneTrainConfig(), epochs=5)
    trained = TrainedGeneModel(fit.model, tiny_graph, features, ["f"] * features.shape[1],
                               labels, np.full((43, 1), np.nan), {})
    directory = trained.save(tmp_path / "old")
    config = json.loads((directory / "config.json").read_text())
    config["train"] = {"model": "gcn", "hidden_channels": 8, "num_layers": 2, "dropout": 0.5,
                       "heads": 4, "residual": True, "input_dropout": 0.0, "lr": 0.01,
                       "weight_decay": 5e-4, "epochs": 5, "patience": 50,
                       "class_weight": "balanced", "folds": 5, "val_fraction": 0.1, "seed": 0,
                       "device": "auto", "threads": None}
    assert config["model"].pop("label_channels") == 0  # newer than those directories
    del config["correct_smooth"]
    assert set(config["model"]) == {"in_channels", "out_channels", "hidden_channels",
                                    "num_layers", "dropout", "conv", "heads", "residual",
                                    "input_dropout"}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    loaded = load_gene_model(directory)
    assert loaded.train_config["model"] == "gcn"
    assert np.array_equal(loaded.predict("cpu"), trained.predict("cpu"))
    assert len(loaded.rank()) == 43
