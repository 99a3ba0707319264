"""The lab as the oracle: a round writes the molecules to measure and the campaign stops until a
person has filled in their values.

``DIR/rounds/NNN/to_measure.csv`` has the columns ``row``, ``smiles`` and an empty ``value``.
Write each measured value in its ``value`` cell (a number; ``failed`` for a molecule that could
not be measured), then run the campaign again with ``resume``. The file is only ever read: a
badly edited one is refused with its line named (a changed row or SMILES, a value that is no
number, a line lost or repeated), to be fixed and read again, so nothing typed is lost; while
some cells are still empty the campaign keeps waiting and says how many.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from molgraph.campaign.oracles import Answer
from molgraph.runtime.files import write_csv

log = logging.getLogger(__name__)

TO_MEASURE = "to_measure.csv"
COLUMNS = ("row", "smiles", "value")
FAILED = ("failed", "fail", "na", "n/a", "nan")


class WaitingForLab(Exception):
    """The round's molecules are not all measured yet (``path``: the file to fill in)."""

    def __init__(self, path: Path, missing: int, total: int) -> None:
        self.path, self.missing, self.total = path, missing, total
        super().__init__(f"{missing} of {total} molecules to measure: write their values in "
                         f"the value column of {path} (failed for one that could not be "
                         "measured), then run the campaign again with --resume")


class LabOracle:
    """Values typed into ``to_measure.csv`` by a person."""

    def describe(self) -> str:
        return "the lab (to_measure.csv)"

    def evaluate(self, batch: pd.DataFrame, workdir: Path) -> Iterator[list[Answer]]:
        path = Path(workdir) / TO_MEASURE
        if not path.exists():
            write_csv(batch[["row", "smiles"]].assign(value=""), path)
            raise WaitingForLab(path, len(batch), len(batch))
        values = read_measured(path, batch)
        missing = sum(v is None for v in values.values())
        if missing:
            raise WaitingForLab(path, missing, len(batch))
        yield [Answer(row, value if not math.isnan(value) else None,
                      "" if not math.isnan(value) else "failed in the lab")
               for row, value in values.items()]


def read_measured(path: Path, batch: pd.DataFrame) -> dict[int, float | None]:
    """The values of ``path`` by pool row (NaN: failed; ``None``: not measured yet), checked
    against ``batch`` (``row``, ``smiles``): one ``ValueError`` naming the file, the line and
    what to do at the first problem."""
    expected = dict(zip(batch["row"].astype(int).tolist(), batch["smiles"].tolist()))
    values: dict[int, float | None] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        lines = csv.reader(handle)
        header = [h.strip() for h in next(lines, [])]
        if header[:3] != list(COLUMNS):
            raise ValueError(f"{path}, line 1: the header must be {','.join(COLUMNS)}, not "
                             f"{','.join(header)!r}; restore it")
        for fields in lines:
            number = lines.line_num
            if not any(f.strip() for f in fields):
                continue
            row, smiles, value = _fields(fields, len(header), path, number)
            if row not in expected:
                raise ValueError(f"{path}, line {number}: row {row} is not a molecule of this "
                                 "batch; restore the row number (the batch is in batch.csv)")
            if smiles != expected[row]:
                raise ValueError(f"{path}, line {number}: row {row}'s SMILES was changed to "
                                 f"{smiles!r}; restore {expected[row]!r}")
            if row in values:
                raise ValueError(f"{path}, line {number}: row {row} appears twice; keep one "
                                 "line per molecule")
            values[row] = _value(value, path, number)
    lost = [r for r in expected if r not in values]
    if lost:
        raise ValueError(f"{path}: {len(lost)} molecules of the batch are missing (row "
                         f"{lost[0]}, {expected[lost[0]]}); restore their lines from batch.csv")
    return values


def _fields(fields: list[str], width: int, path: Path, number: int) -> tuple[int, str, str]:
    """``row``, ``smiles`` and ``value`` of a line; columns the header adds after them (a
    lab's notes) are left alone."""
    if len(fields) < 3 or any(f.strip() for f in fields[width:]):
        raise ValueError(f"{path}, line {number}: expected {width} fields as the header has, "
                         f"found {len(fields)}; a decimal comma must be written as a point")
    try:
        row = int(fields[0])
    except ValueError:
        raise ValueError(f"{path}, line {number}: row {fields[0]!r} is not a row number; "
                         "restore it (the batch is in batch.csv)") from None
    return row, fields[1].strip(), fields[2].strip()


def _value(text: str, path: Path, number: int) -> float | None:
    """A measured value (NaN: failed), or ``None`` for an empty cell."""
    if not text:
        return None
    if text.lower() in FAILED:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, line {number}: value {text!r} is not a number; write a "
                         "number, 'failed', or leave it empty until it is measured") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {number}: value {text!r} is not a finite number")
    return value
