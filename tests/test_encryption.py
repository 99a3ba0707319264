"""Encryption at rest: model directories and featurized stores written under a key give the
same predictions and screens as plaintext ones; without the key, with another key or with a
changed byte they are refused with one clear line (exit code 2); without a key nothing changes.
Real training, featurizing, screening (in worker processes) and prediction on tests/data."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from screen_helpers import DATA, LIBRARY, read_table

import molgraph
from molgraph.cli.main import main
from molgraph.runtime.encryption import (
    KEY_ENV,
    MAGIC,
    active_key,
    decrypt,
    encrypt,
    encryption_key,
    parse_key,
    read_key_file,
    write_key_file,
)
from molgraph.screening.store import read_manifest
from molgraph.screening.store_build import build_store

SMILES = pd.read_csv(DATA / "with_invalid.csv", keep_default_na=False)["SMILES"].tolist()
MODEL_FILES = {"config.json", "weights.pt", "svm.npz", "domain.npz", "conformal.npz"}


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("keys")
    return {"right": write_key_file(base / "right.key"),
            "wrong": write_key_file(base / "wrong.key")}


def _train(out: Path, *key: str) -> Path:
    """A 2-epoch DMPNN (hidden 32, seed 1) on 120 ESOL molecules, blended with its SVM."""
    assert main(["train", "--data", str(DATA / "esol_120.csv"), "--target-columns", "logS",
                 "--seed", "1", "--epochs", "2", "--hidden", "32", "--no-cache", "--blend",
                 "--threads", "1", "--out", str(out), *key]) == 0
    return out / "model"


@pytest.fixture(scope="module")
def models(tmp_path_factory, keys) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    return {"plain": _train(base / "plain"),
            "sealed": _train(base / "sealed", "--key-file", str(keys["right"]))}


@pytest.fixture(scope="module")
def stores(tmp_path_factory, keys) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("stores")
    build_store([LIBRARY], base / "plain.store", chunk_size=64, workers=0)
    assert main(["featurize", "--library", str(LIBRARY), "--out", str(base / "sealed.store"),
                 "--chunk-size", "64", "--workers", "0", "--no-progress",
                 "--key-file", str(keys["right"])]) == 0
    return {"plain": base / "plain.store", "sealed": base / "sealed.store"}


def _fails(argv: list[str], capsys, message: str) -> None:
    """``molgraph`` ends with exit code 2 and one line holding ``message``, no traceback."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.count("error:") == 1, err


