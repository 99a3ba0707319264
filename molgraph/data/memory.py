"""A labelled data set from molecules held in memory: a DataFrame, or SMILES with labels.

The same checks and reports as a file (``data.dataset.load_dataset``): labels the task cannot
learn are refused before featurizing, invalid SMILES are reported with their row (the frame's
position, from 1) and left out, never shifted onto other rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from molgraph.chem.frame import FRAME, table_from_frame
from molgraph.chem.table import MoleculeTable
from molgraph.data.dataset import (
    MoleculeDataset,
    default_cache_dir,
    featurize_cached,
    report_invalid,
)
from molgraph.data.labels import check_labels
from molgraph.data.predefined import parts_from_values
from molgraph.data.weights import weights_from_values


def dataset_from_table(table: MoleculeTable, where: str, cache_dir: Path | bool | None = None,
                       task: str | None = None) -> MoleculeDataset:
    """Featurize ``table`` (cached under ``cache_dir``; ``True``: the default place)."""
    if table.targets is not None:
        check_labels(table.targets, table.rows, table.target_names, task, where)
    cache = default_cache_dir() if cache_dir is True else (cache_dir or None)
    chunk = featurize_cached(table.smiles, cache)
    errors = {**chunk.errors, **table.errors}
    report_invalid(table, errors, where)
    return MoleculeDataset(table, chunk.graphs, chunk.valid, errors)


def dataset_from_frame(frame: pd.DataFrame, smiles_column: str | None = None,
                       target_columns: Sequence[str] = (), split_column: str | None = None,
                       cache_dir: Path | bool | None = None, task: str | None = None,
                       where: str = FRAME, weight_column: str | None = None
                       ) -> MoleculeDataset:
    """The molecules of ``frame`` featurized, with the split its ``split_column`` gives (a
    column of train / val / test, as MoleculeACE's) attached as ``dataset.parts``, and the
    loss weights of its ``weight_column`` as ``dataset.weights``."""
    table = table_from_frame(frame, smiles_column, target_columns, where=where)
    dataset = dataset_from_table(table, where, cache_dir, task)
    if split_column:
        if split_column not in frame.columns:
            raise ValueError(f"{where}: no split column {split_column!r}; the columns are "
                             f"{', '.join(map(str, frame.columns))}")
        values = frame[split_column].astype(str).reset_index(drop=True)
        dataset.parts = parts_from_values(values, split_column, where)
    if weight_column:
        if weight_column not in frame.columns:
            raise ValueError(f"{where}: no weight column {weight_column!r}; the columns are "
                             f"{', '.join(map(str, frame.columns))}")
        dataset.weights = weights_from_values(frame[weight_column].reset_index(drop=True),
                                              weight_column, where)
    return dataset
