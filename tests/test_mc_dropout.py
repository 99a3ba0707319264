"""MC dropout as an uncertainty: one model trained with dropout, its dropout kept on at
prediction for ``mc_samples`` seeded passes, their spread written where an ensemble's is
(``train``'s metrics, ``predict``, ``screen``, the MLflow model, the conformal intervals, a
campaign's acquisition)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from screen_helpers import LIBRARY, read_table

from molgraph import CampaignConfig, run_campaign
from molgraph.inference.conformal import model_calibration
from molgraph.inference.loading import load_model
from molgraph.inference.mlflow_model import predict_frame
from molgraph.models.config import ModelConfig
from molgraph.screening.screen import ScreenConfig, run_screen
from molgraph.training.api import train

DATA = Path(__file__).parent / "data"
SMILES = ["CCO", "not a smiles", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
TINY = {"epochs": 2, "cache_dir": None, "baseline": False,
        "train_options": {"threads": 1, "device": "cpu"}}
MC = {"hidden_channels": 16, "dropout": 0.2, "mc_samples": 5}


@pytest.fixture(scope="module")
def mc_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc") / "run"
    return (train(DATA / "esol_120.csv", ["logS"], out=out, blend=False, model_options=MC,
                  **TINY), out)


def test_training_reports_the_spread_of_the_passes(mc_run):
    run, out = mc_run
    assert run.test_std is not None and run.test_std.shape == (len(run.split[2]), 1)
    assert (run.test_std > 0).all()  # dropout on: the passes differ on every molecule
    uncertainty = json.loads((out / "metrics.json").read_text())["uncertainty"]
    assert -1 <= uncertainty["spread"]["test"]["spearman"] <= 1
    assert 0 <= uncertainty["spread"]["test"]["miscalibration_area"] <= 0.5
    calibration = model_calibration(run.model)
    assert calibration.members == 5 and calibration.beta is not None  # scaled by the spread


def test_passes_are_seeded_and_leave_the_global_random_state_alone(mc_run):
    _, out = mc_run
    model = load_model(out)
    assert model.samples == 5
    state = torch.random.get_rng_state()
    first, again = model.predict(SMILES), model.predict(SMILES)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(first, again)
    assert np.isnan(first[1]).all() and np.isfinite(first[[0, 2, 3]]).all()


def test_predict_screen_and_mlflow_write_the_spread(mc_run, tmp_path):
    _, out = mc_run
    model = load_model(out)
    frame = predict_frame(model, SMILES)
    assert {"logS_pred", "logS_std", "logS_lower", "logS_upper"} <= set(frame.columns)
    valid = frame["valid"].to_numpy()
    assert (frame.loc[valid, "logS_std"] > 0).all() and frame.loc[~valid, "logS_std"].isna().all()
    half = frame["logS_upper"] - frame["logS_pred"]
    assert half[valid].nunique() > 1  # locally adaptive: wider where the passes disagree
    hits = tmp_path / "hits.csv"
    summary = run_screen(ScreenConfig([out], [LIBRARY], hits, workers=0, chunk_size=60))
    assert summary["columns"] == ["logS_mean", "logS_std", "logS_lower", "logS_upper"]
    screened = read_table(hits)
    ok = screened["status"] == "ok"
    assert (screened.loc[ok, "logS_std"] > 0).all()


def test_settings_that_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="needs dropout above 0"):
        ModelConfig(mc_samples=5)
    with pytest.raises(ValueError, match="at least 2"):
        ModelConfig(dropout=0.1, mc_samples=1)
    with pytest.raises(ValueError, match="choose one uncertainty"):
        train(DATA / "esol_120.csv", ["logS"], ensemble_size=2, model_options=MC, **TINY)


def test_a_campaign_acquires_by_ucb_on_the_passes(tmp_path):
    esol = pd.read_csv(DATA / "esol_120.csv")
    scores = dict(zip(esol["smiles"].str.strip(), esol["logS"]))
    config = CampaignConfig(str(DATA / "esol_120.csv"), str(tmp_path / "campaign"), init="20",
                            batch="10", iterations=1, surrogate="dmpnn", acquisition="ucb",
                            mc_samples=4, epochs=2, workers=0, threads=1, pictures=False)
    result = run_campaign(config, oracle=lambda smiles: [scores[s] for s in smiles],
                          progress=False)
    assert len(result.rounds) == 2
    fit = json.loads(next((tmp_path / "campaign" / "rounds").glob("001/fit.json")).read_text())
    assert fit["mc_samples"] == 4 and fit["ensemble_size"] == 1
    with pytest.raises(ValueError, match="--mc-samples"):
        CampaignConfig(str(DATA / "esol_120.csv"), str(tmp_path / "x"), mc_samples=1)
