"""Molecule-level features at the readout (``--molecule-features morgan rdkit2d``): computed
from the SMILES, standardised with the training split, saved with the model, and computed the
same way wherever the model predicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgraph.chem.featurize import featurize_smiles
from molgraph.chem.molfeatures import (
    MORGAN_BITS,
    descriptor_names,
    molecule_features,
    standardisation,
)
from molgraph.cli.main import main
from molgraph.inference.loading import load_model
from molgraph.models.config import ModelConfig
from molgraph.sweep.space import space_from_dict
from molgraph.training.config import RunConfig

DATA = Path(__file__).parent / "data"
ESOL = DATA / "esol_120.csv"
SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]


def test_features_side_by_side_and_only_descriptors_standardised():
    u = molecule_features(SMILES, ["morgan", "rdkit2d"])
    n_desc = len(descriptor_names())
    assert u.shape == (3, MORGAN_BITS + n_desc) and u.dtype == np.float32
    assert set(np.unique(u[:, :MORGAN_BITS])) <= {0.0, 1.0}
    weight = descriptor_names().index("MolWt")
    assert u[0, MORGAN_BITS + weight] == pytest.approx(46.07, abs=0.01)
    mean, std = standardisation(u, ["morgan", "rdkit2d"])
    assert mean[:MORGAN_BITS] == [0.0] * MORGAN_BITS and std[:MORGAN_BITS] == [1.0] * MORGAN_BITS
    assert mean[MORGAN_BITS + weight] == pytest.approx(u[:, MORGAN_BITS + weight].mean(), 1e-5)
    assert min(std) > 0


def test_a_sweep_names_a_choice_as_one_string():
    assert ModelConfig(molecule_features="morgan+rdkit2d").molecule_features == \
        ["morgan", "rdkit2d"]
    assert ModelConfig(molecule_features="none").molecule_features == []
    with pytest.raises(ValueError, match="distinct names"):
        ModelConfig(molecule_features=["morgan", "maccs"])
    space = space_from_dict({"model.molecule_features": ["none", "morgan", "morgan+rdkit2d"]},
                            "space", RunConfig())
    assert space.params[0].choices == ("none", "morgan", "morgan+rdkit2d")
    config = RunConfig().with_values({"model.molecule_features": "rdkit2d"})
    assert config.model.molecule_features == ["rdkit2d"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("features") / "run"
    assert main(["train", "--data", str(ESOL), "--target-columns", "logS", "--epochs", "3",
                 "--hidden", "16", "--molecule-features", "morgan", "rdkit2d",
                 "--no-baseline", "--threads", "1", "--device", "cpu",
                 "--out", str(out)]) == 0
    return out


def test_the_model_keeps_the_training_statistics(run):
    config = json.loads((run / "model" / "config.json").read_text())["model"]
    assert config["molecule_features"] == ["morgan", "rdkit2d"]
    assert len(config["molecule_mean"]) == MORGAN_BITS + len(descriptor_names())
    split = json.loads((run / "split.json").read_text())
    smiles = pd.read_csv(ESOL)["smiles"].str.strip()
    train = molecule_features(smiles.iloc[split["train"]].tolist(), ["morgan", "rdkit2d"])
    mean, _ = standardisation(train, ["morgan", "rdkit2d"])
    np.testing.assert_allclose(config["molecule_mean"], mean, rtol=1e-5)


def test_every_way_of_predicting_agrees(run, tmp_path):
    model = load_model(run)
    direct = model.predict(SMILES + ["not a smiles"])
    assert np.isnan(direct[3]).all() and np.isfinite(direct[:3]).all()
    data = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": SMILES + ["not a smiles"]}).to_csv(data, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(run), "--data", str(data), "--out", str(out)]) == 0
    np.testing.assert_allclose(pd.read_csv(out)["logS_pred"].to_numpy()[:3], direct[:3, 0],
                               rtol=1e-5)
    hits = tmp_path / "hits.csv"
    assert main(["screen", "--model", str(run), "--library", str(data), "--out", str(hits),
                 "--workers", "0", "--no-pictures"]) == 0
    screened = pd.read_csv(hits).set_index("smiles")
    np.testing.assert_allclose(screened.loc[SMILES, "logS"].to_numpy(), direct[:3, 0],
                               rtol=1e-5)


def test_graphs_without_their_smiles_are_refused(run):
    model = load_model(run)
    with pytest.raises(ValueError, match="needs the SMILES"):
        model.predict_graphs(featurize_smiles(SMILES).graphs)


def test_explain_says_it_covers_graph_only_models(run, tmp_path, capsys):
    code = main(["explain", "--model", str(run), "--smiles", "CCO", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and "molecule-level features" in err and "Traceback" not in err


#: above ``molfeatures.LARGE_ATOMS``: the size-limited descriptors are missing
LARGE = "C" * 400


def test_predict_names_each_molecule_above_the_size_limit(run, tmp_path, capsys):
    data = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": ["CCO", LARGE, "not a smiles"]}).to_csv(data, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(run), "--data", str(data), "--out", str(out)]) == 0
    [line] = [t for t in capsys.readouterr().err.splitlines() if "above 300" in t]
    assert f"{data}: row 2 (CCCCCCCCCC" in line and "400 atoms" in line
    assert "training mean" in line
    predicted = pd.read_csv(out)
    assert len(predicted) == 3 and np.isfinite(predicted["logS_pred"][1])  # kept, predicted


def test_screen_counts_the_molecules_above_the_size_limit(run, tmp_path):
    library = tmp_path / "library.csv"
    pd.DataFrame({"smiles": ["CCO", LARGE, "c1ccccc1O"]}).to_csv(library, index=False)
    hits = tmp_path / "hits.csv"
    assert main(["screen", "--model", str(run), "--library", str(library), "--out", str(hits),
                 "--workers", "0", "--no-pictures"]) == 0
    summary = json.loads((tmp_path / "hits.summary.json").read_text())
    assert summary["size_limited"] == 1 and summary["ok"] == 3
    screened = pd.read_csv(hits, keep_default_na=False).set_index("smiles")
    assert "400 atoms, above 300" in screened.loc[LARGE, "reason"]
    assert screened.loc[LARGE, "status"] == "ok" and screened.loc["CCO", "reason"] == ""


def test_a_3000_carbon_chain_is_predicted_in_seconds(run, tmp_path):
    """One such row kept ``predict`` busy for more than 300 s (about an hour expected)."""
    data = tmp_path / "big.csv"
    data.write_text("smiles\n" + "C" * 3000 + "\n")
    done = subprocess.run([sys.executable, "-m", "molgraph.cli.main", "predict", "--model",
                           str(run), "--data", str(data), "--out", str(tmp_path / "p.csv")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "row 1" in done.stderr and "3000 atoms, above 300" in done.stderr
    assert np.isfinite(pd.read_csv(tmp_path / "p.csv")["logS_pred"][0])
