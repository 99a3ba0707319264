"""Tables of SMILES with values (a lookup oracle's table, an ``--init`` file of molecules already
labelled) and how pool molecules are found in them.

A pool molecule matches a table row when its SMILES is the row's string exactly, else when both
have the same RDKit canonical SMILES (a pool written by another toolkit, or an older RDKit:
88 of the Enamine 10k pool's SMILES are not in today's canonical form). The table is
canonicalised once, the first time an exact match fails; the pool's own strings are never
changed, only compared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.parse import file_kind, find_smiles_column, table_delimiter
from molgraph.data.duplicates import canonical

log = logging.getLogger(__name__)

SCORE_COLUMN = "score"


def read_values(path: str | Path, smiles_column: str | None = None,
                score_column: str | None = None) -> tuple[list[str], np.ndarray, str]:
    """The SMILES (stripped) and float64 values ``[n]`` (NaN for an empty cell) of a CSV/TSV
    table, and the value column's name: ``score_column``, else ``score``, else the only column
    of numbers. A value that is no number is an error naming its line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file of SMILES and values")
    if file_kind(path) not in ("csv", "tsv"):
        raise ValueError(f"{path}: a table of SMILES and values must be a CSV or TSV file")
    frame = pd.read_csv(path, sep=table_delimiter(path), dtype=str, keep_default_na=False)
    smiles_name = find_smiles_column(list(frame.columns), smiles_column, path)
    name = _score_column(frame, smiles_name, score_column, path)
    text = frame[name].str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) & (text != "").to_numpy()
                         & ~text.str.lower().isin(["nan", "na"]).to_numpy())
    if len(bad):
        raise ValueError(f"{path}, line {bad[0] + 2}: {name} {text.iloc[bad[0]]!r} is not a "
                         f"number ({len(bad)} such lines); write a number, or leave it empty")
    return frame[smiles_name].str.strip().tolist(), values, name


def _score_column(frame: pd.DataFrame, smiles_name: str, wanted: str | None, path: Path) -> str:
    columns = [c for c in frame.columns if c != smiles_name]
    if wanted is not None:
        if wanted not in columns:
            raise ValueError(f"{path}: no score column {wanted!r}; columns are {columns}")
        return wanted
    if SCORE_COLUMN in columns:
        return SCORE_COLUMN
    numeric = [c for c in columns
               if pd.to_numeric(frame[c].str.strip().replace("", "nan"), errors="coerce")
               .notna().any()]
    if len(numeric) != 1:
        raise ValueError(f"{path}: which column holds the scores? columns are {columns}; name "
                         "it with --score-column")
    return numeric[0]


@dataclass
class SmilesIndex:
    """Rows of a table by SMILES, exact and canonical.

    Attributes:
        smiles: the table's SMILES ``[n]``.
        exact: SMILES → first table row with it.
        canonical_rows: canonical SMILES → first table row (built when first needed).
    """

    smiles: Sequence[str]
    exact: dict[str, int] = field(default_factory=dict)
    canonical_rows: dict[str, int] | None = None

    def __post_init__(self) -> None:
        for i, smi in enumerate(self.smiles):
            self.exact.setdefault(smi, i)

    def find(self, queries: Sequence[str]) -> np.ndarray:
        """``[len(queries)]`` int64 table row of each query SMILES, ``-1`` where none."""
        out = np.fromiter((self.exact.get(q, -1) for q in queries), dtype=np.int64,
                          count=len(queries))
        missing = np.flatnonzero(out < 0)
        if len(missing) and len(self.smiles):
            if self.canonical_rows is None:
                self.canonical_rows = {}
                for i, smi in enumerate(canonical(self.smiles)):
                    self.canonical_rows.setdefault(smi, i)
            found = canonical([queries[i] for i in missing])
            out[missing] = [self.canonical_rows.get(smi, -1) for smi in found]
        return out
