"""The applicability domain: nearest-training similarity on every prediction, saved as numbers,
the training and validation molecules of the run, empty (with one notice) for older models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgraph.chem import fingerprints
from molgraph.chem.fingerprints import max_tanimoto, morgan_bits, sparse_bits, tanimoto_kernel
from molgraph.cli.main import main
from molgraph.inference import domain as domain_module
from molgraph.inference.domain import Domain, in_domain
from molgraph.inference.loading import load_model
from molgraph.inference.predict import predict_file
from molgraph.training.api import train

DATA = Path(__file__).parent / "data"
SAVED = DATA / "saved_models"
ESOL = pd.read_csv(DATA / "esol_120.csv")["smiles"].str.strip().tolist()
MOSES = pd.read_csv(DATA / "moses_204.csv", keep_default_na=False)["SMILES"].tolist()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A 2-member ensemble on 120 ESOL molecules, scaffold split, trained in seconds."""
    out = tmp_path_factory.mktemp("domain") / "run"
    train(DATA / "esol_120.csv", ["logS"], model="gcn", split="scaffold", epochs=1, out=out,
          model_options={"hidden_channels": 8}, cache_dir=False, ensemble_size=2)
    return out


def test_max_tanimoto_is_the_kernels_row_maximum(monkeypatch):
    """Blocks of queries (13 blocks of 16 here) against a sparse bank give exactly the dense
    kernel's maximum; nothing to compare with is similarity 0."""
    monkeypatch.setattr(fingerprints, "BLOCK_ELEMENTS", 16 * len(ESOL))
    queries, bank = morgan_bits([s for s in MOSES if s]), morgan_bits(ESOL)
    expected = tanimoto_kernel(queries, bank).max(axis=1)
    np.testing.assert_array_equal(max_tanimoto(queries, sparse_bits(bank)), expected)
    assert max_tanimoto(bank[:3], sparse_bits(bank)).tolist() == [1.0, 1.0, 1.0]
    assert max_tanimoto(queries[:2], sparse_bits(bank[:0])).tolist() == [0.0, 0.0]


def test_domain_is_the_training_and_validation_molecules(run_dir):
    split = json.loads((run_dir / "split.json").read_text())
    model = load_model(run_dir, device="cpu")
    learned = [ESOL[i] for i in split["train"] + split["val"]]
    test = [ESOL[i] for i in split["test"]]
    assert model.domain.molecules == len(learned)
    for k, member in enumerate(model.members):  # each member's directory has it: screening
        assert (run_dir / "model" / "members" / str(k) / "domain.npz").exists()  # sends them
        assert np.array_equal(member.domain.bits, model.domain.bits)
    assert (model.train_similarity(learned) == 1.0).all()
    expected = tanimoto_kernel(morgan_bits(test), morgan_bits(learned)).max(axis=1)
    np.testing.assert_array_equal(model.train_similarity(test), expected)
    assert (expected < 1).any()  # a scaffold split: test molecules are not training ones


def test_saved_domain_is_numbers_and_a_damaged_one_is_named(tmp_path):
    domain = Domain.from_smiles(ESOL[:30] + ESOL[:5])  # duplicates are kept once
    entry = domain.save(tmp_path)
    assert entry["molecules"] == 35 and entry["fingerprints"] == 30
    with np.load(tmp_path / "domain.npz", allow_pickle=False) as data:
        assert data["bits"].dtype == np.uint8 and data["bits"].shape == (30, 256)
    again = Domain.load(tmp_path, entry)
    assert np.array_equal(again.bits, domain.bits) and again.molecules == 35
    (tmp_path / "domain.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"domain\.npz: not readable .* retrain"):
        Domain.load(tmp_path, entry)


def test_union_keeps_one_shared_domain_and_joins_different_ones():
    a, b = Domain.from_smiles(ESOL[:10]), Domain.from_smiles(ESOL[10:20])
    assert Domain.union([a, Domain(a.bits.copy(), a.molecules)]) is a
    joined = Domain.union([a, b])
    assert len(joined.bits) == len(a.bits) + len(b.bits) and joined.molecules == 20
    assert Domain.union([a, None]) is None


def test_in_domain_is_missing_where_the_similarity_is():
    flags = in_domain(np.array([0.2, 0.35, np.nan, 0.9], dtype=np.float32), 0.35)
    assert flags.tolist() == [False, True, pd.NA, True]


def test_predict_file_writes_similarity_and_flag(run_dir, tmp_path):
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(run_dir), "--data", str(DATA / "with_invalid.csv"),
                 "--out", str(out), "--domain-threshold", "0.5"]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns)[-3:] == ["train_similarity", "in_domain", "error"]
    bad = frame["error"] != ""
    assert (frame.loc[bad, "train_similarity"] == "").all()
    assert (frame.loc[bad, "in_domain"] == "").all()
    similarity = frame.loc[~bad, "train_similarity"].astype(float)
    assert frame.loc[~bad, "in_domain"].tolist() == (similarity >= 0.5).astype(str).tolist()
    with pytest.raises(ValueError, match="between 0 and 1"):
        predict_file(run_dir, DATA / "with_invalid.csv", domain_threshold=35)


def test_model_saved_before_the_domain_predicts_with_empty_columns(tmp_path, caplog,
                                                                   monkeypatch):
    monkeypatch.setattr(domain_module, "_NOTICED", [])
    with caplog.at_level(logging.WARNING, logger="molgraph.inference.domain"):
        frame = predict_file(SAVED / "gcn", DATA / "with_invalid.csv", device="cpu")
        predict_file(SAVED / "gcn", DATA / "with_invalid.csv", device="cpu")
    assert frame["logS_pred"].notna().sum() == 4  # it still predicts
    assert frame["train_similarity"].isna().all() and frame["in_domain"].isna().all()
    notices = [r for r in caplog.records if "without an applicability domain" in r.message]
    assert len(notices) == 1 and "train it again" in notices[0].message
