"""A table cell holds one SMILES: whitespace inside it makes the row invalid with the reason,
in every path (featurizer, training data, predict, screen from a file or a store). RDKit reads
the text after a space as a name, so ``CC(=O)O c1ccccc1`` used to be scored as acetic acid.
Only a ``.smi`` line keeps that convention (SMILES, then a name)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from screen_helpers import read_table, tiny_models

from molgraph.chem import featurize
from molgraph.chem.featurize import featurize_chunk
from molgraph.chem.parse import read_molecules
from molgraph.data.dataset import load_dataset
from molgraph.inference.predict import predict
from molgraph.screening.screen import ScreenConfig, run_screen
from molgraph.screening.store_build import build_store

SPACED = ["CC(=O)O c1ccccc1", "CC(=O)O", "c1ccccc1\tCCCCCCCCCC", "CCO "]
REASON = "SMILES holds a space: 'CC(=O)O c1ccccc1' — a table cell holds one SMILES"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_models(tmp_path_factory.getbasetemp())[0]


@pytest.fixture
def spaced_csv(tmp_path) -> Path:
    path = tmp_path / "space.csv"
    pd.DataFrame({"smiles": SPACED, "logS": [1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    return path


def test_the_featurizer_refuses_whitespace_inside_a_smiles():
    chunk = featurize_chunk(SPACED + ["CC |$_AV:;$|"])  # a CXSMILES extension is no name
    assert chunk.valid.tolist() == [False, True, False, True, True]
    assert chunk.errors[0].startswith(REASON)
    assert "whitespace" in chunk.errors[2]


def test_a_smi_line_is_still_a_smiles_and_a_name(tmp_path):
    path = tmp_path / "named.smi"
    path.write_text("CC(=O)O c1ccccc1\n")
    table = read_molecules(path)
    assert table.smiles == ["CC(=O)O"] and table.ids == ["c1ccccc1"]
    assert featurize_chunk(table.smiles).valid.all()


def test_training_data_leaves_the_row_out(spaced_csv):
    data = load_dataset(spaced_csv, target_columns=["logS"], cache_dir=None)
    assert data.valid.tolist() == [False, True, False, True]
    assert data.errors[0].startswith(REASON)


@pytest.mark.parametrize("given", ["file", "frame", "list"])
def test_predict_gives_the_row_no_score(given, spaced_csv, model):
    molecules = {"file": spaced_csv, "frame": pd.read_csv(spaced_csv), "list": SPACED}[given]
    frame = predict(model, molecules, device="cpu")
    assert frame["logS_pred"].isna().tolist() == [True, False, True, False]
    assert frame["error"].iloc[0].startswith(REASON)


@pytest.mark.parametrize("from_store", [False, True])
def test_screen_marks_the_row_invalid(from_store, spaced_csv, model, tmp_path, monkeypatch):
    library = spaced_csv
    if from_store:  # a store featurized before the rule: its spaced row has a graph
        library = tmp_path / "old.store"
        with monkeypatch.context() as patch:
            patch.setattr(featurize, "smiles_problem", lambda smiles: None)
            build_store([spaced_csv], library, workers=0)
    run_screen(ScreenConfig([str(model)], [str(library)], str(tmp_path / "hits.csv"),
                            workers=0, device="cpu"))
    hits = read_table(tmp_path / "hits.csv")
    assert hits["status"].tolist() == ["invalid", "ok", "invalid", "ok"]
    assert hits["reason"].iloc[0].startswith(REASON)
