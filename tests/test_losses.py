"""Regression losses (``--loss mse|mae|huber``), per-task weights (``--task-weights``) and
per-molecule weights (``--weight-column``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgraph.cli.main import main
from molgraph.training.config import RunConfig, TrainConfig
from molgraph.training.loop import masked_loss

DATA = Path(__file__).parent / "data"
NAN = float("nan")
PRED = torch.tensor([[1.0, 0.0], [2.0, 5.0], [0.0, 1.0]])
TARGET = torch.tensor([[0.0, NAN], [0.0, 1.0], [3.0, 1.0]])


def test_each_loss_averages_over_the_labels_present():
    errors = np.array([1.0, 2.0, 4.0, 3.0, 0.0])  # |pred - target| where labelled
    assert masked_loss(PRED, TARGET, "regression").item() == pytest.approx((errors ** 2).mean())
    assert masked_loss(PRED, TARGET, "regression", "mae").item() == pytest.approx(errors.mean())
    huber = np.where(errors <= 1, 0.5 * errors ** 2, errors - 0.5)
    assert masked_loss(PRED, TARGET, "regression", "huber").item() == pytest.approx(huber.mean())


def test_weights_multiply_each_label_and_a_zero_weight_removes_it():
    only_first = masked_loss(PRED, TARGET, "regression", "mae",
                             task_weights=torch.tensor([1.0, 0.0]))
    assert only_first.item() == pytest.approx((1 + 2 + 3) / 5)
    dropped = masked_loss(PRED, TARGET, "regression", "mae",
                          weights=torch.tensor([1.0, 0.0, 1.0]))
    assert dropped.item() == pytest.approx((1 + 3 + 0) / 5)


def test_losses_and_weights_that_do_not_apply_are_refused():
    with pytest.raises(ValueError, match="regression loss"):
        RunConfig(task="classification", train=TrainConfig(loss="mae"))
    with pytest.raises(ValueError, match="one per target"):
        RunConfig().with_values({"data.target_columns": ["a", "b"],
                                 "train.task_weights": [1.0]})
    with pytest.raises(ValueError, match="non-negative"):
        TrainConfig(task_weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="--init-from"):
        TrainConfig(freeze_encoder=True)


def test_a_weight_column_trains_and_a_bad_weight_names_its_row(tmp_path, capsys):
    frame = pd.read_csv(DATA / "esol_120.csv")
    frame["w"] = np.where(np.arange(len(frame)) % 2, 1.0, 0.5)
    good = tmp_path / "weighted.csv"
    frame.to_csv(good, index=False)
    common = ["train", "--target-columns", "logS", "--epochs", "2", "--no-blend",
              "--no-baseline", "--threads", "1", "--hidden", "32", "--loss", "mae",
              "--weight-column", "w"]
    assert main([*common, "--data", str(good), "--out", str(tmp_path / "run")]) == 0
    frame.loc[6, "w"] = -2
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    capsys.readouterr()
    assert main([*common, "--data", str(bad), "--out", str(tmp_path / "run2")]) == 2
    error = capsys.readouterr().err
    assert "row 7" in error and "'w'" in error and "bad.csv" in error


def test_task_weights_reach_a_multi_task_run():
    import molgraph

    frame = pd.read_csv(DATA / "tox21_150.csv")
    tasks = ["NR-AhR", "SR-MMP"]
    run = molgraph.train(frame, tasks, task="classification", epochs=1, blend=False,
                         baseline=False, split="random", model_options={"hidden_channels": 32},
                         train_options={"threads": 1, "task_weights": [3.0, 1.0]})
    assert run.config.train.task_weights == [3.0, 1.0]
    assert np.isfinite(run.fit.history[0]["train_loss"])


def test_several_task_files_train_one_multi_task_model(tmp_path, capsys):
    frame = pd.read_csv(DATA / "tox21_150.csv")
    first, second = tmp_path / "ahr.csv", tmp_path / "mmp.csv"
    frame.iloc[:100][["smiles", "NR-AhR"]].to_csv(first, index=False)
    tail = frame.iloc[60:][["smiles", "SR-MMP"]].copy()
    tail.loc[tail.index[0], "smiles"] = "not a molecule"
    tail.to_csv(second, index=False)
    out = tmp_path / "run"
    assert main(["train", "--data", str(first), "--more-data", str(second), "--task",
                 "classification", "--target-columns", "NR-AhR", "SR-MMP", "--epochs", "1",
                 "--no-blend", "--no-baseline", "--threads", "1", "--hidden", "32",
                 "--split", "random", "--out", str(out)]) == 0
    assert "row 1: SMILES 'not a molecule'" in capsys.readouterr().err
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    # rows 60-99 are in both files: one molecule each, with both labels (row 60's molecule
    # has only its NR-AhR label: its copy in the second file was replaced by a bad SMILES)
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 150
    assert {"roc_auc_0", "roc_auc_1"} <= set(metrics["test"])  # a score per task
