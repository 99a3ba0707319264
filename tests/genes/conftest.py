"""Fixtures for the gene tests: the hand-written excerpts in tests/data/genes."""

from __future__ import annotations

from pathlib import Path

import pytest

GENES = Path(__file__).resolve().parents[1] / "data" / "genes"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One thread: tiny graphs gain nothing from more, and a busy shared CPU makes them crawl."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def genes_dir() -> Path:
    return GENES


@pytest.fixture
def shared_genes(shared_datasets: Path) -> Path:
    """``../shared/datasets/genes`` (the root ``shared_datasets`` fixture skips when absent)."""
    return shared_datasets / "genes"


@pytest.fixture
def tiny_graph():
    from molgraph.genes import read_network

    return read_network(GENES / "network.tsv", "edgelist")
