"""Label-aware node models: the label trick and Correct & Smooth beat a GNN on useless features
when the network carries the labels, without ever showing a gene its own label."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from molgraph.cli.main import main
from molgraph.genes import GeneGraph, NodeLabels, kfold_splits, load_gene_model
from molgraph.genes.config import GeneModelConfig, GeneTrainConfig
from molgraph.genes.label_use import correct_and_smooth, label_inputs, split_shown
from molgraph.genes.train import cross_validate


def _communities(n: int = 240, classes: int = 3, seed: int = 0):
    """A planted-partition graph (dense inside the classes, sparse across) with pure-noise
    features: only the neighbours' labels say anything about a gene."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % classes
    same = group[:, None] == group[None, :]
    upper = np.triu(rng.random((n, n)) < np.where(same, 0.08, 0.005), 1)
    src, dst = np.nonzero(upper | upper.T)
    data = Data(edge_index=torch.as_tensor(np.stack([src, dst])),
                edge_weight=torch.ones(len(src)), num_nodes=n)
    graph = GeneGraph(data, [f"G{i}" for i in range(n)])
    x = rng.normal(size=(n, 8)).astype(np.float32)
    import scipy.sparse as sp

    return graph, sp.csr_matrix(x), NodeLabels(group[:, None].astype(float), "multiclass",
                                                [f"c{k}" for k in range(classes)])


def test_label_inputs_show_only_the_given_genes():
    y = np.array([[1.0], [0.0], [np.nan], [1.0]])
    out = label_inputs(NodeLabels(y, "binary", ["t"]), np.array([0, 1]))
    assert out.tolist() == [[1, 0], [0, 1], [0, 0], [0, 0]]  # (positive, negative); 3 hidden
    multi = label_inputs(NodeLabels(np.array([[2.0], [0.0]]), "multiclass", ["a", "b", "c"]),
                         np.array([0]))
    assert multi.tolist() == [[0, 0, 1], [0, 0, 0]]


def test_each_epoch_splits_the_training_genes_in_two():
    train = torch.arange(10, 31)
    shown, target = split_shown(train, torch.Generator().manual_seed(0))
    assert set(shown.tolist()).isdisjoint(target.tolist())  # the loss never sees its own label
    assert sorted(shown.tolist() + target.tolist()) == train.tolist()


def test_label_aware_models_beat_the_plain_gnn_on_label_driven_data():
    graph, x, labels = _communities()
    folds = kfold_splits(labels, folds=3, seed=0)
    train = GeneTrainConfig(epochs=80, patience=40, device="cpu")
    accuracy = {}
    for use in ("none", "input", "correct_smooth"):
        model = GeneModelConfig(name="gcn", hidden_channels=16, use_labels=use)
        cv = cross_validate(graph, x, labels, folds, model, train, seed=0)
        accuracy[use] = cv.mean["accuracy"]
        assert len(cv.correct_smooth) == (3 if use == "correct_smooth" else 0)
    assert accuracy["input"] > accuracy["none"] + 0.15, accuracy
    assert accuracy["correct_smooth"] > accuracy["none"] + 0.15, accuracy
    assert accuracy["input"] > 0.8 and accuracy["correct_smooth"] > 0.8, accuracy


def test_correct_and_smooth_keeps_binary_scores_probabilities():
    graph, _, labels = _communities(classes=2)
    binary = NodeLabels(labels.y.copy(), "binary", ["c1"])
    binary.y[5, 0] = np.nan  # a missing label is neither shown nor scored
    probs = np.full((graph.num_genes, 1), 0.5)
    order = np.random.default_rng(0).permutation(graph.num_genes)
    known, hidden = order[:120], order[120:]
    out = correct_and_smooth(probs, binary, known, graph, 0.9, 0.9)
    assert out.shape == probs.shape and (out >= 0).all() and (out <= 1).all()
    hidden = hidden[~np.isnan(binary.y[hidden, 0])]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(binary.y[hidden, 0], out[hidden, 0]) > 0.9


@pytest.mark.parametrize("use", ["input", "input+correct_smooth"])
def test_cli_trains_saves_ranks_and_explains_label_aware_models(genes_dir, tmp_path, use):
    out = tmp_path / "run"
    code = main(["genes", "train", "--network", str(genes_dir / "network.tsv"),
                 "--format", "edgelist", "--features", str(genes_dir / "omics.tsv"),
                 "--labels", str(genes_dir / "labels_multiclass.csv"), "--task", "multiclass",
                 "--folds", "3", "--epochs", "10", "--hidden", "8", "--use-labels", use,
                 "--no-baseline", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"]["use_labels"] == use
    assert len(metrics["cv"]["correct_smooth"]) == (3 if "correct_smooth" in use else 0)
    trained = load_gene_model(out)
    assert trained.model.label_input is not None
    assert (trained.correct_smooth is not None) == ("correct_smooth" in use)
    probs = trained.predict("cpu")
    assert probs.shape == (trained.graph.num_genes, 3) and np.isfinite(probs).all()
    assert main(["genes", "predict", "--model", str(out), "--out", str(tmp_path / "r.csv")]) == 0
    assert main(["genes", "explain", "--model", str(out), "--genes", "KRAS",
                 "--out", str(tmp_path / "why")]) == 0
