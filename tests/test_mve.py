"""A mean-variance head (``--mve``): the network predicts a variance per target, trained with
the Gaussian likelihood; its square root is the uncertainty, added to an ensemble's spread by
the law of total variance, and written where an ensemble's spread is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgraph import CampaignConfig, run_campaign
from molgraph.chem.featurize import featurize_smiles, valid_smiles
from molgraph.inference.conformal import model_calibration
from molgraph.inference.ensemble import spread
from molgraph.inference.loading import load_model
from molgraph.inference.mlflow_model import predict_frame
from molgraph.models.base import mve_variance
from molgraph.training.api import train
from molgraph.training.loop import masked_loss

DATA = Path(__file__).parent / "data"
SMILES = ["CCO", "not a smiles", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
TINY = {"epochs": 3, "cache_dir": None, "baseline": False,
        "train_options": {"threads": 1, "device": "cpu"}}
MVE = {"hidden_channels": 16, "mve": True}


def _valid(smiles: list[str]):
    chunk = featurize_smiles(smiles)
    return chunk.graphs, valid_smiles(smiles, chunk.valid)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("mve")
    return {
        "single": (train(DATA / "esol_120.csv", ["logS"], out=base / "single", blend=False,
                         model_options=MVE, **TINY), base / "single"),
        "ensemble": (train(DATA / "esol_120.csv", ["logS"], out=base / "ensemble", blend=False,
                           ensemble_size=2, model_options=MVE, **TINY), base / "ensemble")}


def test_the_loss_is_the_gaussian_likelihood_over_the_labels_present():
    mean = torch.tensor([[0.5, 1.0], [2.0, -1.0]])
    raw = torch.tensor([[0.0, 1.0], [-1.0, 0.3]])
    target = torch.tensor([[1.0, float("nan")], [0.0, -2.0]])
    variance = mve_variance(raw)
    terms = [0.5 * (math.log(variance[i, j]) + (mean[i, j] - target[i, j]) ** 2
                    / variance[i, j]) for i, j in ((0, 0), (1, 0), (1, 1))]
    loss = masked_loss(torch.cat([mean, raw], 1), target, "regression")
    assert loss.item() == pytest.approx(float(sum(terms) / 3), rel=1e-5)


def test_a_single_model_reports_its_variance_as_the_uncertainty(runs):
    run, out = runs["single"]
    assert run.test_std is not None and (run.test_std > 0).all()
    uncertainty = json.loads((out / "metrics.json").read_text())["uncertainty"]
    assert -1 <= uncertainty["spread"]["test"]["spearman"] <= 1
    model = load_model(out)
    assert model.spread and model.samples == 1
    assert model_calibration(model).beta is not None  # intervals scaled by the predicted std
    frame = predict_frame(model, SMILES)
    valid = frame["valid"].to_numpy()
    assert {"logS_pred", "logS_std", "logS_lower", "logS_upper"} <= set(frame.columns)
    assert (frame.loc[valid, "logS_std"] > 0).all() and frame.loc[~valid, "logS_std"].isna().all()
    # the head's variance, in label units
    graphs, smiles = _valid(SMILES)
    means, variances = model.predict_distribution(graphs, 256, smiles)
    np.testing.assert_allclose(frame.loc[valid, "logS_std"], np.sqrt(variances[0, :, 0]),
                               rtol=1e-5)


def test_an_ensemble_adds_the_heads_variance_to_the_members_spread(runs):
    _, out = runs["ensemble"]
    model = load_model(out)
    graphs, smiles = _valid(SMILES)
    means, variances = model.predict_distribution(graphs, 256, smiles)
    assert means.shape == variances.shape == (2, 3, 1)
    total = np.sqrt(means.var(axis=0) + variances.mean(axis=0))
    np.testing.assert_allclose(spread(means, variances), total)
    frame = predict_frame(model, SMILES)
    np.testing.assert_allclose(frame["logS_std"].dropna(), total[:, 0], rtol=1e-5)


def test_classification_is_refused():
    with pytest.raises(ValueError, match="mean-variance head"):
        train(DATA / "bace_80.csv", ["Class"], task="classification", smiles_column="mol",
              model_options=MVE, **TINY)


def test_a_campaign_acquires_by_ucb_on_one_mve_model(tmp_path):
    esol = pd.read_csv(DATA / "esol_120.csv")
    scores = dict(zip(esol["smiles"].str.strip(), esol["logS"]))
    config = CampaignConfig(str(DATA / "esol_120.csv"), str(tmp_path / "campaign"), init="20",
                            batch="10", iterations=1, acquisition="ucb", ensemble_size=1,
                            mve=True, epochs=2, workers=0, threads=1, pictures=False)
    result = run_campaign(config, oracle=lambda smiles: [scores[s] for s in smiles],
                          progress=False)
    assert len(result.rounds) == 2
    fit = json.loads((tmp_path / "campaign" / "rounds" / "001" / "fit.json").read_text())
    assert fit["mve"] is True and fit["ensemble_size"] == 1
