"""Per-molecule loss weights from a column of the data (``--weight-column``).

A top team of the OpenADMET–ExpansionRx challenge (2026) weighted each compound's loss; a
weight can carry a confidence in the measurement, or down-weight a series that dominates the
set. Weights change only the training loss, never a metric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.parse import read_table_column


def read_weight_column(path: str | Path, column: str, n_rows: int,
                       delimiter: str | None = None) -> np.ndarray:
    """``[n_rows]`` float weights from the column ``column`` of the CSV/TSV ``path``."""
    values = read_table_column(path, column, n_rows, "--weight-column", "weight", delimiter)
    return weights_from_values(values, column, str(path))


def weights_from_values(values: pd.Series, column: str, where: str) -> np.ndarray:
    """``[len(values)]`` float64 weights; an empty, non-numeric, negative or infinite cell is
    an error naming ``where``, the row (1-based data row) and the value."""
    numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(numbers) & (numbers >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where}: row {first + 1}: weight column {column!r} holds "
                         f"{values.iloc[first]!r} ({int(bad.sum())} such rows); every row "
                         "needs a weight ≥ 0 (0 leaves the molecule out of the loss)")
    return numbers


def training_weights(weights: np.ndarray, train: np.ndarray, column: str) -> np.ndarray:
    """The training molecules' weights ``[len(train)]``; refused when they are all 0."""
    chosen = weights[train]
    if not chosen.sum() > 0:
        raise ValueError(f"weight column {column!r}: every training molecule's weight is 0")
    return chosen
