"""Small text-file helpers shared by the gene readers.

Every reader reports a bad line as ``ValueError("<file>, line <n>: <why>")``, so a user with a
10-million-line STRING file can jump straight to the problem; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

PathLike = str | os.PathLike


def open_text(path: PathLike) -> io.TextIOBase:
    """Open a plain or gzip-compressed text file (detected by its magic bytes, not its name)."""
    path = Path(path)
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def iter_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` (1-based, newline stripped), blank lines included."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip("\r\n")


def malformed(path: PathLike, line: int | None, why: str) -> ValueError:
    """The error every reader raises for bad input: names the file and, when known, the line."""
    where = f"{Path(path)}, line {line}" if line is not None else f"{Path(path)}"
    return ValueError(f"{where}: {why}")


def split_fields(line: str, delimiter: str | None) -> list[str]:
    """Split a line on ``delimiter`` (``None`` = any whitespace), stripping each field."""
    if delimiter is None:
        return line.split()
    return [field.strip() for field in line.split(delimiter)]


def parse_float(text: str, path: PathLike, line: int, what: str) -> float:
    """``float(text)``, or the named error; NaN and infinity are rejected too."""
    try:
        value = float(text)
    except ValueError:
        raise malformed(path, line, f"{what} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise malformed(path, line, f"{what} {text!r} is not a finite number")
    return value


def read_table(path: PathLike, sep: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV/TSV with a header as strings, plus the file line number of every row.

    The separator is a tab when the header holds one (or ``sep`` says so), else a comma. Every
    row must have the header's number of fields. Blank lines are left out but still counted, so
    line numbers in errors match the file.
    """
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=sep or "\t")
        header = next(reader, None)
        if header is None:
            raise malformed(path, 1, "empty file, expected a header row")
        if sep is None and len(header) == 1 and "," in header[0]:
            handle.seek(0)
            reader = csv.reader(handle, delimiter=",")
            header = next(reader)
        rows, lines = [], []
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                raise malformed(path, reader.line_num, f"expected {len(header)} fields "
                                f"(as in the header), found {len(row)}")
            rows.append(row)
            lines.append(reader.line_num)
    columns = [c.lstrip("#").strip() for c in header]
    if len(set(columns)) != len(columns):
        raise malformed(path, 1, f"repeated column name in the header {columns}")
    return pd.DataFrame(rows, columns=columns, dtype=str), np.asarray(lines, dtype=np.int64)


def numeric_column(values: pd.Series, lines: np.ndarray, path: PathLike, what: str) -> np.ndarray:
    """Strings → floats (empty → NaN); a non-number raises naming its line."""
    out = pd.to_numeric(values.replace("", np.nan), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(out) & (values != "").to_numpy() & ~values.str.lower().isin(["nan", "na"])
    if bad.any():
        first = int(np.argmax(bad))
        raise malformed(path, int(lines[first]), f"{what} {values.iloc[first]!r} is not a number")
    return out
