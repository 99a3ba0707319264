"""Screening on a real Dask cluster (two worker processes on loopback) matches a local run."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from screen_helpers import DATA, LIBRARY, read_table, tiny_models

from molgraph.screening.screen import ScreenConfig, run_screen


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> list[Path]:
    return tiny_models(tmp_path_factory.getbasetemp())


# ~12-30 s on 2 busy cores (worker processes import torch and RDKit); runs in CI on purpose.
def test_dask_cluster_gives_the_local_ranking(tmp_path, models):
    distributed = pytest.importorskip("distributed")
    libraries = [LIBRARY, DATA / "small.smi"]
    common = {"chunk_size": 40, "top_k": 50}
    run_screen(ScreenConfig(models, libraries, tmp_path / "local.csv", workers=0, **common))
    started = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        summary = run_screen(ScreenConfig(models, libraries, tmp_path / "dask.csv",
                                      scheduler=cluster.scheduler_address, **common))
        assert len(cluster.scheduler_info["workers"]) == 2
    assert summary["scheduler"].startswith("tcp://127.0.0.1") and summary["workers"] == 2
    pd.testing.assert_frame_equal(read_table(tmp_path / "dask.csv"),
                                  read_table(tmp_path / "local.csv"))
    assert read_table(tmp_path / "dask.invalid.csv").equals(
        read_table(tmp_path / "local.invalid.csv"))
    print(f"Dask run: {time.perf_counter() - started:.1f} s")


def test_missing_distributed_is_a_clear_error(monkeypatch):
    import builtins

    from molgraph.screening import cluster

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError("no distributed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(ImportError, match=r"molgraph\[dask\]"):
        cluster._import_distributed()
