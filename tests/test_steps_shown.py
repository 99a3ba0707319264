"""The steps before and after training say what they do: featurizing (a bar over the molecules
when there are many), canonical SMILES, the ECFP baselines (announced, then timed); and bars
are drawn in a Jupyter kernel, whose stderr is no terminal."""

from __future__ import annotations

import io
import logging
import sys
import types

import numpy as np
import pytest

import molgraph.data.dataset as dataset_module
import molgraph.runtime.progress as progress_module
from molgraph.chem.featurize import featurize_chunk, featurize_smiles
from molgraph.chem.parse import read_molecules
from molgraph.data.dataset import featurize_cached, load_dataset
from molgraph.runtime.progress import Progress, step, wants_bar
from molgraph.training.baseline import fit_baselines


def _smiles(data_dir) -> list[str]:
    return read_molecules(data_dir / "esol_120.csv", target_columns=["logS"]).smiles


def _messages(caplog, logger: str | None = None) -> list[str]:
    """The captured messages (of ``logger`` only, when given: another test may have left the
    root logger at INFO, and then every step of molgraph is captured)."""
    return [record.getMessage() for record in caplog.records
            if logger is None or record.name == logger]


@pytest.mark.parametrize("workers", [1, 2])
def test_featurizing_counts_every_molecule_chunk_by_chunk(data_dir, workers):
    smiles = [*_smiles(data_dir), "not a smiles", ""]
    progress = Progress(len(smiles), "featurizing", enabled=False)
    shown = featurize_smiles(smiles, workers=workers, chunk_size=25, parallel_above=0,
                             progress=progress)
    assert progress.done == len(smiles) == 122
    plain = featurize_chunk(smiles)
    np.testing.assert_array_equal(shown.valid, plain.valid)
    np.testing.assert_array_equal(shown.graphs.x, plain.graphs.x)
    np.testing.assert_array_equal(shown.graphs.edge_index, plain.graphs.edge_index)
    assert shown.errors == plain.errors == {120: "invalid SMILES 'not a smiles'",
                                            121: "empty SMILES"}


def test_featurizing_is_announced_then_read_from_the_cache(data_dir, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="molgraph.data.dataset")
    smiles = _smiles(data_dir)
    featurize_cached(smiles, tmp_path)
    assert _messages(caplog) == ["featurizing 120 molecules …"]  # quick: no time, no bar
    caplog.clear()
    featurize_cached(smiles, tmp_path)
    assert _messages(caplog)[0].startswith("graphs of 120 molecules read from cache ")


def test_many_molecules_get_a_bar(data_dir, monkeypatch, capsys):
    monkeypatch.setattr(dataset_module, "MANY_MOLECULES", 50)
    monkeypatch.setattr(progress_module, "in_jupyter", lambda: True)  # a bar, as in Jupyter
    featurize_cached(_smiles(data_dir), None)
    err = capsys.readouterr().err
    assert "featurizing: 100%" in err and "120/120" in err and "mol/s" in err


def test_canonical_smiles_of_many_molecules_are_announced(data_dir, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="molgraph.data.dataset")
    monkeypatch.setattr(dataset_module, "MANY_MOLECULES", 50)
    data = load_dataset(data_dir / "esol_120.csv", target_columns=["logS"], cache_dir=None)
    caplog.clear()
    assert len(data.canonical_smiles) == 120
    assert _messages(caplog) == ["canonical SMILES of 120 molecules, to find duplicates …"]


def test_baselines_announce_themselves_and_their_time(data_dir, caplog):
    caplog.set_level(logging.INFO, logger="molgraph.training.baseline")
    data = load_dataset(data_dir / "esol_120.csv", target_columns=["logS"], cache_dir=None)
    index = np.random.default_rng(0).permutation(len(data.smiles))
    fit_baselines(data.smiles, data.y, (index[:80], index[80:100], index[100:]), "regression")
    first, *_, last = _messages(caplog, "molgraph.training.baseline")
    assert first == "fitting ECFP4 baselines on 80 training molecules: random forest, SVM …"
    assert last.startswith("baseline ") and "; baselines fitted in 0:00:" in last


def test_a_step_says_when_it_took_long(caplog):
    caplog.set_level(logging.INFO, logger="molgraph.runtime.progress")
    with step("splitting", announce=False, report_above=3600):
        pass
    with step("sorting"):
        pass
    assert _messages(caplog) == ["sorting …", "sorting: done in 0:00:00"]


def test_a_jupyter_kernel_wants_a_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert not wants_bar()
    kernel = types.SimpleNamespace(kernel=object())  # what IPython's kernel shell carries
    monkeypatch.setitem(sys.modules, "IPython",
                        types.SimpleNamespace(get_ipython=lambda: kernel))
    assert wants_bar() and not wants_bar(False)
    terminal = types.SimpleNamespace()  # plain IPython in a terminal: no kernel
    monkeypatch.setitem(sys.modules, "IPython",
                        types.SimpleNamespace(get_ipython=lambda: terminal))
    assert not wants_bar()
