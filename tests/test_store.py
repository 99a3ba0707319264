"""Featurized library stores: round trip, version check, re-screening gives identical scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from screen_helpers import DATA, INVALID_ROWS, LIBRARY, N_ROWS, read_table, tiny_models

from molgraph.chem.featurize import featurize_chunk
from molgraph.screening.screen import ScreenConfig, screen
from molgraph.screening.store import (
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
        screen(ScreenConfig(models, source, tmp_path / f"{name}.parquet", workers=0,
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
        screen(ScreenConfig([models[0]], [copy], tmp_path / "x.csv", workers=0))


def test_incomplete_store_is_refused_and_resumes(tmp_path, models):
    path = tmp_path / "part.store"
    build_store([LIBRARY], path, chunk_size=100, workers=0)
    info = json.loads((path / "store.json").read_text())
    (path / "store.json").write_text(json.dumps({**info, "complete": False}))
    (path / "shard-000-000002.npz").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        screen(ScreenConfig([models[0]], [path], tmp_path / "x.csv", workers=0))
    again = build_store([LIBRARY], path, chunk_size=100, workers=0, resume=True)
    assert again["complete"] and again["libraries"][0]["rows"] == N_ROWS
    assert again["libraries"][0]["invalid"] == 4


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
        summaries[workers] = screen(ScreenConfig(models, [store], tmp_path / f"w{workers}.csv",
                                                 workers=workers, top_k=30))
    assert summaries[2]["scoring"] == "processes" and summaries[0]["scoring"] == "main process"
    pd.testing.assert_frame_equal(read_table(tmp_path / "w2.csv"), read_table(tmp_path / "w0.csv"))
