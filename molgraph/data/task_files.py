"""Multi-task training across several files (``--data a.csv --more-data b.csv c.csv``).

Assays often come as one file each: solubility in one, permeability in another, each with
its own molecules. The run's tasks are the ``--target-columns`` found in any of the files; a
molecule present in several files (or rows) becomes one row holding every label it has, the
others missing (multi-task with missing labels, as MELLODDY trains). Molecules are matched by
RDKit canonical SMILES; a row whose SMILES RDKit cannot read is reported with its file and row
and left out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.featurize import quiet_rdkit
from molgraph.chem.parse import read_molecules, table_header
from molgraph.chem.sources import resolve_data_path

log = logging.getLogger(__name__)


def join_task_files(paths: Sequence[str | Path], target_columns: Sequence[str], task: str,
                    smiles_column: str | None = None, delimiter: str | None = None
                    ) -> pd.DataFrame:
    """One frame, ``smiles`` and ``target_columns``, with a row per distinct molecule of the
    files ``paths``; its labels are the mean of its rows' per task (classification: the
    majority label, missing on a tie). Every target must be in at least one file."""
    from rdkit import Chem

    found: dict[str, list[str]] = {}
    for path in paths:
        resolved = resolve_data_path(path)
        columns, _ = table_header(resolved, "--more-data", delimiter)
        found[str(path)] = [t for t in target_columns if t in columns]
        if not found[str(path)]:
            raise ValueError(f"{path}: none of the target columns {list(target_columns)}; its "
                             f"columns are {', '.join(columns)}")
    missing = [t for t in target_columns if not any(t in f for f in found.values())]
    if missing:
        raise ValueError(f"target column(s) {missing} are in none of the files {list(found)}")
    labels: dict[str, list[list[float]]] = {}  # canonical SMILES -> per task, its values
    first: dict[str, str] = {}
    index = {t: j for j, t in enumerate(target_columns)}
    skipped = 0
    for path, present in found.items():
        table = read_molecules(resolve_data_path(path), smiles_column, present,
                               delimiter=delimiter)
        with quiet_rdkit():
            for k, smiles in enumerate(table.smiles):
                mol = Chem.MolFromSmiles(smiles) if smiles else None
                if mol is None:
                    skipped += 1
                    if skipped <= 20:
                        log.warning("%s: row %d: SMILES %r cannot be read by RDKit; left out",
                                    path, table.rows[k], smiles)
                    continue
                key = Chem.MolToSmiles(mol)
                first.setdefault(key, smiles)
                values = labels.setdefault(key, [[] for _ in target_columns])
                for j, name in enumerate(present):
                    value = float(table.targets[k, j])
                    if not np.isnan(value):
                        values[index[name]].append(value)
    frame = pd.DataFrame({"smiles": [first[k] for k in labels]})
    for t, name in enumerate(target_columns):
        frame[name] = [_combined(values[t], task) for values in labels.values()]
    log.info("%d files joined: %d molecules, %d tasks (%s)%s", len(found), len(frame),
             len(target_columns), ", ".join(f"{Path(p).name}: {', '.join(c)}"
                                            for p, c in found.items()),
             f"; {skipped} unreadable rows left out" if skipped else "")
    return frame


def _combined(values: list[float], task: str) -> float:
    """One label from a molecule's values of one task (NaN when it has none)."""
    if not values:
        return float("nan")
    if task != "classification":
        return float(np.mean(values))
    share = float(np.mean(values))
    return float("nan") if share == 0.5 else float(share > 0.5)
