"""``MoleculeTable``: the rows of a molecule file (SMILES, row numbers, labels, ids, read
errors), the unit every reader yields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MoleculeTable:
    """Molecules read from one file, in file order.

    Attributes:
        smiles: SMILES per row ("" where the file had none or an SDF record failed).
        rows: 1-based row number of each molecule in the file (data rows, header excluded;
            for SDF, the record number).
        targets: ``[n, n_targets]`` float32 labels, NaN where missing; ``None`` if none asked.
        target_names: column (or SD property) name of each target.
        ids: molecule ids when the file has an id column (or SDF names), else ``None``.
        errors: reading errors by position in this table (e.g. an SDF record RDKit rejects).
    """

    smiles: list[str]
    rows: np.ndarray
    targets: np.ndarray | None = None
    target_names: list[str] = field(default_factory=list)
    ids: list[str] | None = None
    errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.smiles)

    @staticmethod
    def concat(tables: Sequence[MoleculeTable]) -> MoleculeTable:
        """Join chunks read from one file back into one table."""
        if not tables:
            return MoleculeTable(smiles=[], rows=np.zeros(0, dtype=np.int64))
        offsets = np.cumsum([0] + [len(t) for t in tables])
        errors = {int(o) + i: msg for t, o in zip(tables, offsets) for i, msg in t.errors.items()}
        has_targets = tables[0].targets is not None
        return MoleculeTable(
            smiles=[s for t in tables for s in t.smiles],
            rows=np.concatenate([t.rows for t in tables]),
            targets=np.concatenate([t.targets for t in tables]) if has_targets else None,
            target_names=tables[0].target_names,
            ids=[i for t in tables for i in t.ids] if all(t.ids is not None for t in tables)
            else None,
            errors=errors,
        )
