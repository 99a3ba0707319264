"""Molecules held in memory (a DataFrame, or SMILES with labels) as a :class:`MoleculeTable`,
the same rows a file reader yields, so a notebook trains and predicts without writing files.

Every row is kept, as for files: an invalid SMILES is found later by the featurizer and reported
with its row number (1-based, the frame's position), never dropped or shifted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from molgraph.chem.parse import (
    ID_COLUMN_NAMES,
    _numeric_targets,
    check_target_names,
    find_column,
    find_smiles_column,
)
from molgraph.chem.table import MoleculeTable

#: How an in-memory table is named in messages.
FRAME = "the DataFrame"


def frame_of(smiles: Sequence[str] | pd.Series | np.ndarray, y: Any = None,
             target_columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame with a ``smiles`` column and one column per target from SMILES and labels.

    ``y``: ``[n]`` or ``[n, T]`` array-like, a Series (its name names the target) or a
    DataFrame (its columns do); otherwise the targets are named ``target_columns``, or ``y``
    (one) and ``y0``, ``y1``, ... (several)."""
    smiles = list(smiles.tolist() if hasattr(smiles, "tolist") else smiles)
    frame = pd.DataFrame({"smiles": [str(s) if s is not None else "" for s in smiles]})
    if y is None:
        return frame
    if isinstance(y, pd.DataFrame):
        labels, names = y.to_numpy(), [str(c) for c in y.columns]
    else:
        labels = np.asarray(y)
        names = [str(y.name)] if isinstance(y, pd.Series) and y.name is not None else None
    labels = labels.reshape(len(labels), -1) if labels.ndim < 2 else labels
    if len(labels) != len(frame):
        raise ValueError(f"{len(frame)} SMILES but {len(labels)} labels: give one label (row) "
                         "per SMILES")
    if target_columns:
        names = [str(c) for c in target_columns]
    if names is None or len(names) != labels.shape[1]:
        names = ["y"] if labels.shape[1] == 1 else [f"y{j}" for j in range(labels.shape[1])]
    for j, name in enumerate(names):
        frame[name] = labels[:, j]
    return frame


def table_from_frame(frame: pd.DataFrame, smiles_column: str | None = None,
                     target_columns: Sequence[str] = (), id_column: str | None = None,
                     where: str = FRAME) -> MoleculeTable:
    """The rows of ``frame`` as a :class:`MoleculeTable` (row numbers 1, 2, ... in frame
    order); labels as float32 with NaN where missing; a non-number label is an error naming
    the row, as for files."""
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1).reset_index(drop=True)
    smiles_col = find_smiles_column(columns, smiles_column, where, "smiles_column")
    targets = [str(t) for t in target_columns]
    check_target_names(targets, where)
    for name in targets:
        find_column(columns, name, (), "target", where)
    id_col = find_column(columns, id_column, ID_COLUMN_NAMES, "id", where)
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    smiles = ["" if pd.isna(s) else str(s).strip() for s in frame[smiles_col].tolist()]
    return MoleculeTable(
        smiles=smiles, rows=rows,
        targets=_numeric_targets(frame, targets, rows, where) if targets else None,
        target_names=targets,
        ids=frame[id_col].astype(str).tolist() if id_col else None)
