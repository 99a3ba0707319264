"""The ECFP baseline beside every model: the same split, masked missing labels, chosen on
validation, reported in metrics.json and the table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from molgraph.chem.fingerprints import morgan_bits, tanimoto_kernel
from molgraph.cli.main import main
from molgraph.data.dataset import load_dataset
from molgraph.training.baseline import fit_baselines


def test_tanimoto_kernel_is_the_similarity_of_the_bits():
    bits = morgan_bits(["CCO", "CCO", "c1ccccc1", "CCN"])
    kernel = tanimoto_kernel(bits, bits)
    assert np.allclose(np.diag(kernel), 1) and kernel[0, 1] == 1
    assert 0 <= kernel[0, 2] < 0.2 and 0 < kernel[0, 3] < 1
    a, b = bits[0].astype(bool), bits[3].astype(bool)
    assert kernel[0, 3] == pytest.approx((a & b).sum() / (a | b).sum())
    assert bits.shape == (4, 2048) and bits.dtype == np.uint8


def test_multitask_classification_masks_missing_labels(data_dir):
    data = load_dataset(data_dir / "tox21_150.csv", target_columns=["NR-AhR", "SR-ARE"],
                        cache_dir=None)
    y = data.y.copy()
    assert np.isnan(y).any()  # Tox21 has missing labels
    index = np.random.default_rng(0).permutation(len(y))
    split = index[:90], index[90:120], index[120:]
    result = fit_baselines(data.smiles, y, split, "classification", seed=0)
    assert result["best"] in ("rf", "svm") and set(result["models"]) == {"rf", "svm"}
    for family in result["models"].values():
        assert {"roc_auc_0", "roc_auc_1"} <= set(family["test"])
    assert result["test"] == result["models"][result["best"]]["test"]
    # chosen on validation: the best family's validation score is the better one
    vals = [m["val"]["roc_auc"] for m in result["models"].values()]
    assert result["val"]["roc_auc"] == pytest.approx(np.nanmax(vals))


def test_train_reports_the_baseline_beside_the_model(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--threads", "1",
            "--no-cache", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    baseline = metrics["baseline"]
    assert baseline["features"].startswith("ECFP4") and baseline["best"] in ("rf", "svm")
    assert np.isfinite(baseline["test"]["rmse"]) and f"baseline {baseline['best']} test" in printed
    verdict = "better than" if metrics["test"]["rmse"] < baseline["test"]["rmse"] else "worse than"
    assert f"on test the model is {verdict} the ECFP4 baseline ({baseline['best']})" in printed
    assert printed.startswith("model: ")  # what was kept and why comes first
    assert main([*args[:-1], str(tmp_path / "plain"), "--no-baseline"]) == 0
    assert "baseline" not in json.loads((tmp_path / "plain" / "metrics.json").read_text())
