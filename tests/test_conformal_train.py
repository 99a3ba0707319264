"""Conformal intervals end to end: fitted by ``train`` (validation or ``--calibration-data``),
reported in ``metrics.json``, saved with the model, written by ``predict``, ``screen`` (in this
process and in worker processes) and the MLflow model; models saved before predict without them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from screen_helpers import LIBRARY, read_table

import molgraph
from molgraph.cli.main import main
from molgraph.inference.artifact import TrainedModel
from molgraph.inference.conformal import SET_LABELS, Calibration, model_calibration
from molgraph.inference.loading import load_model
from molgraph.inference.mlflow_model import json_safe, model_signature, predict_frame
from molgraph.inference.model_dir import CONFORMAL_FILE
from molgraph.screening.screen import ScreenConfig, run_screen
from molgraph.training.api import train
from molgraph.training.job import final_metrics

DATA = Path(__file__).parent / "data"
SMILES = ["CCO", "not a smiles", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
TINY = {"epochs": 2, "model_options": {"hidden_channels": 16}, "cache_dir": None,
        "baseline": False, "train_options": {"threads": 1, "device": "cpu"}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Tiny runs: a blended regression model, an ensemble of two, a classifier (alpha 0.3, its
    validation part holds 8 molecules) and a model calibrated on a file of its own."""
    base = tmp_path_factory.mktemp("conformal")
    esol = pd.read_csv(DATA / "esol_120.csv")
    esol.iloc[:80].to_csv(base / "train.csv", index=False)
    esol.iloc[80:].to_csv(base / "calibration.csv", index=False)
    out = {name: base / name for name in ("single", "ensemble", "classes", "file")}
    return {
        "single": train(DATA / "esol_120.csv", ["logS"], out=out["single"], **TINY),
        "ensemble": train(DATA / "esol_120.csv", ["logS"], out=out["ensemble"], blend=False,
                          ensemble_size=2, **TINY),
        "classes": train(DATA / "bace_80.csv", ["Class"], task="classification",
                         smiles_column="mol", split="random", conformal_alpha=0.3,
                         out=out["classes"], **TINY),
        "file": train(base / "train.csv", ["logS"], blend=False, out=out["file"],
                      **{"data.calibration_data": str(base / "calibration.csv")}, **TINY),
        "out": out, "calibration_file": base / "calibration.csv"}


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["uncertainty"]


def test_metrics_report_the_test_coverage_of_the_saved_intervals(runs):
    conformal = _metrics(runs["out"]["single"])["conformal"]
    run = runs["single"]
    assert (conformal["alpha"], conformal["calibrated_on"]) == (0.1, "validation")
    assert conformal["n_calibration"] == [len(run.split[1])]
    test = pd.read_csv(runs["out"]["single"] / "test_predictions.csv")
    calibration = Calibration.load(runs["out"]["single"] / "model", json.loads(
        (runs["out"]["single"] / "model" / "config.json").read_text())["conformal"], "regression")
    lower, upper = calibration.interval(test[["logS_pred"]].to_numpy())
    y = test[["logS"]].to_numpy()
    assert conformal["test"]["coverage"] == pytest.approx(((lower <= y) & (y <= upper)).mean())
    assert conformal["test"]["mean_width"] == pytest.approx(2 * calibration.quantiles()[0])
    assert "spread" not in _metrics(runs["out"]["single"])  # a single model has none


def test_predict_writes_bounds_and_a_reloaded_model_gives_the_same(runs, tmp_path):
    frame = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(runs["out"]["single"]), "--data",
                 str(DATA / "with_invalid.csv"), "--out", str(frame)]) == 0
    written = pd.read_csv(frame, keep_default_na=False)
    assert list(written.columns[2:5]) == ["logS_pred", "logS_lower", "logS_upper"]
    valid = written[written["error"] == ""][["logS_pred", "logS_lower", "logS_upper"]].astype(
        float)
    q = model_calibration(runs["single"].model).quantiles()[0]
    assert (valid["logS_lower"] < valid["logS_pred"]).all()
    np.testing.assert_allclose(valid["logS_upper"] - valid["logS_lower"], 2 * q, rtol=1e-5)
    assert (written.loc[written["error"] != "", ["logS_lower", "logS_upper"]] == "").all().all()
    in_memory = molgraph.predict(runs["single"].model, SMILES)
    reloaded = molgraph.predict(runs["out"]["single"], SMILES)
    pd.testing.assert_frame_equal(in_memory, reloaded)
    narrow = molgraph.predict(runs["out"]["single"], SMILES, conformal_alpha=0.5)
    width = (narrow["logS_upper"] - narrow["logS_lower"]).dropna()
    assert len(width) == 3 and (width < (reloaded["logS_upper"] - reloaded["logS_lower"]).dropna()
                                ).all()
    with pytest.raises(ValueError, match="conformal-alpha"):
        molgraph.predict(runs["out"]["single"], SMILES, conformal_alpha=0)


@pytest.mark.parametrize("workers", [0, 2])
def test_screen_writes_the_bounds_predict_writes(runs, tmp_path, workers):
    """In this process, and in worker processes that get the model's files as bytes."""
    out = tmp_path / "all.csv"
    summary = run_screen(ScreenConfig([runs["out"]["single"]], [LIBRARY], out, workers=workers,
                                      chunk_size=60))
    assert summary["columns"] == ["logS", "logS_lower", "logS_upper"]
    frame = read_table(out)
    ok = frame[frame["status"] == "ok"]
    own = molgraph.predict(runs["out"]["single"], ok["smiles"].tolist())
    for column in ("lower", "upper"):
        np.testing.assert_allclose(ok[f"logS_{column}"], own[f"logS_{column}"], rtol=1e-5,
                                   atol=1e-5)
    assert frame.loc[frame["status"] == "invalid", "logS_lower"].isna().all()


