"""Labelled molecule data sets: read, featurize (cached on disk), report invalid rows.

Featurized graphs are cached under ``$MOLGRAPH_CACHE`` (default ``~/.cache/molgraph``), keyed
by a hash of the SMILES and the featurizer version, so a second run on the same data skips
RDKit entirely and a changed featurizer never reuses stale features.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from molgraph.chem.featurize import (
    PARSE_VERSION,
    FeaturizedChunk,
    featurize_smiles,
    valid_smiles,
)
from molgraph.chem.graphs import MolGraphs
from molgraph.chem.molfeatures import molecule_features
from molgraph.chem.parse import read_molecules
from molgraph.chem.sources import resolve_data_path
from molgraph.chem.table import MoleculeTable
from molgraph.chem.vocabulary import FEATURIZER_VERSION
from molgraph.data.duplicates import canonical
from molgraph.data.labels import check_labels
from molgraph.data.predefined import TEST, TRAIN
from molgraph.runtime.encryption import active_key
from molgraph.runtime.files import atomic_path
from molgraph.runtime.progress import MANY_MOLECULES, Progress, step

log = logging.getLogger(__name__)
MAX_LOGGED_ERRORS = 20


@dataclass
class MoleculeDataset:
    """A molecule table and the graphs of its valid rows.

    Attributes:
        table: every row of the file, valid or not.
        graphs: graphs of the valid rows, in file order.
        valid: ``[len(table)]`` bool, which rows have a graph.
        errors: position in ``table`` → why that row has no graph.
        parts: ``[len(table)]`` int8, the split the user gave (``molgraph.data.predefined``:
            train, val, test or unused per row), or ``None`` for a split made by the run.
        test_start: position in ``table`` where the rows of a separate test file begin.
        weights: ``[len(table)]`` per-molecule loss weights (``--weight-column``), or
            ``None``: all alike.
    """

    table: MoleculeTable
    graphs: MolGraphs
    valid: np.ndarray
    errors: dict[int, str]
    parts: np.ndarray | None = None
    test_start: int | None = None
    weights: np.ndarray | None = None
    _features: dict = field(default_factory=dict, repr=False)

    def molecule_features(self, kinds: Sequence[str]) -> np.ndarray:
        """``[len(graphs), D]`` molecule-level features of the valid rows, computed once per
        ``kinds`` (a sweep's trials share them)."""
        key = tuple(kinds)
        if key not in self._features:
            self._features[key] = molecule_features(self.smiles, kinds)
        return self._features[key]

    @property
    def y(self) -> np.ndarray:
        """Labels of the valid rows, ``[len(graphs), n_targets]``, NaN = missing."""
        return self.table.targets[self.valid]

    @cached_property
    def smiles(self) -> list[str]:
        """SMILES of the valid rows (built once: callers index it per molecule)."""
        return valid_smiles(self.table.smiles, self.valid)

    @cached_property
    def canonical_smiles(self) -> list[str]:
        """RDKit canonical SMILES of the valid rows, to find duplicates (computed once, so a
        sweep's trials do not parse every molecule again)."""
        with step(f"canonical SMILES of {len(self.smiles):,} molecules, to find duplicates",
                  log, announce=len(self.smiles) > MANY_MOLECULES, report_above=5.0):
            return canonical(self.smiles)

    @property
    def rows(self) -> np.ndarray:
        """1-based file row numbers of the valid rows."""
        return self.table.rows[self.valid]

    @property
    def positions(self) -> np.ndarray:
        """0-based positions of the valid rows among their file's data rows (a separate test
        file counts from 0 again)."""
        positions = np.flatnonzero(self.valid)
        if self.test_start is not None:
            positions[positions >= self.test_start] -= self.test_start
        return positions

    def with_test_data(self, test: MoleculeDataset) -> MoleculeDataset:
        """This data set followed by the rows of ``test``, which become the test part; this
        one's rows keep their parts (training when none were given)."""
        if test.table.target_names != self.table.target_names:
            raise ValueError(f"the test data has targets {test.table.target_names}, the "
                             f"training data {self.table.target_names}")
        start = len(self.table)
        own = self.parts if self.parts is not None else np.full(start, TRAIN, dtype=np.int8)
        if (own == TEST).any():
            raise ValueError(f"the split marks {int((own == TEST).sum())} rows of the training "
                             "data as test and a test file is given too: use one of them")
        return MoleculeDataset(
            MoleculeTable.concat([self.table, test.table]),
            MolGraphs.concat([self.graphs, test.graphs]),
            np.concatenate([self.valid, test.valid]),
            {**self.errors, **{start + i: msg for i, msg in test.errors.items()}},
            np.concatenate([own, np.full(len(test.table), TEST, dtype=np.int8)]), start,
            None if self.weights is None  # test rows are never trained on
            else np.concatenate([self.weights, np.ones(len(test.table))]))

    @property
    def molecule_weights(self) -> np.ndarray | None:
        """Loss weights of the valid rows ``[len(graphs)]``, or ``None``."""
        return None if self.weights is None else self.weights[self.valid]


def default_cache_dir() -> Path:
    return Path(os.environ.get("MOLGRAPH_CACHE", Path.home() / ".cache" / "molgraph"))


def _cache_key(smiles: Sequence[str]) -> str:
    digest = hashlib.sha256(f"featurizer-v{FEATURIZER_VERSION}-{PARSE_VERSION}\n".encode())
    for smi in smiles:
        digest.update(smi.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:32]


def _featurize_shown(smiles: Sequence[str], workers: int | None = None) -> FeaturizedChunk:
    """``featurize_smiles`` as a step a person sees: a log line, and for more than
    ``MANY_MOLECULES`` a bar over the molecules (log lines without a terminal) and the time."""
    many = len(smiles) > MANY_MOLECULES
    with step(f"featurizing {len(smiles):,} molecules", log, report_above=5.0), \
            Progress(len(smiles), "featurizing") if many else nullcontext() as progress:
        return featurize_smiles(smiles, workers, progress=progress)


def featurize_cached(smiles: Sequence[str], cache_dir: Path | None,
                     workers: int | None = None) -> FeaturizedChunk:
    """``featurize_smiles`` shown as a step (a log line; a bar for many molecules) with an
    on-disk cache (``cache_dir=None`` disables it; so does an encryption key: the cached graphs
    are the molecules, in plaintext)."""
    if cache_dir is None or active_key() is not None:
        return _featurize_shown(smiles, workers)
    path = Path(cache_dir) / f"graphs-{_cache_key(smiles)}.npz"
    if path.exists():
        graphs, extra = MolGraphs.load(path)
        log.info("graphs of %s molecules read from cache %s", f"{len(smiles):,}", path)
        errors = dict(zip(extra["error_pos"].tolist(), extra["error_msg"].tolist()))
        return FeaturizedChunk(graphs, extra["valid"], errors)
    chunk = _featurize_shown(smiles, workers)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        chunk.graphs.save(tmp, valid=chunk.valid,
                          error_pos=np.asarray(list(chunk.errors), dtype=np.int64),
                          error_msg=np.asarray(list(chunk.errors.values()), dtype=str))
    return chunk


def report_invalid(table: MoleculeTable, errors: dict[int, str], source: str | Path) -> None:
    """Log each invalid row (the first ``MAX_LOGGED_ERRORS``) with its row number, and a count."""
    for position in sorted(errors)[:MAX_LOGGED_ERRORS]:
        log.warning("%s: row %d skipped: %s", source, table.rows[position], errors[position])
    if errors:
        log.warning("%s: %d of %d rows skipped (invalid molecules)", source, len(errors),
                    len(table))


def load_dataset(
    data: str | Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] = (),
    cache_dir: Path | None | bool = True,
    workers: int | None = None,
    delimiter: str | None = None,
    task: str | None = None,
) -> MoleculeDataset:
    """Read a labelled molecule file (or a ``moleculeace:NAME`` data set) and featurize it.

    Args:
        data: path (CSV/TSV/SMI/SDF, optionally gzipped) or a data-set name (see ``sources``).
        smiles_column: SMILES column (found automatically for common names).
        target_columns: label columns or SD properties.
        cache_dir: featurized-graph cache; ``True`` = default location, ``None``/``False`` = off.
        workers: featurization processes (default: all CPUs, for large files).
        delimiter: CSV/TSV field delimiter (default: found from the file's first lines).
        task: ``"classification"`` or ``"regression"``: labels that task cannot learn are
            refused before featurizing (``molgraph.data.labels``); infinite labels always.
    """
    path = resolve_data_path(data)
    table = read_molecules(path, smiles_column, target_columns, delimiter=delimiter)
    if table.targets is not None:
        check_labels(table.targets, table.rows, table.target_names, task, str(path))
    if cache_dir is True:
        cache_dir = default_cache_dir()
    chunk = featurize_cached(table.smiles, cache_dir or None, workers)
    # An SDF record RDKit rejected has "" as SMILES, so it is already invalid in ``chunk``;
    # its reading error is the more useful message.
    errors = {**chunk.errors, **table.errors}
    report_invalid(table, errors, path)
    return MoleculeDataset(table, chunk.graphs, chunk.valid, errors)