def test_key_files_and_key_text(tmp_path, monkeypatch):
    path = write_key_file(tmp_path / "k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = read_key_file(path)
    assert len(key) == 32 and parse_key(path.read_text(), "x") == key
    with pytest.raises(ValueError, match="never overwritten"):
        write_key_file(path)
    assert read_key_file(path) == key  # untouched
    (tmp_path / "bad.key").write_text("0" * 64)  # hex is not the format
    with pytest.raises(ValueError, match="bad.key: not a molgraph key"):
        read_key_file(tmp_path / "bad.key")
    assert active_key() is None
    monkeypatch.setenv(KEY_ENV, path.read_text())
    assert active_key() == key
    with encryption_key(key_file=path) as given:
        assert given == key
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(ValueError, match=f"{KEY_ENV}: not a molgraph key"):
        active_key()
    with encryption_key(key=path.read_text()):  # a key given wins over the environment
        assert active_key() == key


def test_keygen_verb(tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert len(read_key_file(tmp_path / "k")) == 32
    _fails(["keygen", "--out", str(tmp_path / "k")], capsys, "never overwritten")


def test_every_model_file_is_encrypted_and_predicts_the_same(models, keys):
    sealed, plain = models["sealed"], models["plain"]
    assert {p.name for p in sealed.iterdir()} == {p.name for p in plain.iterdir()} == MODEL_FILES
    for name in MODEL_FILES:
        assert (sealed / name).read_bytes().startswith(MAGIC), name
        assert not (plain / name).read_bytes().startswith(MAGIC), name
    expected = molgraph.predict(plain, SMILES, device="cpu")
    assert expected["logS_lower"].notna().sum() == 4  # conformal and domain columns present
    with molgraph.encryption_key(key_file=keys["right"]):
        got = molgraph.predict(sealed, SMILES, device="cpu")
    pd.testing.assert_frame_equal(got, expected, rtol=1e-5)


def test_the_run_writes_its_test_molecules_encrypted_and_draws_no_pictures(models):
    """test_predictions.csv holds SMILES and labels; the pictures would show the labels."""
    sealed, plain = models["sealed"].parent, models["plain"].parent
    assert (sealed / "test_predictions.csv").read_bytes().startswith(MAGIC)
    assert b"logS" in (plain / "test_predictions.csv").read_bytes()
    assert not (sealed / "plots").exists() and (plain / "plots").exists()


def test_an_ensemble_directory_is_encrypted_whole(models, keys, tmp_path):
    from molgraph.inference.ensemble import EnsembleModel

    with encryption_key(key_file=keys["right"]):
        member = molgraph.load_model(models["sealed"], device="cpu")
        EnsembleModel([member, member]).save(tmp_path / "ensemble")
        loaded = molgraph.load_model(tmp_path / "ensemble", device="cpu")
    files = [p for p in (tmp_path / "ensemble").rglob("*") if p.is_file()]
    assert len(files) == 2 * len(MODEL_FILES) + 1  # and ensemble.json
    assert all(p.read_bytes().startswith(MAGIC) for p in files)
    np.testing.assert_allclose(loaded.predict(SMILES), member.predict(SMILES), rtol=1e-6,
                               equal_nan=True)


def test_plaintext_without_a_key_is_as_before(models, keys):
    plain = models["plain"]
    assert json.loads((plain / "config.json").read_text())["blend"]["file"] == "svm.npz"
    for name in MODEL_FILES - {"config.json"}:
        assert (plain / name).read_bytes()[:2] == b"PK", name  # zip: npz, torch.save
    with np.load(plain / "svm.npz", allow_pickle=False) as data:
        assert data["bank"].dtype == np.uint8
    saved = DATA / "saved_models" / "gcn"  # saved before encryption existed
    with encryption_key(key_file=keys["right"]):  # plaintext is read whatever the key
        assert np.isfinite(molgraph.load_model(saved, device="cpu").predict(["CCO"])).all()


def test_predict_without_or_with_another_key_is_one_clear_error(models, keys, tmp_path,
                                                                capsys, monkeypatch):
    argv = ["predict", "--model", str(models["sealed"].parent), "--data",
            str(DATA / "with_invalid.csv"), "--out", str(tmp_path / "p.csv"), "--device", "cpu"]
    config = models["sealed"] / "config.json"
    _fails(argv, capsys, f"{config} is encrypted; give --key-file or {KEY_ENV}")
    _fails([*argv, "--key-file", str(keys["wrong"])], capsys,
           f"{config} could not be decrypted with this key")
    assert not (tmp_path / "p.csv").exists()
    monkeypatch.setenv(KEY_ENV, keys["right"].read_text())
    assert main(argv) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(SMILES)


@pytest.mark.parametrize("name", ["svm.npz", "weights.pt", "config.json"])
def test_a_changed_byte_is_an_authentication_error(models, keys, tmp_path, capsys, name):
    copy = shutil.copytree(models["sealed"], tmp_path / "model")
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    _fails(["predict", "--model", str(copy), "--data", str(DATA / "with_invalid.csv"),
            "--out", str(tmp_path / "p.csv"), "--key-file", str(keys["right"])], capsys,
           f"{copy / name} could not be decrypted with this key: authentication failed")


def test_bytes_round_trip_and_refusals(keys, tmp_path):
    key, other = read_key_file(keys["right"]), read_key_file(keys["wrong"])
    sealed = encrypt(b"CCO,1.0\n", key)
    assert sealed.startswith(MAGIC) and b"CCO" not in sealed
    assert encrypt(b"CCO,1.0\n", key) != sealed  # a fresh nonce each time
    assert decrypt(b"plain", "p") == b"plain"
    with encryption_key(key):
        assert decrypt(sealed, "f") == b"CCO,1.0\n"
        with pytest.raises(ValueError, match="f: encrypted file is damaged"):
            decrypt(sealed[:30], "f")
    with encryption_key(other), pytest.raises(ValueError, match="encrypted with another key"):
        decrypt(sealed, "f")
    with pytest.raises(ValueError, match="f is encrypted; give --key-file"):
        decrypt(sealed, "f")


def test_store_is_encrypted_and_holds_no_smiles(stores, keys):
    sealed = stores["sealed"]
    library = pd.read_csv(LIBRARY, keep_default_na=False)["SMILES"]
    shards = sorted(sealed.glob("shard-*.npz"))
    assert len(shards) == 4
    for path in [*shards, sealed / "store.json"]:
        raw = path.read_bytes()
        assert raw.startswith(MAGIC)
        assert not any(smiles.encode() in raw for smiles in library if len(smiles) >= 8)
    plain_shard = (stores["plain"] / shards[0].name).read_bytes()
    assert any(smiles.encode() in plain_shard for smiles in library)  # the check can fail
    with pytest.raises(ValueError, match="store.json is encrypted"):
        read_manifest(sealed)
    with encryption_key(key_file=keys["right"]):
        records = read_manifest(sealed)["libraries"][0]["shards"]
    for record in records:  # the checksums are of the files as they lie on disk
        assert record["sha256"] == hashlib.sha256((sealed / record["file"]).read_bytes()
                                                  ).hexdigest()


def test_encrypted_store_screens_the_same_in_worker_processes(stores, models, keys, tmp_path):
    """The key goes to the scoring processes in memory: not in the environment here."""
    assert KEY_ENV not in os.environ
    common = ["--workers", "2", "--threshold", "-100", "--no-progress"]
    assert main(["screen", "--model", str(models["plain"]), "--library", str(stores["plain"]),
                 "--out", str(tmp_path / "plain.csv"), *common]) == 0
    assert main(["screen", "--model", str(models["sealed"]), "--library",
                 str(stores["sealed"]), "--out", str(tmp_path / "sealed.csv"), *common,
                 "--key-file", str(keys["right"])]) == 0
    summary = json.loads((tmp_path / "sealed.summary.json").read_text())
    assert summary["scoring"] == "processes"
    expected = read_table(tmp_path / "plain.csv")
    assert len(expected) == 200
    pd.testing.assert_frame_equal(read_table(tmp_path / "sealed.csv"), expected, rtol=1e-5)


def test_store_without_the_key_or_changed_is_refused(stores, models, keys, tmp_path, capsys):
    argv = ["screen", "--model", str(models["plain"]), "--library", str(stores["sealed"]),
            "--out", str(tmp_path / "x.csv"), "--workers", "0", "--no-progress"]
    manifest = stores["sealed"] / "store.json"
    _fails(argv, capsys, f"{manifest} is encrypted; give --key-file or {KEY_ENV}")
    _fails([*argv, "--key-file", str(keys["wrong"])], capsys,
           f"{manifest} could not be decrypted with this key")
    copy = shutil.copytree(stores["sealed"], tmp_path / "copy.store")
    shard = copy / "shard-000-000001.npz"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0x80  # the tag
    shard.write_bytes(bytes(data))
    argv[4] = str(copy)
    _fails([*argv, "--key-file", str(keys["right"])], capsys,
           f"{shard} could not be decrypted with this key: authentication failed")


def test_plaintext_store_is_not_resumed_under_a_key(tmp_path, keys):
    build_store([DATA / "small.smi"], tmp_path / "s", workers=0)
    with encryption_key(key_file=keys["right"]), pytest.raises(ValueError,
                                                                match="cannot resume"):
        build_store([DATA / "small.smi"], tmp_path / "s", workers=0, resume=True)


def test_explain_reads_an_encrypted_model(models, keys, tmp_path):
    with encryption_key(key_file=keys["right"]):  # the network alone (its SVM has weight 1)
        model = molgraph.load_model(models["sealed"], device="cpu")
        model.blend = None
        model.save(tmp_path / "gnn")
    assert all(p.read_bytes().startswith(MAGIC) for p in (tmp_path / "gnn").iterdir())
    assert main(["explain", "--model", str(tmp_path / "gnn"), "--smiles", "CCO", "c1ccccc1O",
                 "--out", str(tmp_path / "x"), "--no-draw", "--device", "cpu",
                 "--key-file", str(keys["right"])]) == 0
    assert len(pd.read_csv(tmp_path / "x" / "molecules.csv")) == 2


def test_sweep_worker_processes_get_the_key_in_memory(keys):
    from molgraph.sweep.workers import run_in_processes

    key = read_key_file(keys["right"])
    with encryption_key(key):
        assert run_in_processes(active_key, [()]) == [key]
    assert run_in_processes(active_key, [()]) == [None]


def test_a_scoring_worker_without_the_key_says_what_to_do(models):
    """What a Dask worker without ``MOLGRAPH_KEY`` says: the model payload stays encrypted."""
    from molgraph.screening.workers import _ensemble, model_payload

    payload = model_payload(models["sealed"])
    assert all(data.startswith(MAGIC) for data in payload["files"].values())
    with pytest.raises(ValueError, match=f"Dask cluster's workers need {KEY_ENV}"):
        _ensemble([payload], "cpu", "fp32")