def test_an_ensemble_scales_its_intervals_by_its_spread(runs, tmp_path):
    uncertainty = _metrics(runs["out"]["ensemble"])
    assert uncertainty["conformal"]["locally_adaptive"] is True
    assert set(uncertainty["spread"]["test"]) >= {"spearman", "miscalibration_area"}
    assert 0 <= uncertainty["spread"]["test"]["miscalibration_area"] <= 0.5
    tracked = final_metrics(runs["ensemble"])  # what MLflow and a sweep's trials get
    assert tracked["conformal_test_coverage"] == uncertainty["conformal"]["test"]["coverage"]
    assert "spread_test_spearman" in tracked and "conformal_test_coverage_0" not in tracked
    frame = molgraph.predict(runs["out"]["ensemble"], SMILES).dropna(subset=["logS_pred"])
    calibration = model_calibration(runs["ensemble"].model)
    assert calibration.members == 2
    half = calibration.quantiles()[0] * (frame["logS_std"] + calibration.beta[0])
    np.testing.assert_allclose(frame["logS_upper"] - frame["logS_pred"], half, rtol=1e-4)
    assert frame["logS_upper"].sub(frame["logS_lower"]).nunique() == 3
    member = TrainedModel.load(runs["out"]["ensemble"] / "model" / "members" / "0")
    assert member.calibration is not None and model_calibration(member) is None  # not alone
    assert "logS_lower" not in molgraph.predict(member, SMILES)
    out = tmp_path / "ensemble.csv"
    run_screen(ScreenConfig([runs["out"]["ensemble"]], [LIBRARY], out, workers=0, top_k=5))
    top = read_table(out)
    own = molgraph.predict(runs["out"]["ensemble"], top["smiles"].tolist())
    np.testing.assert_allclose(top["logS_upper"], own["logS_upper"], rtol=1e-5, atol=1e-5)


def test_classification_writes_prediction_sets(runs, tmp_path):
    run = runs["classes"]
    conformal = _metrics(runs["out"]["classes"])["conformal"]
    assert conformal["alpha"] == 0.3 and set(conformal["test"]) >= {"coverage", "mean_set_size"}
    frame = molgraph.predict(runs["out"]["classes"], SMILES)
    assert list(frame.columns[2:4]) == ["Class_pred", "Class_set"]
    q = model_calibration(run.model).quantiles()[0]
    for prob, written in zip(frame["Class_pred"], frame["Class_set"]):
        if np.isnan(prob):
            assert written == ""
            continue
        expected = SET_LABELS[int(prob <= q) + 2 * int(1 - prob <= q)]
        assert written == expected
    answer = json_safe(predict_frame(load_model(runs["out"]["classes"], "cpu"), SMILES))
    assert answer["Class_set"].tolist()[1] is None  # JSON null, as the other columns
    assert answer["Class_set"].tolist()[0] == frame["Class_set"][0]
    signature = model_signature(["Class"], conformal=["Class_set"]).outputs.to_dict()
    assert {"type": "string", "name": "Class_set", "required": False} in signature
    out = tmp_path / "hits.csv"
    run_screen(ScreenConfig([runs["out"]["classes"]], [LIBRARY], out, workers=0, top_k=10))
    assert set(read_table(out)["Class_set"]) <= set(SET_LABELS)


def test_calibration_data_is_a_file_the_model_never_learned_from(runs):
    conformal = _metrics(runs["out"]["file"])["conformal"]
    source = str(runs["calibration_file"])
    assert conformal["calibrated_on"] == source and conformal["n_calibration"] == [40]
    entry = json.loads((runs["out"]["file"] / "model" / "config.json").read_text())["conformal"]
    assert entry["source"] == source and entry["labels"] == [40]
    # the scores are the saved model's own residuals on that file
    cal = pd.read_csv(source)
    pred = load_model(runs["out"]["file"], "cpu").predict(cal["smiles"].tolist())[:, 0]
    scores = np.sort(np.abs(cal["logS"].to_numpy() - pred))
    saved = np.sort(model_calibration(runs["file"].model).scores[:, 0])
    np.testing.assert_allclose(saved, scores, rtol=1e-4, atol=1e-5)


def test_models_saved_before_calibrations_predict_without_the_columns(runs, tmp_path):
    old = load_model(DATA / "saved_models" / "dmpnn", "cpu")
    assert old.calibration is None
    columns = list(molgraph.predict(old, SMILES).columns)
    assert not [c for c in columns if c.endswith(("_lower", "_upper", "_set"))]
    copy = tmp_path / "model"
    shutil.copytree(runs["out"]["single"] / "model", copy)
    config = json.loads((copy / "config.json").read_text())
    del config["conformal"]
    (copy / "config.json").write_text(json.dumps(config))
    (copy / CONFORMAL_FILE).unlink()
    before = molgraph.predict(copy, SMILES)
    assert "logS_lower" not in before
    now = molgraph.predict(runs["out"]["single"], SMILES)
    pd.testing.assert_series_equal(before["logS_pred"], now["logS_pred"])
