"""Classical baselines beside every ``genes train`` run, and argmax metrics for multi-class."""

from __future__ import annotations

import json

import numpy as np
import scipy.sparse as sp

from molgraph.cli.main import main
from molgraph.genes import (
    GeneGraph,
    NodeLabels,
    kfold_splits,
    read_label_table,
    read_network,
    read_split_assignments,
)
from molgraph.genes.baseline import (
    fit_gene_baselines,
    propagation_matrix,
    propagation_predictor,
)
from molgraph.genes.graph import EdgeList
from molgraph.genes.train import evaluate

METHODS = {"logreg", "mlp", "label_propagation"}


def _train(genes_dir, out, *extra):
    return main(["genes", "train", "--network", str(genes_dir / "network.tsv"),
                 "--format", "edgelist", "--features", str(genes_dir / "omics.tsv"),
                 "--structural", "--epochs", "10", "--hidden", "8", "--out", str(out), *extra])


def _metrics(out) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_baselines_run_on_the_gnns_folds(genes_dir, tmp_path, monkeypatch, capsys):
    import molgraph.genes.workflow as workflow

    seen = {}

    def spy(name, function):
        def wrapper(*args, **kwargs):
            seen[name] = args[3]  # the folds: fourth argument of both
            return function(*args, **kwargs)
        monkeypatch.setattr(workflow, function.__name__, wrapper)

    spy("gnn", workflow.cross_validate)
    spy("baseline", workflow.fit_gene_baselines)
    out = tmp_path / "run"
    assert _train(genes_dir, out, "--labels", str(genes_dir / "labels.csv"), "--folds", "3") == 0
    metrics = _metrics(out)
    baseline = metrics["baseline"]
    assert set(baseline) == METHODS | {"best"} and baseline["best"] in METHODS
    for name in METHODS:
        assert len(baseline[name]["folds"]) == 3 == len(baseline[name]["settings"])
        assert set(baseline[name]["mean"]) == set(metrics["cv"]["mean"])
        assert 0 <= baseline[name]["mean"]["pr_auc"] <= 1
    gnn, base = seen["gnn"], seen["baseline"]
    assert len(gnn) == len(base) == 3
    for a, b in zip(gnn, base):
        for part in ("train", "val", "test"):
            assert np.array_equal(getattr(a, part), getattr(b, part))
    graph = read_network(genes_dir / "network.tsv", "edgelist")  # folds.csv: the same folds
    labels = read_label_table(genes_dir / "labels.csv", graph)
    written, _ = read_split_assignments(out / "folds.csv", graph, labels)
    for a, b in zip(gnn, written):
        for part in ("train", "val", "test"):
            assert np.array_equal(getattr(a, part), getattr(b, part))
    printed = capsys.readouterr().out
    assert f"{metrics['model']} − {baseline['best']}" in printed and "label_propagation" in printed


def test_no_baseline_leaves_it_out_and_round_trips(genes_dir, tmp_path):
    first = tmp_path / "first"
    assert _train(genes_dir, first, "--labels", str(genes_dir / "labels.csv"), "--folds", "2",
                  "--no-baseline") == 0
    assert "baseline" not in _metrics(first)
    assert json.loads((first / "run_config.json").read_text())["baseline"] is False
    again = tmp_path / "again"
    assert main(["genes", "train", "--config", str(first), "--out", str(again)]) == 0
    assert "baseline" not in _metrics(again)


