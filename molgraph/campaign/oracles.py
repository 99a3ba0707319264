"""Oracles: what gives an acquired molecule its value (a docking score, an assay result).

An oracle answers a batch (``row``, ``smiles`` columns) with one :class:`Answer` per molecule,
in groups as they come, so the campaign writes each group before the next is paid for. A value
of ``None`` is a failed evaluation and nothing else (MolPAL's convention): the molecule stays
acquired, unlabelled, and is never acquired again. Values are in the oracle's own units; the
campaign flips their sign when it minimises.

- ``lookup:FILE`` (:class:`LookupOracle`): a table of SMILES and scores, for retrospective
  campaigns; it also knows the true top-k, so the share found can be reported.
- ``command:"CMD"`` (``campaign.command``): an external program, in parallel with a timeout.
- a Python callable (:class:`CallableOracle`), from the API.
- none: the lab (``campaign.lab``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from molgraph.campaign.labels import SmilesIndex, read_values


class Answer(NamedTuple):
    """An oracle's answer for one pool row: its value, or ``None`` and why (``note``)."""

    row: int
    value: float | None
    note: str = ""


class Oracle(Protocol):
    """``evaluate(batch, workdir)`` yields lists of answers as they come; ``describe()`` says
    what it is in ``campaign.json`` and logs."""

    def evaluate(self, batch: pd.DataFrame, workdir: Path) -> Iterator[list[Answer]]: ...

    def describe(self) -> str: ...


def as_value(value: Any) -> float | None:
    """An oracle's value as a float, or ``None`` for a failure (``None``, NaN, not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class Truth:
    """The best ``k`` of a lookup table, for the share of the true top-k found.

    Attributes:
        values: ``[k]`` their values, signed to maximise, best first.
        keys: their SMILES in the table (the table's own strings).
    """

    values: np.ndarray
    keys: list[str]


class LookupOracle:
    """Values looked up in a table of SMILES and scores (``read_values``): a pool SMILES
    found exactly or by canonical SMILES (``labels.SmilesIndex``) gets its row's value; one the
    table lacks, or whose cell is empty, is acquired without a value, as a failed docking is."""

    def __init__(self, path: str | Path, smiles_column: str | None = None,
                 score_column: str | None = None) -> None:
        self.path = Path(path)
        smiles, self.values, self.column = read_values(self.path, smiles_column, score_column)
        self.index = SmilesIndex(smiles)

    def describe(self) -> str:
        return f"lookup:{self.path} (column {self.column})"

    def keys(self, smiles: Sequence[str]) -> list[str | None]:
        """The table's SMILES for each pool SMILES, ``None`` where it has none."""
        found = self.index.find(list(smiles))
        return [self.index.smiles[i] if i >= 0 else None for i in found]

    def evaluate(self, batch: pd.DataFrame, workdir: Path) -> Iterator[list[Answer]]:
        found = self.index.find(batch["smiles"].tolist())
        answers = []
        for row, i in zip(batch["row"].tolist(), found.tolist()):
            if i < 0:
                answers.append(Answer(row, None, "not in the lookup table"))
            else:
                value = as_value(self.values[i])
                answers.append(Answer(row, value, "" if value is not None
                                      else "no value in the lookup table"))
        yield answers

    def truth(self, k: int, sign: float) -> Truth:
        """The table's best ``k`` (``sign`` -1: the lowest), ties in table order."""
        signed = sign * self.values
        scored = np.flatnonzero(~np.isnan(signed))
        order = scored[np.argsort(-signed[scored], kind="stable")][:k]
        return Truth(signed[order], [self.index.smiles[i] for i in order])


class CallableOracle:
    """A Python function of a list of SMILES returning one value per SMILES (a sequence, or a
    dict by SMILES); ``None`` or NaN is a failure. Called on ``chunk`` molecules at a time (all
    of the batch by default), each call's answers written before the next: a kill loses at
    most one call. An exception stops the campaign; answers so far are kept."""

    def __init__(self, function: Callable[[list[str]], Any], chunk: int | None = None) -> None:
        self.function, self.chunk = function, chunk

    def describe(self) -> str:
        return f"python:{getattr(self.function, '__qualname__', repr(self.function))}"

    def evaluate(self, batch: pd.DataFrame, workdir: Path) -> Iterator[list[Answer]]:
        rows, smiles = batch["row"].tolist(), batch["smiles"].tolist()
        step = self.chunk or max(1, len(rows))
        for start in range(0, len(rows), step):
            part = smiles[start:start + step]
            given = self.function(list(part))
            if isinstance(given, dict):
                given = [given.get(s) for s in part]
            given = list(given)
            if len(given) != len(part):
                raise ValueError(f"the oracle {self.describe()} gave {len(given)} values for "
                                 f"{len(part)} SMILES; it must give one per SMILES (None for "
                                 "a failure)")
            values = [as_value(v) for v in given]
            yield [Answer(r, v, "" if v is not None else "the oracle gave no value")
                   for r, v in zip(rows[start:start + step], values)]

