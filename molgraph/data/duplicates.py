"""Molecules that occur more than once in a labelled data set, and what to do with them.

The same molecule written twice (or in two notations) with different labels is common in
activity data (repeated assays, salts stripped upstream). Training on both copies weights it
twice and, with a random split, can put one copy in training and the other in test. molgraph
reports every such case and lets the user choose, as data-cleaning tools do:

- ``keep``: train on every row as given (the default; duplicates are reported).
- ``mean``: one row per molecule with the mean of its labels (classification: the majority
  label, missing on a tie).
- ``drop``: leave out molecules whose copies disagree; agreeing copies become one row.

Molecules are compared by RDKit canonical SMILES.
"""

from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)
POLICIES = ("keep", "mean", "drop")


@dataclass
class DuplicateReport:
    """Counts for ``metrics.json``: molecules seen more than once, their rows, how many of
    them have conflicting labels, a few examples, and the rows the policy removed."""

    policy: str
    molecules: int = 0
    rows: int = 0
    conflicting: int = 0
    removed_rows: int = 0
    examples: list[str] = field(default_factory=list)


def canonical(smiles: Sequence[str]) -> list[str]:
    """RDKit canonical SMILES (the input where RDKit cannot parse it)."""
    from rdkit import Chem

    from molgraph.chem.featurize import quiet_rdkit

    out = []
    with quiet_rdkit():
        for smi in smiles:
            mol = Chem.MolFromSmiles(smi)
            out.append(Chem.MolToSmiles(mol) if mol is not None else smi)
    return out


def _conflicts(y: np.ndarray) -> bool:
    """Whether the labelled values of any task differ between the rows ``y`` ``[k, T]``."""
    with warnings.catch_warnings():  # a task no row labels is all-NaN: no conflict
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(y, axis=0) - np.nanmin(y, axis=0)
    return bool((np.nan_to_num(spread) > 1e-6).any())


def _merge(y: np.ndarray, task: str) -> np.ndarray:
    """One label row from the rows ``y`` ``[k, T]`` (NaN where no row has a label)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(y, axis=0)
    if task == "classification":
        mean = np.where(mean > 0.5, 1.0, np.where(mean < 0.5, 0.0, np.nan))
    return mean.astype(np.float32)


#: What was already reported in this process (source, policy, molecules, rows).
_REPORTED: set[tuple[str, str, int, int]] = set()


def resolve_duplicates(smiles: Sequence[str], y: np.ndarray, rows: np.ndarray, task: str,
                       policy: str = "keep", source: str = "",
                       keys: Sequence[str] | None = None, parts: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, DuplicateReport]:
    """Apply ``policy`` to the valid molecules ``smiles`` with labels ``y`` ``[n, T]``;
    ``keys`` are their canonical SMILES when already known (default: computed here).
    ``parts`` ``[n]``: the part of each molecule in a split the user gave; copies are then
    merged within a part only, so the given test rows stay test rows (merged into the first
    copy, a training one, they left the test set silently).

    Returns:
        ``index`` of the molecules to train on (into ``smiles``, ascending), their labels
        ``[len(index), T]``, and the report (also logged as a warning when there are
        duplicates).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown duplicates policy {policy!r}; choose from "
                         f"{', '.join(POLICIES)}")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(canonical(smiles) if keys is None else keys):
        groups[key].append(i)
    repeated = [g for g in groups.values() if len(g) > 1]
    report = DuplicateReport(policy, len(repeated), sum(len(g) for g in repeated))
    keep = np.ones(len(smiles), dtype=bool)
    across = 0  # molecules merged in each part of a given split rather than into one row
    labels = np.array(y, dtype=np.float32, copy=True)
    for group in repeated:
        conflict = _conflicts(y[group])
        if conflict:
            report.conflicting += 1
            if len(report.examples) < 3:
                values = "; ".join(f"row {rows[i]}: {[float(f'{v:.4g}') for v in y[i]]}"
                                   for i in group[:3])
                report.examples.append(f"{smiles[group[0]]} ({values})")
        if policy == "keep":
            continue
        if conflict and policy == "drop":
            keep[group] = False
            continue
        split = [group] if parts is None else [[i for i in group if parts[i] == part]
                                               for part in dict.fromkeys(parts[group])]
        across += len(split) > 1
        for copies in split:
            keep[copies[1:]] = False
            labels[copies[0]] = _merge(y[copies], task)
    report.removed_rows = int((~keep).sum())
    said = (source, policy, report.molecules, report.rows)
    if repeated and said not in _REPORTED:  # once per process: a sweep resolves every trial
        _REPORTED.add(said)
        log.warning("%s: %d molecules occur more than once (%d rows), %d of them with "
                    "conflicting labels%s; duplicates=%s%s", source, report.molecules,
                    report.rows, report.conflicting,
                    f", e.g. {' | '.join(report.examples)}" if report.examples else "", policy,
                    " trains on every row (--duplicates mean or drop to merge them)"
                    if policy == "keep" else f" removed {report.removed_rows} rows"
                    + (f" ({across} molecules in several parts of the given split are merged "
                       "within each part, so its test rows stay test rows)" if across else ""))
    index = np.flatnonzero(keep)
    return index, labels[index], report
