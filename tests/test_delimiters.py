"""A ChEMBL web export (``;``-separated, quoted header, ``Smiles`` column) through every verb
that reads molecules: found on its own, or given with ``--delimiter``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from screen_helpers import tiny_models

from molgraph.cli.main import main

DATA = Path(__file__).parent / "data"
CHEMBL = DATA / "esol_30_chembl.csv"  # the first 30 rows of esol_120.csv, as ChEMBL writes them


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_models(tmp_path_factory.getbasetemp())[0]


@pytest.mark.parametrize("verb", [["train"], ["sweep"], ["predict"], ["screen"], ["explain"],
                                  ["featurize"]])
def test_every_verb_reading_molecules_takes_a_delimiter(verb, capsys):
    with pytest.raises(SystemExit):
        main([*verb, "--help"])
    assert "--delimiter" in capsys.readouterr().out


def test_train_on_a_chembl_export(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(CHEMBL), "--delimiter", ";", "--target-columns",
                 "Standard Value", "--epochs", "1", "--hidden", "8", "--split", "random",
                 "--no-baseline", "--no-cache", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 30
    assert json.loads((out / "run_config.json").read_text())["data"]["delimiter"] == ";"


@pytest.mark.parametrize("given", [[], ["--delimiter", ";"]])
def test_predict_reads_the_export_as_the_comma_file(model, tmp_path, given):
    ours, theirs = tmp_path / "chembl.csv", tmp_path / "esol.csv"
    assert main(["predict", "--model", str(model), "--data", str(CHEMBL), *given,
                 "--out", str(ours)]) == 0
    assert main(["predict", "--model", str(model), "--data", str(DATA / "esol_120.csv"),
                 "--out", str(theirs)]) == 0
    chembl, esol = pd.read_csv(ours), pd.read_csv(theirs).head(30)
    assert chembl["row"].tolist() == list(range(1, 31))
    assert chembl["id"].tolist() == esol["id"].tolist()  # ChEMBL's "Molecule Name"
    np.testing.assert_allclose(chembl["logS_pred"], esol["logS_pred"], rtol=1e-5)


def test_screen_and_featurize_read_the_export(model, tmp_path):
    hits = tmp_path / "hits.csv"
    assert main(["screen", "--model", str(model), "--library", str(CHEMBL), "--delimiter", ";",
                 "--workers", "0", "--out", str(hits)]) == 0
    frame = pd.read_csv(hits)
    assert len(frame) == 30 and (frame["status"] == "ok").all()
    store = tmp_path / "store"
    assert main(["featurize", "--library", str(CHEMBL), "--workers", "0", "--out",
                 str(store)]) == 0
    assert json.loads((store / "store.json").read_text())["libraries"][0]["rows"] == 30


def test_explain_reads_the_export(model, tmp_path):
    out = tmp_path / "explained"
    assert main(["explain", "--model", str(model), "--data", str(CHEMBL), "--delimiter", ";",
                 "--steps", "4", "--no-draw", "--out", str(out)]) == 0
    molecules = pd.read_csv(out / "molecules.csv")
    assert len(molecules) == 30 and molecules["valid"].all()


def test_a_wrong_delimiter_says_which_one_the_file_uses(tmp_path, capsys):
    assert main(["featurize", "--library", str(CHEMBL), "--delimiter", "tab", "--workers", "0",
                 "--out", str(tmp_path / "store")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "esol_30_chembl.csv" in err and "semicolon-separated" in err
    assert "--delimiter ';'" in err and "Traceback" not in err
