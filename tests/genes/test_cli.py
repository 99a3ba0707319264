"""``molgraph genes train`` and ``molgraph genes predict`` end to end on the tiny files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from molgraph.cli.main import main


def _train_args(d, out, *extra):
    return ["genes", "train", "--network", str(d / "network.tsv"), "--format", "edgelist",
            "--features", str(d / "omics.tsv"), "--go", str(d / "gene2go_excerpt.tsv"),
            "--go-min-genes", "2", "--go-max-fraction", "0.5", "--structural",
            "--epochs", "30", "--hidden", "16", "--out", str(out), *extra]


def test_train_then_predict(genes_dir, tmp_path):
    out = tmp_path / "run"
    code = main(_train_args(genes_dir, out, "--positives", str(genes_dir / "positives.txt"),
                            "--negatives", str(genes_dir / "negatives.txt"), "--model", "gcn",
                            "--folds", "3", "--seed", "1"))
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["cv"]["folds"]) == 3 and 0 <= metrics["cv"]["mean"]["pr_auc"] <= 1
    unmatched = {m["source"].split("/")[-1]: m["unmatched"] for m in metrics["id_matching"]}
    assert unmatched["omics.tsv"] == 1 and unmatched["positives.txt"] == 1
    assert metrics["graph"]["genes"] == 43 and metrics["labels"]["labelled"] == 23
    assert {p.name for p in out.iterdir()} >= {"model.pt", "config.json", "graph.npz",
                                                "genes.json", "metrics.json"}
    ranked_path = tmp_path / "ranked.csv"
    assert main(["genes", "predict", "--model", str(out), "--out", str(ranked_path)]) == 0
    ranked = pd.read_csv(ranked_path)
    assert len(ranked) == 43 and ranked["labelled"].sum() == 23  # unlabelled genes ranked too
    assert ranked["score"].is_monotonic_decreasing


def test_train_with_label_table_and_given_splits(genes_dir, tmp_path):
    out = tmp_path / "run"
    code = main(_train_args(genes_dir, out, "--labels", str(genes_dir / "labels.csv"),
                            "--splits", str(genes_dir / "splits.csv"), "--model", "sage"))
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["cv"]["folds"]) == 3
    assert metrics["id_matching"][-1]["labelled_without_assignment"] == 0


def test_multiclass_predict_by_class(genes_dir, tmp_path):
    out = tmp_path / "run"
    assert main(_train_args(genes_dir, out, "--labels", str(genes_dir / "labels_multiclass.csv"),
                            "--model", "mlp", "--folds", "2")) == 0
    ranked = tmp_path / "ranked.csv"
    assert main(["genes", "predict", "--model", str(out), "--out", str(ranked),
                 "--task", "oncogene"]) == 0
    table = pd.read_csv(ranked)
    assert "score:tumour_suppressor" in table.columns


def test_errors_are_reported_not_raised(genes_dir, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("TP53\tMDM2\nKRAS\n")
    args = _train_args(genes_dir, tmp_path / "run", "--labels", str(genes_dir / "labels.csv"),
                       "--model", "gcn")
    args[args.index("--network") + 1] = str(bad)
    assert main(args) == 2
    assert "bad.tsv, line 2" in capsys.readouterr().err


def test_rerun_from_run_config(genes_dir, tmp_path):
    first = tmp_path / "first"
    assert main(_train_args(genes_dir, first, "--labels", str(genes_dir / "labels.csv"),
                            "--folds", "2")) == 0
    again = tmp_path / "again"
    assert main(["genes", "train", "--config", str(first / "run_config.json"),
                 "--out", str(again)]) == 0
    before, after = (json.loads((d / "metrics.json").read_text()) for d in (first, again))
    assert before["model"] == "gcn" and before["cv"]["folds"] == after["cv"]["folds"]
    assert before["config"] == after["config"]


def test_positives_need_negatives(genes_dir, tmp_path):
    args = _train_args(genes_dir, tmp_path / "run", "--positives",
                       str(genes_dir / "positives.txt"), "--model", "gcn")
    assert main(args) == 2
    with pytest.raises(SystemExit):
        main(["genes", "train", "--network", "x", "--format", "edgelist", "--model", "gcn",
              "--out", "o"])  # labels are required
