"""The GNN blended with a Tanimoto-kernel SVM (``train`` unless ``--no-blend``): the SVM saved as
numbers predicts what scikit-learn predicts, the weight is chosen on validation, and every way of
predicting (Python, ``predict``, ``screen`` workers, ensembles) gives the blend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgraph.chem.fingerprints import morgan_bits, tanimoto_kernel
from molgraph.cli.main import main
from molgraph.data.split import split_indices
from molgraph.inference import blend
from molgraph.inference.blend import TanimotoSVM
from molgraph.inference.loading import load_model
from molgraph.training.baseline import SVM_MAX_TRAIN, fit_svm
from molgraph.training.blend import blend_refusal, choose_weights

DATA = Path(__file__).parent / "data"
ESOL = DATA / "esol_120.csv"


def _esol() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(ESOL)
    return frame["smiles"].str.strip().tolist(), frame[["logS"]].to_numpy(float)


def test_the_saved_svm_predicts_what_scikit_learn_predicts(tmp_path, monkeypatch):
    from sklearn.svm import SVC, SVR

    smiles, y = _esol()
    bits = morgan_bits(smiles)
    split = split_indices(smiles, "scaffold", seed=0)
    fit = fit_svm(bits, y, split, "regression")
    train, val, test = split
    mean, std = y[train, 0].mean(), y[train, 0].std()
    reference = SVR(kernel="precomputed", **fit.setting).fit(
        tanimoto_kernel(bits[train], bits[train]), (y[train, 0] - mean) / std)
    expected = reference.predict(tanimoto_kernel(bits[test], bits[train])) * std + mean
    np.testing.assert_allclose(fit.test[:, 0], expected, rtol=1e-5)
    fit.model.save(tmp_path / "svm.npz")
    loaded = TanimotoSVM.load(tmp_path / "svm.npz", "regression")
    assert len(loaded.bank) == len(reference.support_) < len(train)  # support molecules only
    np.testing.assert_allclose(loaded.predict(bits[test])[:, 0], expected, rtol=1e-5)
    monkeypatch.setattr(blend, "KERNEL_ROWS", 5)  # a screening shard goes through in blocks
    np.testing.assert_allclose(loaded.predict(bits[test])[:, 0], expected, rtol=1e-5)
    assert loaded.predict(bits[:0]).shape == (0, 1)

    labels = (y > np.median(y)).astype(float)
    fit = fit_svm(bits, labels, split, "classification")
    reference = SVC(kernel="precomputed", **fit.setting).fit(
        tanimoto_kernel(bits[train], bits[train]), labels[train, 0])
    decision = reference.decision_function(tanimoto_kernel(bits[test], bits[train]))
    np.testing.assert_allclose(fit.test[:, 0], 1 / (1 + np.exp(-decision)), rtol=1e-5)


def test_multitask_labels_are_masked_and_a_one_class_task_predicts_its_rate(tmp_path):
    frame = pd.read_csv(DATA / "tox21_150.csv")
    y = frame.iloc[:, 1:].to_numpy(float)
    bits = morgan_bits(frame["smiles"].tolist())
    split = split_indices(frame["smiles"].tolist(), "scaffold", seed=0)
    one_class = [t for t in range(y.shape[1]) if len(np.unique(y[split[0], t][
        ~np.isnan(y[split[0], t])])) < 2]
    fit = fit_svm(bits, y, split, "classification")
    assert fit.test.shape == (len(split[2]), y.shape[1]) and np.isfinite(fit.test).all()
    for t in one_class:
        assert np.allclose(fit.test[:, t], np.nanmean(y[split[0], t]))
    fit.model.save(tmp_path / "svm.npz")
    again = TanimotoSVM.load(tmp_path / "svm.npz", "classification").predict(bits[split[2]])
    np.testing.assert_allclose(again, fit.test, rtol=1e-6)


def test_the_weight_follows_the_validation_score():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(60, 2))
    good, noise = y + rng.normal(scale=0.1, size=y.shape), rng.normal(size=y.shape)
    assert choose_weights("regression", y, good, noise).tolist() == [1.0, 1.0]
    assert choose_weights("regression", y, noise, good).tolist() == [0.0, 0.0]
    gnn = np.column_stack([good[:, 0], noise[:, 1]])
    svm = np.column_stack([noise[:, 0], good[:, 1]])
    assert choose_weights("regression", y, gnn, svm).tolist() == [1.0, 0.0]
    half = y + rng.normal(scale=0.5, size=y.shape)
    other = y + rng.normal(scale=0.5, size=y.shape)
    assert 0.2 <= choose_weights("regression", y, half, other)[0] <= 0.8  # errors cancel
    y[:30, 1] = np.nan  # missing labels are left out, not scored
    assert choose_weights("regression", y, gnn, svm).tolist() == [1.0, 0.0]


def test_too_many_training_molecules_train_the_model_alone(monkeypatch):
    assert blend_refusal(SVM_MAX_TRAIN) is None
    assert "kernel is n²" in blend_refusal(SVM_MAX_TRAIN + 1)
    from molgraph.training.api import train

    # 108 training + validation molecules > 50
    monkeypatch.setattr("molgraph.training.blend.SVM_MAX_TRAIN", 50)
    run = train(DATA / "esol_120.csv", ["logS"],
                          epochs=1, model_options={"hidden_channels": 8}, cache_dir=False,
                          train_options={"threads": 1, "device": "cpu"}, baseline=False)
    assert run.blend is None and run.config.blend is False and run.model.blend is None


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blend") / "run"
    assert main(["train", "--data", str(ESOL), "--target-columns", "logS", "--epochs", "3",
                 "--hidden", "16", "--blend", "--threads", "1", "--device", "cpu",
                 "--out", str(out)]) == 0
    return out


def test_metrics_show_the_blend_and_both_parts_alone(run):
    metrics = json.loads((run / "metrics.json").read_text())
    blend = metrics["blend"]
    w = blend["weights"]["logS"]
    assert 0.0 <= w <= 1.0
    # the same C as the baseline's (chosen on validation), the same SVM on validation (which
    # chose w); the saved SVM is refitted on training + validation molecules
    assert blend["svm"]["setting"] == metrics["baseline"]["models"]["svm"]["setting"]
    assert blend["svm"]["val"]["rmse"] == metrics["baseline"]["models"]["svm"]["val"]["rmse"]
    assert blend["svm"]["fitted_on"] == "train+val"
    # w = 1 (the GNN alone) and w = 0 (the SVM alone) are candidates on validation
    assert metrics["val"]["rmse"] <= min(blend["gnn"]["val"]["rmse"],
                                         blend["svm"]["val"]["rmse"]) + 1e-9
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["blend"]["weights"] == [w] and (run / "model" / "svm.npz").exists()


def test_the_saved_svm_is_refitted_on_training_and_validation_molecules(run):
    from sklearn.svm import SVR

    split = json.loads((run / "split.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    smiles, y = _esol()
    rows = np.concatenate([split["train"], split["val"]])
    test = np.asarray(split["test"])
    bits = morgan_bits(smiles)
    mean, std = y[rows, 0].mean(), y[rows, 0].std()
    reference = SVR(kernel="precomputed", **metrics["blend"]["svm"]["setting"]).fit(
        tanimoto_kernel(bits[rows], bits[rows]), (y[rows, 0] - mean) / std)
    expected = reference.predict(tanimoto_kernel(bits[test], bits[rows])) * std + mean
    saved = TanimotoSVM.load(run / "model" / "svm.npz", "regression")
    np.testing.assert_allclose(saved.predict(bits[test])[:, 0], expected, rtol=1e-5)
    rmse = float(np.sqrt(np.mean((expected - y[test, 0]) ** 2)))
    assert metrics["blend"]["svm"]["test"]["rmse"] == pytest.approx(rmse, rel=1e-4)


def test_every_way_of_predicting_gives_the_blend(run, tmp_path):
    saved = pd.read_csv(run / "test_predictions.csv")
    model = load_model(run)
    direct = model.predict(saved["smiles"].tolist() + ["not a smiles"])
    assert np.isnan(direct[-1]).all()
    np.testing.assert_allclose(direct[:-1, 0], saved["logS_pred"], rtol=1e-5, atol=1e-6)
    data = tmp_path / "mols.csv"
    saved[["smiles"]].to_csv(data, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(run), "--data", str(data), "--out", str(out)]) == 0
    np.testing.assert_allclose(pd.read_csv(out)["logS_pred"], saved["logS_pred"], rtol=1e-5,
                               atol=1e-6)
    hits = tmp_path / "hits.csv"  # two worker processes: the SVM travels with the model
    assert main(["screen", "--model", str(run), "--library", str(data), "--out", str(hits),
                 "--workers", "2", "--no-pictures"]) == 0
    screened = pd.read_csv(hits).sort_values("row")
    np.testing.assert_allclose(screened["logS"], saved["logS_pred"], rtol=1e-5, atol=1e-6)


def test_an_ensemble_blends_its_mean_and_shrinks_its_spread(tmp_path):
    from molgraph.chem.featurize import featurize_smiles

    out = tmp_path / "run"
    assert main(["train", "--data", str(ESOL), "--target-columns", "logS", "--epochs", "2",
                 "--hidden", "16", "--blend", "--ensemble-size", "2", "--no-baseline",
                 "--threads", "1", "--device", "cpu", "--out", str(out)]) == 0
    w = json.loads((out / "metrics.json").read_text())["blend"]["weights"]["logS"]
    saved = pd.read_csv(out / "test_predictions.csv")
    smiles = saved["smiles"].tolist()
    graphs = featurize_smiles(smiles).graphs
    model = load_model(out)
    blended = model.predict_distribution(graphs, 256, smiles)[0][:, :, 0]
    np.testing.assert_allclose(blended.mean(axis=0), saved["logS_pred"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blended.std(axis=0), saved["logS_std"], rtol=1e-4, atol=1e-6)
    for member in model.members:  # the members' own spread, scaled by the GNN's share
        member.blend = None
    alone = model.predict_distribution(graphs, 256, smiles)[0][:, :, 0]
    np.testing.assert_allclose(blended.std(axis=0), w * alone.std(axis=0), rtol=1e-4,
                               atol=1e-6)


def test_a_damaged_svm_file_is_named(run, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(run / "model", copy)
    (copy / "svm.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(ValueError, match="svm.npz: not readable as the model's SVM"):
        load_model(copy)


def test_explain_covers_the_gnn_part_of_the_blend(run, tmp_path, capsys):
    w = json.loads((run / "metrics.json").read_text())["blend"]["weights"]["logS"]
    code = main(["explain", "--model", str(run), "--smiles", "CCO", "--out", str(tmp_path)])
    if w > 0:  # the GNN's part is explained, and the output says so
        assert code == 0 and f"weight of the GNN: logS {w:.3g}" in capsys.readouterr().out
    else:  # the SVM alone predicts: nothing for atoms to explain
        err = capsys.readouterr().err
        assert code == 2 and "SVM alone" in err and "Traceback" not in err


def test_a_classifier_blends_probabilities_and_a_tracker_gets_every_part():
    from molgraph.training.api import train
    from molgraph.training.job import final_metrics

    run = train(DATA / "bace_80.csv", ["Class"], task="classification", epochs=2,
                          model_options={"hidden_channels": 16}, cache_dir=False,
                          train_options={"threads": 1, "device": "cpu"}, blend=True)
    assert ((run.test_predictions >= 0) & (run.test_predictions <= 1)).all()
    scores = final_metrics(run)
    for name in ("test_roc_auc", "baseline_test_roc_auc", "gnn_test_roc_auc",
                 "svm_val_roc_auc", "blend_weight_0"):
        assert name in scores, name
    assert scores["gnn_test_roc_auc"] == run.blend["gnn"]["test"]["roc_auc"]
    assert not any(k.endswith("_0") and k.startswith("baseline") for k in scores)
