"""The library a notebook drives: training on a DataFrame or on SMILES with labels, screening a
list, a scikit-learn estimator, and the public names ``dir(molgraph)`` shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import molgraph

DATA = Path(__file__).parent / "data"
FAST = {"epochs": 2, "model_options": {"hidden_channels": 16}, "cache_dir": False,
        "train_options": {"threads": 1, "device": "cpu"}, "progress": False}


@pytest.fixture(scope="module")
def esol() -> pd.DataFrame:
    return pd.read_csv(DATA / "esol_120.csv")


def test_dir_lists_the_public_names():
    names = dir(molgraph)
    for name in ("train", "screen", "run_sweep", "load_model", "RunConfig", "SweepConfig",
                 "TrackingConfig", "ScreenConfig", "MolGraphRegressor", "explain_molecules"):
        assert name in names and name in molgraph.__all__, name
    assert callable(molgraph.train) and callable(molgraph.run_sweep)
    public = [n for n in names if not n.startswith("_")]
    assert not {"annotations", "warnings", "lazy_exports"} & set(public)  # the module's helpers


def test_a_dataframe_trains_as_its_file_does(esol, tmp_path):
    from_frame = molgraph.train(esol, ["logS"], split="random", baseline=False, **FAST)
    from_file = molgraph.train(DATA / "esol_120.csv", ["logS"], split="random",
                               baseline=False, **FAST)
    assert from_frame.metrics["test"]["rmse"] == pytest.approx(
        from_file.metrics["test"]["rmse"], rel=1e-5)
    assert [len(p) for p in from_frame.split] == [len(p) for p in from_file.split]


def test_smiles_with_labels_train_and_predict_in_memory(esol):
    smiles = esol["smiles"].tolist() + ["not a smiles"]
    labels = np.append(esol["logS"].to_numpy(), 0.0)
    run = molgraph.train(smiles, y=labels, split="random", **FAST)
    assert run.model.target_names == ["y"]
    assert run.metrics["test"]["rmse"] > 0 and len(run.labels) == len(esol)  # invalid left out
    assert "model:" in run.summary() and "rmse" in run.summary()
    pred = run.model.predict(["CCO", "not a smiles"])
    assert np.isfinite(pred[0]).all() and np.isnan(pred[1]).all()


def test_predict_gives_every_row_its_prediction_domain_and_error(esol, tmp_path):
    run = molgraph.train(esol, ["logS"], split="random", out=tmp_path / "run", **FAST)
    trained_on = esol["smiles"][int(run.split[0][0])]  # every row is valid: index = row
    frame = pd.DataFrame({"smiles": ["CCO", "not a smiles", trained_on],
                          "id": ["a", "b", "c"]})
    for model in (run.model, tmp_path / "run"):
        table = molgraph.predict(model, frame)
        assert list(table["row"]) == [1, 2, 3] and list(table["id"]) == ["a", "b", "c"]
        assert table["error"][1].startswith("invalid SMILES") and table["error"][0] == ""
        assert np.isnan(table["logS_pred"][1]) and np.isfinite(table["logS_pred"][0])
        assert table["train_similarity"][2] == pytest.approx(1.0)  # a training molecule
        assert bool(table["in_domain"][2]) and pd.isna(table["in_domain"][1])


def test_a_series_names_its_target_and_a_bad_label_count_is_refused(esol):
    run = molgraph.train(esol["smiles"], y=esol["logS"], split="random", **FAST)
    assert run.model.target_names == ["logS"]
    with pytest.raises(ValueError, match="120 SMILES but 3 labels"):
        molgraph.train(esol["smiles"], y=[1.0, 2.0, 3.0], **FAST)


def test_labels_missing_or_given_twice_are_refused_with_what_to_do(esol):
    with pytest.raises(ValueError, match="give target_columns"):
        molgraph.train(esol, **FAST)  # which columns are labels is not guessed
    with pytest.raises(ValueError, match="give them as y"):
        molgraph.train(esol["smiles"].tolist(), **FAST)
    with pytest.raises(ValueError, match="name them in target_columns"):
        molgraph.train(esol, ["logS"], y=esol["logS"], **FAST)


def test_screen_takes_a_list_and_a_model_in_memory(esol, tmp_path):
    run = molgraph.train(esol, ["logS"], split="random", baseline=False, **FAST)
    smiles = ["CCO", "not a smiles", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"]
    every = molgraph.screen(smiles, run.model, workers=0)
    assert list(every["row"]) == [1, 2, 3, 4] and list(every["smiles"]) == smiles
    assert list(every["status"]) == ["ok", "invalid", "ok", "ok"]
    top = molgraph.screen(pd.Series(smiles), run.model, top_k=2, workers=0)
    assert len(top) == 2 and list(top["rank"]) == [1, 2]
    assert top["logS"].is_monotonic_decreasing
    assert top.attrs["summary"]["invalid"] == 1


def test_the_estimator_sits_in_scikit_learn(esol):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    estimator = molgraph.MolGraphRegressor(epochs=2, hidden_channels=16, threads=1,
                                           device="cpu", blend=False)
    assert clone(estimator).get_params()["hidden_channels"] == 16
    estimator.set_params(num_layers=2)
    scores = cross_val_score(estimator, esol["smiles"], esol["logS"], cv=2,
                             scoring="neg_root_mean_squared_error")
    assert scores.shape == (2,) and np.isfinite(scores).all()
    fitted = clone(estimator).fit(esol["smiles"], esol["logS"])
    assert fitted.predict(["CCO", "CCCO"]).shape == (2,)
    assert "test" not in fitted.run_.metrics or fitted.run_.metrics["test"]


def test_the_classifier_gives_probabilities_and_classes():
    bace = pd.read_csv(DATA / "bace_80.csv")
    classifier = molgraph.MolGraphClassifier(epochs=2, hidden_channels=16, threads=1,
                                             device="cpu")
    classifier.fit(bace["mol"], bace["Class"])
    proba = classifier.predict_proba(bace["mol"][:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(classifier.predict(bace["mol"][:5])) <= {0, 1}
    assert list(classifier.classes_) == [0, 1]


def test_a_tracked_sweep_is_one_library_call(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("model.name: dmpnn\nmodel.hidden_channels: [8, 16]\n")
    base = molgraph.run_config(DATA / "esol_120.csv", ["logS"], epochs=2,
                               train_options={"threads": 1, "device": "cpu"})
    tracking = molgraph.TrackingConfig(f"sqlite:///{tmp_path / 'mlflow.db'}", "api-sweep")
    result = molgraph.run_sweep(base, tmp_path / "sweep",
                                molgraph.SweepConfig(space=str(space), trials=2, cv=2,
                                                     pruner="none"),
                                tracking=tracking, progress=False)
    assert result["best_trial"] is not None and result["evaluation"] is None
    assert (tmp_path / "sweep" / "best" / "model").is_dir()
    assert json.loads((tmp_path / "sweep" / "trials" / f"{result['best_trial']:04d}"
                       / "metrics.json").read_text())["folds"] == 2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("api-sweep").experiment_id])
    assert len(runs) == 3  # the parent and one child per trial
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.run_name == "sweep molgraph on esol_120"
    history = client.get_metric_history(parent.info.run_id, "best_val_rmse")  # a line chart
    assert [m.step for m in history] == [0, 1]
    assert history[1].value <= history[0].value
