"""Shared fixtures: paths to the small real data sets in tests/data and to ../shared."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared/datasets is not present")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never write the featurization cache into the user's home during tests."""
    monkeypatch.setenv("MOLGRAPH_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _no_handler_on_a_closed_stream():
    """``molgraph.cli.main.main`` points the root logger at the stderr of its test (pytest's
    capture, closed afterwards); later tests would log "--- Logging error ---" into it."""
    yield
    for handler in logging.root.handlers[:]:
        if getattr(getattr(handler, "stream", None), "closed", False):
            logging.root.removeHandler(handler)
