"""Splits the user brings: a split column (MoleculeACE, TDC and Polaris ship one), a
Chemprop-style split file of index lists, or a separate test file.

Each gives a part per row of the data table: ``TRAIN``, ``VAL``, ``TEST`` or ``UNUSED`` (a row
the split file does not list). Indices in a split file are 0-based positions among the file's
data rows (the header excluded), as in Chemprop's ``--splits-file``; ``split.json`` written
beside every run uses the same convention, so a run can be repeated or re-scored elsewhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from molgraph.chem.parse import read_table_column

log = logging.getLogger(__name__)
TRAIN, VAL, TEST, UNUSED = 0, 1, 2, -1
PART_KEYS = ("train", "val", "test")
#: what a part may be called, in a split column's cells and as a split file's keys alike (any
#: case, spaces around ignored): the two must never disagree on which rows a part holds
PART_NAMES = {"train": TRAIN, "training": TRAIN, "val": VAL, "valid": VAL,
              "validation": VAL, "test": TEST, "testing": TEST}
#: keys ``split.json`` records beside the parts; a split file may hold them, they are not read
RECORD_KEYS = ("files", "rows")


def part_of(name: str) -> int | None:
    """The part ``name`` stands for (``TRAIN``, ``VAL``, ``TEST``), or ``None``."""
    return PART_NAMES.get(name.strip().lower())


def read_split_column(path: str | Path, column: str, n_rows: int) -> np.ndarray:
    """``[n_rows]`` int8 parts from the column ``column`` of the CSV/TSV ``path``.

    A value other than train/val/test (or an empty cell) is an error naming the file, the row
    and the value: a silently dropped row would change the split."""
    path = Path(path)
    values = read_table_column(path, column, n_rows, "--split-column", "split",
                               advice="give the split as --split-file JSON instead")
    return parts_from_values(values, column, str(path))


def parts_from_values(values, column: str, where: str) -> np.ndarray:
    """``[len(values)]`` int8 parts from a split column's strings (a ``pandas.Series``); a
    value other than train/val/test is an error naming ``where``, the row and the value."""
    parts = values.map(part_of)
    bad = parts.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where}: row {first + 1}: split column {column!r} holds "
                         f"{values.iloc[first]!r} ({int(bad.sum())} such rows); every row needs "
                         "train, val or test")
    return parts.to_numpy(dtype=np.int8)


def _indices(value: object, key: str, path: Path) -> list[int]:
    """A list of ints, or Chemprop's string form ``"0-99,120,130-140"`` (ranges inclusive)."""
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                       for v in value):
        return value
    if isinstance(value, str):
        out: list[int] = []
        for piece in filter(None, (p.strip() for p in value.split(","))):
            low, _, high = piece.partition("-")
            try:
                first, last = int(low), int(high or low)
            except ValueError:
                raise ValueError(f"{path}: {key!r}: {piece!r} is not an index or a range "
                                 "like 10-20") from None
            if first > last:
                raise ValueError(f"{path}: {key!r}: the range {piece!r} runs backwards and "
                                 f"would hold no row; write it as {last}-{first}")
            out += range(first, last + 1)
        return out
    raise ValueError(f"{path}: {key!r} must be a list of row indices or a string of ranges")


def _keys_by_part(split: object, path: Path) -> dict[int, tuple[str, object]]:
    """``{part: (key, indices)}`` of a split file's object. A key that names no part, or a
    second key for one part, is refused: its rows would be dropped silently and validation
    redrawn from the training rows."""
    shape = ('a split file is {"train": [...], "val": [...], "test": [...]} '
             "(val may be left out)")
    if not isinstance(split, dict):
        raise ValueError(f"{path}: {shape}")
    found: dict[int, tuple[str, object]] = {}
    for key, value in split.items():
        if key in RECORD_KEYS:
            continue
        part = part_of(key)
        if part is None:
            raise ValueError(f"{path}: {key!r} is not a part of a split; the keys are "
                             f"{', '.join(PART_NAMES)} (any case), and {' and '.join(RECORD_KEYS)}"
                             " as split.json writes them")
        if part in found:
            raise ValueError(f"{path}: {found[part][0]!r} and {key!r} name the same part; "
                             "keep one of them")
        found[part] = (key, value)
    if TRAIN not in found or TEST not in found:
        raise ValueError(f"{path}: {shape}")
    return found


def read_split_file(path: str | Path, n_rows: int) -> np.ndarray:
    """``[n_rows]`` int8 parts from a split file: ``{"train": [...], "val": [...],
    "test": [...]}``, or a list holding one such object (Chemprop's ``--splits-file``).

    Rows it does not list are ``UNUSED``; an index out of range or listed in two parts is an
    error naming it."""
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable split file ({err})") from err
    if isinstance(split, list):
        if len(split) != 1:
            raise ValueError(f"{path}: holds {len(split)} splits; molgraph trains on one per "
                             "run: write each split to its own file")
        split = split[0]
    parts = np.full(n_rows, UNUSED, dtype=np.int8)
    for part, (key, value) in sorted(_keys_by_part(split, path).items()):
        index = np.asarray(_indices(value, key, path), dtype=np.int64)
        outside = index[(index < 0) | (index >= n_rows)]
        if len(outside):
            raise ValueError(f"{path}: {key!r} lists row index {int(outside[0])}, outside the "
                             f"data's {n_rows} rows (indices are 0-based data rows)")
        twice = index[parts[index] != UNUSED]
        if len(twice) or len(np.unique(index)) < len(index):
            where = int(twice[0]) if len(twice) else int(index[np.diff(np.sort(index)) == 0][0])
            raise ValueError(f"{path}: row index {where} is listed twice")
        parts[index] = part
    if (parts == UNUSED).any():
        log.info("%s: %d of %d rows are in no part of the split and are left out", path,
                 int((parts == UNUSED).sum()), n_rows)
    return parts


def assign_parts(parts: np.ndarray, draw_val: Callable[[np.ndarray], np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test positions from ``parts`` (one per molecule, ``UNUSED`` left
    out). With no validation rows, ``draw_val(train_positions)`` picks them from the
    training rows (the run's split method and seed)."""
    train, val, test = (np.flatnonzero(parts == p) for p in (TRAIN, VAL, TEST))
    if len(val) == 0 and len(train):
        drawn = np.asarray(draw_val(train), dtype=np.int64)
        val, train = np.sort(train[drawn]), np.delete(train, drawn)
    return train, val, test


def split_record(parts: Sequence[np.ndarray], positions: np.ndarray, rows: np.ndarray,
                 sources: dict[str, str | None]) -> dict:
    """``split.json``: per part the 0-based data-row indices (``--split-file`` reads them
    back) and the 1-based row numbers the other outputs show. ``positions`` maps a molecule
    to its position in its file's table, ``rows`` to its row number."""
    record: dict = {"files": sources}
    for key, index in zip(PART_KEYS, parts):
        record[key] = positions[index].tolist()
    record["rows"] = {key: rows[index].tolist() for key, index in zip(PART_KEYS, parts)}
    return record
