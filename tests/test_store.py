"""Featurized library stores: round trip, version check, re-screening gives identical scores,
shards checked against store.json (copied over, truncated, corrupt manifest, version 1)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from screen_helpers import DATA, INVALID_ROWS, LIBRARY, N_ROWS, read_table, tiny_models

from molgraph.chem.featurize import featurize_chunk
from molgraph.screening.screen import ScreenConfig, run_screen
from molgraph.screening.store import (
    STORE_FORMAT_VERSION,
    is_store,
    iter_store_shards,
    load_shard,
    pack_strings,
    unpack_strings,
)
from molgraph.screening.store_build import build_store


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> list[Path]:
    return tiny_models(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("store") / "moses.store"
    build_store([LIBRARY, DATA / "small.smi"], path, chunk_size=64, workers=0, druglike=True)
    return path


def test_strings_round_trip():
    values = ["CCO", "", "C[C@H](N)C(=O)O", "Ünïcödé name", "x" * 300]
    assert unpack_strings(*pack_strings(values)) == values
    assert unpack_strings(*pack_strings([])) == []


def test_store_holds_graphs_rows_and_reasons(store):
    assert is_store(store)
    info = json.loads((store / "store.json").read_text())
    assert info["complete"] and [lib["name"] for lib in info["libraries"]] == \
        ["moses_204.csv", "small.smi"]
    assert info["libraries"][0]["rows"] == N_ROWS and info["libraries"][0]["invalid"] == 4
    assert info["libraries"][0]["chunks"] == 4  # 204 rows in shards of 64
    assert info["format_version"] == STORE_FORMAT_VERSION == 2
    records = info["libraries"][0]["shards"]
    assert [(r["file"], r["first_row"], r["last_row"], r["rows"]) for r in records] == \
        [(f"shard-000-00000{c}.npz", 64 * c + 1, min(64 * c + 64, N_ROWS),
          min(64, N_ROWS - 64 * c)) for c in range(4)]
    assert sum(r["invalid"] for r in records) == 4
    for record in records:
        digest = hashlib.sha256((store / record["file"]).read_bytes()).hexdigest()
        assert record["sha256"] == digest
    shards = [load_shard(path) for li, _, path in iter_store_shards(store) if li == 0]
    rows = np.concatenate([s["rows"] for s in shards])
    assert rows.tolist() == list(range(1, N_ROWS + 1))
    smiles = [smi for s in shards for smi in s["smiles"]]
    source = pd.read_csv(LIBRARY, keep_default_na=False)
    assert smiles == source["SMILES"].tolist()
    first = shards[0]
    expected = featurize_chunk(first["smiles"])
    np.testing.assert_array_equal(first["graphs"].x, expected.graphs.x)
    np.testing.assert_array_equal(first["graphs"].edge_index, expected.graphs.edge_index)
    np.testing.assert_array_equal(first["valid"], expected.valid)
    assert first["reasons"][5] == "empty SMILES"  # data row 6
    assert len(first["descriptors"]["mol_weight"]) == int(first["valid"].sum())


@pytest.mark.parametrize("options", [{"druglike": True, "filters": ["lipinski"]},
                                     {"filters": ["veber"]}, {}])
def test_rescreen_from_store_is_identical(store, models, tmp_path, options):
    libraries = [LIBRARY, DATA / "small.smi"]
    for name, source in (("smiles", libraries), ("store", [store])):
        run_screen(ScreenConfig(models, source, tmp_path / f"{name}.parquet", workers=0,
                            chunk_size=64, **options))
    from_smiles = pd.read_parquet(tmp_path / "smiles.parquet")
    from_store = pd.read_parquet(tmp_path / "store.parquet")
    pd.testing.assert_frame_equal(from_store, from_smiles)
    assert ("pains" in from_store.columns) == bool(options.get("druglike"))
    bad = from_store[(from_store["status"] == "invalid") & (from_store["library"] ==
                                                             "moses_204.csv")]
    assert dict(zip(bad["row"], bad["smiles"])) == INVALID_ROWS


def test_store_from_another_featurizer_version_is_refused(store, models, tmp_path):
    copy = tmp_path / "old.store"
    copy.mkdir()
    info = json.loads((store / "store.json").read_text())
    info["featurizer"]["version"] = -1
    (copy / "store.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="featurizer version"):
        run_screen(ScreenConfig([models[0]], [copy], tmp_path / "x.csv", workers=0))


def test_incomplete_store_is_refused_and_resumes(tmp_path, models):
    path = tmp_path / "part.store"
    build_store([LIBRARY], path, chunk_size=100, workers=0)
    info = json.loads((path / "store.json").read_text())
    (path / "store.json").write_text(json.dumps({**info, "complete": False}))
    (path / "shard-000-000002.npz").unlink()
    _truncate(path / "shard-000-000001.npz")  # a done shard damaged since: featurized again
    with pytest.raises(ValueError, match="incomplete"):
        run_screen(ScreenConfig([models[0]], [path], tmp_path / "x.csv", workers=0))
    again = build_store([LIBRARY], path, chunk_size=100, workers=0, resume=True)
    assert again["complete"] and again["libraries"][0]["rows"] == N_ROWS
    assert again["libraries"][0]["invalid"] == 4
    assert again["libraries"] == info["libraries"]  # the same records, checksums included
    rows = np.concatenate([load_shard(p)["rows"] for _, _, p in iter_store_shards(path)])
    assert rows.tolist() == list(range(1, N_ROWS + 1))  # every shard verifies


def test_main_featurize_then_screen(tmp_path, models, capsys):
    from molgraph.cli.main import main

    assert main(["featurize", "--library", str(LIBRARY), "--out", str(tmp_path / "s"),
                 "--workers", "0", "--no-progress"]) == 0
    assert f"{N_ROWS} rows featurized (4 invalid" in capsys.readouterr().out
    assert main(["screen", "--model", str(models[0]), "--library", str(tmp_path / "s"),
                 "--out", str(tmp_path / "hits.csv"), "--threshold", "-100",
                 "--no-progress"]) == 0
    assert len(read_table(tmp_path / "hits.csv")) == N_ROWS - 4


def test_named_moses_library_resolves_through_the_wheel():
    from molgraph.chem.sources import resolve_data_path

    with pytest.raises(FileNotFoundError, match="no MOSES set"):
        resolve_data_path("moses:nope")
    import importlib.util

    if importlib.util.find_spec("moses") is None:
        pytest.skip("molsets is not installed")
    assert resolve_data_path("moses:test").name == "test.csv.gz"


def test_rescreen_in_scoring_processes_is_identical(store, models, tmp_path):
    """On the CPU a store is scored in worker processes (one thread each): same table."""
    summaries = {}
    for workers in (0, 2):
        summaries[workers] = run_screen(ScreenConfig(models, [store], tmp_path / f"w{workers}.csv",
                                                 workers=workers, top_k=30))
    assert summaries[2]["scoring"] == "processes" and summaries[0]["scoring"] == "main process"
    pd.testing.assert_frame_equal(read_table(tmp_path / "w2.csv"), read_table(tmp_path / "w0.csv"))


def _copy(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.store"
    shutil.copytree(store, copy)
    return copy


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _screen_fails(path: Path, models: list[Path], tmp_path: Path, capsys,
                  match: str) -> None:
    """Screening ``path`` raises a ValueError matching ``match``; the CLI says so, exit 2."""
    from molgraph.cli.main import main

    with pytest.raises(ValueError, match=match):
        run_screen(ScreenConfig([models[0]], [path], tmp_path / "x.csv", workers=0, chunk_size=64))
    assert not (tmp_path / "x.csv").exists()
    capsys.readouterr()
    assert main(["screen", "--model", str(models[0]), "--library", str(path), "--out",
                 str(tmp_path / "hits.csv"), "--workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "molgraph screen: error:" in err and "Traceback" not in err
    assert re.search(match, err)
    assert not (tmp_path / "hits.csv").exists()


def test_shard_copied_over_another_is_refused(store, models, tmp_path, capsys):
    copy = _copy(store, tmp_path)
    shutil.copyfile(copy / "shard-000-000001.npz", copy / "shard-000-000002.npz")
    _screen_fails(copy, models, tmp_path, capsys,
                  r"shard-000-000002\.npz does not match store\.json: checksum differs.*"
                  r"holds rows 65–128 \(64 rows\), the manifest says 129–192.*featurize")


def test_truncated_shard_is_refused(store, models, tmp_path, capsys):
    copy = _copy(store, tmp_path)
    _truncate(copy / "shard-000-000003.npz")
    _screen_fails(copy, models, tmp_path, capsys,
                  r"shard-000-000003\.npz is damaged.*featurize the library again")


def test_shard_with_a_missing_array_is_refused(store, tmp_path):
    copy = _copy(store, tmp_path)
    with np.load(copy / "shard-000-000000.npz") as data:
        arrays = {k: data[k] for k in data.files if k != "rows"}
    np.savez(copy / "shard-000-000000.npz", **arrays)
    with pytest.raises(ValueError, match=r"shard-000-000000\.npz is damaged.*KeyError"):
        load_shard(copy / "shard-000-000000.npz")


@pytest.mark.parametrize("content", ["", "{\"format\": \"molgraph-featurized-lib", "[1, 2]"])
def test_corrupt_manifest_is_refused(store, models, tmp_path, capsys, content):
    copy = _copy(store, tmp_path)
    (copy / "store.json").write_text(content)
    _screen_fails(copy, models, tmp_path, capsys,
                  r"store\.json: not a molgraph store manifest: .*featurize the library again")


def test_version_1_store_screens_identically_with_a_warning(store, models, tmp_path, caplog):
    copy = _copy(store, tmp_path)
    info = json.loads((copy / "store.json").read_text())
    for library in info["libraries"]:
        del library["shards"]
    (copy / "store.json").write_text(json.dumps({**info, "format_version": 1}))
    with caplog.at_level(logging.WARNING, logger="molgraph.screening.store"):
        for name, source in (("v2", store), ("v1", copy)):
            run_screen(ScreenConfig(models, [source], tmp_path / f"{name}.parquet", workers=0))
    warnings = [r.getMessage() for r in caplog.records if "cannot be verified" in r.getMessage()]
    assert len(warnings) == 1 and "molgraph featurize" in warnings[0]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "v1.parquet"),
                                  pd.read_parquet(tmp_path / "v2.parquet"))