def _two_communities(size: int = 20, seed: int = 0) -> tuple[GeneGraph, NodeLabels]:
    """Two dense random communities joined by three edges; label = community."""
    rng = np.random.default_rng(seed)
    edges = EdgeList()
    for community in range(2):
        members = [f"c{community}_{i}" for i in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                if rng.random() < 0.4:
                    edges.add(members[i], members[j])
    for i in range(3):
        edges.add(f"c0_{i}", f"c1_{i}")
    graph = GeneGraph.from_edges(edges)
    y = np.array([[float(g.startswith("c1"))] for g in graph.genes])
    return graph, NodeLabels(y, "binary", ["community"])


def test_label_propagation_follows_the_network():
    graph, labels = _two_communities()
    s = propagation_matrix(graph)
    assert abs(s - s.T).max() < 1e-12 and np.abs(np.linalg.eigvalsh(s.toarray())).max() <= 1 + 1e-9
    folds = kfold_splits(labels, folds=4, seed=0)
    noise = sp.csr_matrix(np.random.default_rng(1).normal(size=(graph.num_genes, 3)))
    baseline = fit_gene_baselines(graph, noise, labels, folds, seed=0)
    assert baseline["label_propagation"]["mean"]["roc_auc"] > 0.9
    assert baseline["best"] == "label_propagation"  # chosen on validation, over noise features


def test_multiclass_runs_report_accuracy_and_macro_f1(genes_dir, tmp_path):
    out = tmp_path / "run"
    assert _train(genes_dir, out, "--labels", str(genes_dir / "labels_multiclass.csv"),
                  "--folds", "2") == 0
    metrics = _metrics(out)
    blocks = [metrics["cv"], *(metrics["baseline"][m] for m in METHODS)]
    for block in blocks:
        assert 0 <= block["mean"]["accuracy"] <= 1 and 0 <= block["mean"]["macro_f1"] <= 1
        assert all("macro_f1" in fold for fold in block["folds"])


def test_argmax_metrics_are_not_one_vs_rest_at_a_half(genes_dir, tiny_graph):
    """Right on every gene, but never above 0.5: accuracy and macro-F1 1, one-vs-rest F1 0."""
    labels = read_label_table(genes_dir / "labels_multiclass.csv", tiny_graph)
    nodes = np.flatnonzero(labels.labelled)
    k = labels.num_outputs
    probs = np.full((tiny_graph.num_genes, k), (1 - 0.45) / (k - 1))
    probs[nodes, labels.y[nodes, 0].astype(int)] = 0.45
    out = evaluate(labels, probs, nodes)
    assert out["accuracy"] == out["macro_f1"] == 1.0 and out["f1"] == 0.0
    binary = evaluate(NodeLabels(labels.y[:, :1] * 0 + 1, "binary", ["x"]), probs[:, :1], nodes)
    assert "macro_f1" not in binary and "accuracy" not in binary


def test_multilabel_masks_missing_labels(genes_dir, tiny_graph):
    labels = read_label_table(genes_dir / "labels_multilabel.csv", tiny_graph)
    assert np.isnan(labels.y[labels.labelled]).any()  # some genes lack one of the labels
    folds = kfold_splits(labels, folds=2, seed=0)
    x = sp.csr_matrix(np.random.default_rng(0).normal(size=(tiny_graph.num_genes, 4)))
    baseline = fit_gene_baselines(tiny_graph, x, labels, folds, seed=0)
    for name in METHODS:
        mean = baseline[name]["mean"]
        assert {f"roc_auc_{t}" for t in range(labels.num_outputs)} <= set(mean)
        assert np.isfinite(mean["roc_auc"])


def test_label_propagation_scores_are_zhous_argmax_rule():
    """Scores in [0, 1], above 0.5 exactly for the class with the most propagated mass."""
    graph, binary = _two_communities(size=12)
    y = binary.y.copy()
    y[:3] = 2.0  # a third class, next to the first community
    labels = NodeLabels(y, "multiclass", ["0", "1", "2"])
    fold = kfold_splits(NodeLabels(binary.y, "binary", ["c"]), folds=3, seed=0)[0]
    probs = propagation_predictor(graph, labels)({"alpha": 0.9}, fold)
    assert probs.shape == (graph.num_genes, 3) and np.all((probs >= 0) & (probs <= 1))
    assert np.array_equal((probs > 0.5).sum(1), np.ones(graph.num_genes))
    assert (probs[fold.test].argmax(1) == y[fold.test, 0]).mean() > 0.8
