"""``train --ensemble-size N``: N models on one split, saved as one directory whose mean and
spread ``predict`` and ``screen`` report; its first member is the single model of that seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgraph.cli.main import main
from molgraph.inference.artifact import TrainedModel
from molgraph.inference.ensemble import EnsembleModel
from molgraph.inference.loading import load_model

DATA = Path(__file__).parent / "data"
ESOL = DATA / "esol_120.csv"
ARGS = ["train", "--data", str(ESOL), "--target-columns", "logS", "--epochs", "2",
        "--hidden", "16", "--no-baseline", "--no-blend", "--threads", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("ensemble")
    out = {"ensemble": base / "ensemble", "single": base / "single"}
    assert main([*ARGS, "--ensemble-size", "3", "--out", str(out["ensemble"])]) == 0
    assert main([*ARGS, "--out", str(out["single"])]) == 0
    return out


def test_an_ensemble_is_one_directory_of_members_with_their_metrics(runs):
    model = runs["ensemble"] / "model"
    assert sorted(p.name for p in (model / "members").iterdir()) == ["0", "1", "2"]
    assert json.loads((model / "ensemble.json").read_text())["size"] == 3
    metrics = json.loads((runs["ensemble"] / "metrics.json").read_text())
    members = metrics["ensemble"]["members"]
    assert [m["seed"] for m in members] == [0, 1, 2]
    assert len({m["val"]["rmse"] for m in members}) == 3  # different initialisations
    test = pd.read_csv(runs["ensemble"] / "test_predictions.csv")
    assert len(test) == metrics["n_test"] and (test["logS_std"] > 0).all()
    rmse = float(np.sqrt(np.mean((test["logS"] - test["logS_pred"]) ** 2)))
    assert rmse == pytest.approx(metrics["test"]["rmse"], rel=1e-4)


def test_the_first_member_is_the_single_model_of_the_seed(runs):
    first = torch.load(runs["ensemble"] / "model" / "members" / "0" / "weights.pt",
                       weights_only=True)
    single = torch.load(runs["single"] / "model" / "weights.pt", weights_only=True)
    assert first.keys() == single.keys()
    assert all(torch.equal(first[k], single[k]) for k in first)


def test_load_model_predicts_the_members_mean(runs):
    ensemble = load_model(runs["ensemble"])
    assert isinstance(ensemble, EnsembleModel) and len(ensemble.members) == 3
    smiles = ["CCO", "c1ccccc1O", "not a smiles"]
    mean = ensemble.predict(smiles)
    members = np.stack([m.predict(smiles) for m in ensemble.members])
    np.testing.assert_allclose(mean[:2], members[:, :2].mean(axis=0), rtol=1e-5)
    assert np.isnan(mean[2]).all()
    with pytest.raises(ValueError, match="ensemble of 3 models"):
        TrainedModel.load(runs["ensemble"])


def test_predict_and_screen_report_mean_and_spread(runs, tmp_path):
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(runs["ensemble"]), "--data",
                 str(DATA / "with_invalid.csv"), "--out", str(out)]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert {"logS_pred", "logS_std"} <= set(frame) and len(frame) == 7
    valid = frame["error"] == ""
    assert (frame.loc[valid, "logS_std"].astype(float) > 0).all()
    assert (frame.loc[~valid, "logS_std"] == "").all()

    hits = tmp_path / "hits.csv"
    assert main(["screen", "--model", str(runs["ensemble"]), "--library",
                 str(DATA / "moses_204.csv"), "--out", str(hits), "--top-k", "10",
                 "--workers", "0", "--no-pictures"]) == 0
    top = pd.read_csv(hits)
    assert {"logS_mean", "logS_std"} <= set(top) and len(top) == 10
    assert top["logS_mean"].is_monotonic_decreasing


def test_explain_names_a_member_to_use(runs, tmp_path, capsys):
    code = main(["explain", "--model", str(runs["ensemble"]), "--smiles", "CCO",
                 "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code != 0 and "members/0" in err and "Traceback" not in err
