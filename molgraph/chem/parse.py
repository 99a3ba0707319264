"""Read molecules with labels from CSV/TSV, ``.smi`` and SDF files, plain or gzipped.

Every input row is kept: a row is never dropped or shifted here, so labels always stay with their
molecule. Whether a SMILES parses is decided later by the featurizer, which reports the row number.
Files are read in chunks so that libraries of millions of molecules stream in bounded memory.
A CSV/TSV file's delimiter (comma, semicolon as in ChEMBL exports, tab or ``|``) is the one its
first lines agree on, unless the caller gives it.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.sdf import iter_sdf
from molgraph.chem.table import MoleculeTable

log = logging.getLogger(__name__)

SMILES_COLUMN_NAMES = ("smiles", "SMILES", "Smiles", "mol", "canonical_smiles")
ID_COLUMN_NAMES = ("id", "ID", "name", "Name", "mol_id", "compound_id", "zinc_id", "Compound ID",
                   "Molecule ChEMBL ID", "Molecule Name")
READ_CHUNK_ROWS = 100_000
#: Delimiters a CSV/TSV file may use, and how a message names them.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: Characters of a file's start read to find its delimiter.
SNIFF_CHARS = 65_536


def file_kind(path: str | Path) -> str:
    """``"csv"``, ``"tsv"``, ``"smi"`` or ``"sdf"`` from the name, ignoring a ``.gz`` suffix."""
    name = str(path).lower()
    name = name[:-3] if name.endswith(".gz") else name
    for suffix, kind in ((".csv", "csv"), (".tsv", "tsv"), (".tab", "tsv"), (".txt", "tsv"),
                         (".smi", "smi"), (".smiles", "smi"), (".sdf", "sdf"), (".sd", "sdf")):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"{path}: unknown molecule file type (expected .csv, .tsv, .smi or .sdf, "
                     "optionally .gz)")


def find_column(columns: Sequence[str], wanted: str | None, candidates: Sequence[str],
                what: str, path: str | Path) -> str | None:
    """The column named ``wanted``, else the first of ``candidates`` present."""
    if wanted is not None:
        if wanted not in columns:
            raise ValueError(f"{path}: no {what} column {wanted!r}; columns are {list(columns)}")
        return wanted
    lowered = {c.lower(): c for c in columns}
    for name in candidates:
        if name in columns:
            return name
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def find_smiles_column(columns: Sequence[str], wanted: str | None, where: str | Path,
                       flag: str = "--smiles-column") -> str:
    """The SMILES column: ``wanted``, else the first of :data:`SMILES_COLUMN_NAMES` present.
    A table with several of them (``smiles`` and ``SMILES``) gets a warning naming the one
    read: they may hold different molecules. ``flag`` is how the caller chooses another."""
    found = find_column(columns, wanted, SMILES_COLUMN_NAMES, "SMILES", where)
    if found is None:
        raise ValueError(f"{where}: no SMILES column found among {list(columns)}; name it with "
                         f"{flag}")
    names = {n.lower() for n in SMILES_COLUMN_NAMES}
    others = [c for c in columns if c != found and c.lower() in names]
    if wanted is None and others:
        log.warning("%s: SMILES read from column %r; it also has %s: give %s to read another",
                    where, found, ", ".join(map(repr, others)), flag)
    return found


def check_target_names(names: Sequence[str], where: str = "") -> None:
    """Refuse a target named twice: the model would get one output per name, while its
    predictions, named by target, keep only one of them."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{where}{': ' if where else ''}target {name!r} is named twice "
                             f"(target columns {' '.join(map(str, names))}); give each target "
                             "once")
        seen.add(name)


def iter_molecule_chunks(
    path: str | Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] | None = None,
    id_column: str | None = None,
    chunk_size: int = READ_CHUNK_ROWS,
    delimiter: str | None = None,
) -> Iterator[MoleculeTable]:
    """Stream a molecule file as :class:`MoleculeTable` chunks of at most ``chunk_size`` rows.

    Args:
        path: ``.csv``/``.tsv``/``.smi``/``.sdf``, each optionally gzipped.
        smiles_column: CSV/TSV column with SMILES; found automatically when it is ``smiles``,
            ``SMILES`` or ``mol``.
        target_columns: label columns (CSV/TSV) or SD properties (SDF); empty cells are NaN.
        id_column: column with molecule ids; found automatically for common names.
        chunk_size: rows per chunk.
        delimiter: CSV/TSV field delimiter (one character, or ``tab``); default: the one the
            file's first lines agree on (see :func:`table_delimiter`). Other kinds ignore it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a molecule file")
    kind = file_kind(path)
    targets = list(target_columns or [])
    check_target_names(targets, str(path))
    if kind == "sdf":
        chunks = iter_sdf(path, targets, id_column, chunk_size)
    elif kind == "smi":
        chunks = _iter_smi(path, targets, chunk_size)
    else:
        chunks = _iter_table(path, kind, delimiter, smiles_column, targets, id_column,
                             chunk_size)
    rows = 0
    try:
        _check_text(path, kind)
        for chunk in chunks:
            rows += len(chunk)
            yield chunk
    except _READ_ERRORS as err:
        where = f" after row {rows}" if rows else ""
        raise ValueError(f"{path}: {_read_error(err, kind)}{where}") from err


def _check_text(path: Path, kind: str) -> None:
    """Refuse a binary file given a molecule-file name (its first 8 KB hold a NUL byte)."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        if b"\0" in handle.read(8192):
            raise ValueError(f"{path}: is a binary file, not a {kind.upper()} text file; give "
                             "a molecule file (plain or gzipped text)")


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
#: What a damaged, binary or empty file raises while it is read.
_READ_ERRORS = (EOFError, OSError, zlib.error, UnicodeDecodeError, pd.errors.EmptyDataError,
                pd.errors.ParserError)


def _read_error(err: Exception, kind: str) -> str:
    """What went wrong reading a molecule file, and what to do, in words."""
    if isinstance(err, pd.errors.EmptyDataError):
        return "the file is empty (no header line); give a file with a header and molecules"
    if isinstance(err, UnicodeDecodeError):
        return ("not a UTF-8 text file (a binary file, or another encoding?); give a "
                f"{kind.upper()} text file, plain or gzipped")
    if isinstance(err, EOFError | zlib.error) or "gzip" in str(err).lower() \
            or "compressed" in str(err).lower():
        return f"the compressed file is damaged or cut short ({err}); copy or download it again"
    if isinstance(err, pd.errors.ParserError):
        return f"cannot be read as {kind.upper()}: {err}"
    return f"cannot be read: {err}"


def read_molecules(
    path: str | Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] | None = None,
    id_column: str | None = None,
    delimiter: str | None = None,
) -> MoleculeTable:
    """Read a whole molecule file into one :class:`MoleculeTable` (see ``iter_molecule_chunks``)."""
    return MoleculeTable.concat(list(iter_molecule_chunks(
        path, smiles_column, target_columns, id_column, delimiter=delimiter)))


def _numeric_targets(frame: pd.DataFrame, names: list[str], rows: np.ndarray,
                     path: Path) -> np.ndarray:
    """Labels as float32; empty cells become NaN, any other non-number is a clear error."""
    out = np.empty((len(frame), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        raw = frame[name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            comma = " (a decimal comma? write it with a point)" if _DECIMAL_COMMA.match(
                str(raw.iloc[i]).strip()) else ""
            raise ValueError(f"{path}: row {rows[i]}: target {name!r} is not a number: "
                             f"{raw.iloc[i]!r}{comma} ({int(bad.sum())} such rows)")
        out[:, j] = values.to_numpy(dtype=np.float32, na_value=np.nan)
    return out


def parse_delimiter(given: str) -> str:
    """A delimiter as a user writes it: one character, or ``tab`` / ``\\t`` for a tab."""
    value = "\t" if given.strip().lower() in ("tab", "\\t") else given
    if len(value) != 1 or value in "\"\n\r":
        raise ValueError(f"a delimiter is one character such as ',' ';' '|' or tab, not "
                         f"{given!r}")
    return value


def table_delimiter(path: str | Path, kind: str | None = None, given: str | None = None) -> str:
    """The field delimiter of a CSV/TSV file: ``given``, else the one of :data:`DELIMITERS`
    that splits the header into several fields and every other line of the file's start into
    as many (quotes respected), preferring the one the file name implies."""
    if given is not None:
        return parse_delimiter(given)
    default = "\t" if (kind or file_kind(path)) == "tsv" else ","
    with _open_text(Path(path)) as handle:
        text = handle.read(SNIFF_CHARS)
    lines = text.splitlines(keepends=True)
    if len(text) == SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line read may be cut short
    widths = {d: [len(r) for r in csv.reader(lines, delimiter=d) if r] for d in DELIMITERS}
    agreed = [d for d, w in widths.items() if w and w[0] > 1 and len(set(w)) == 1]
    if agreed:
        return default if default in agreed else max(agreed, key=lambda d: widths[d][0])
    return default


def _check_header(header: list[str], delimiter: str, path: Path) -> None:
    """Refuse a header read as one column that holds another delimiter: the wrong one is used."""
    if len(header) != 1:
        return
    other = next((d for d in DELIMITERS if d != delimiter and d in header[0]), None)
    if other is not None:
        flag = "tab" if other == "\t" else other
        raise ValueError(f"{path}: its header {header[0]!r} reads as one column with "
                         f"{DELIMITERS[delimiter]}s as the delimiter; the file looks "
                         f"{DELIMITERS[other]}-separated: give --delimiter '{flag}'")


def _iter_table(path: Path, kind: str, delimiter: str | None, smiles_column: str | None,
                targets: list[str], id_column: str | None,
                chunk_size: int) -> Iterator[MoleculeTable]:
    sep = table_delimiter(path, kind, delimiter)
    header = pd.read_csv(path, sep=sep, nrows=0).columns.tolist()
    _check_header(header, sep, path)
    smiles_col = find_smiles_column(header, smiles_column, path)
    id_col = find_column(header, id_column, ID_COLUMN_NAMES, "id", path)
    for name in targets:
        find_column(header, name, (), "target", path)
    usecols = list(dict.fromkeys([smiles_col, *targets, *([id_col] if id_col else [])]))
    start = 1
    reader = pd.read_csv(path, sep=sep, usecols=usecols, dtype={smiles_col: str},
                         keep_default_na=False, na_values={t: [""] for t in targets},
                         chunksize=chunk_size)
    for frame in reader:
        rows = np.arange(start, start + len(frame), dtype=np.int64)
        start += len(frame)
        yield MoleculeTable(
            smiles=[s.strip() for s in frame[smiles_col].tolist()],
            rows=rows,
            targets=_numeric_targets(frame, targets, rows, path) if targets else None,
            target_names=targets,
            ids=frame[id_col].astype(str).tolist() if id_col else None,
        )


def _open_text(path: Path) -> io.TextIOBase:
    if str(path).lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _iter_smi(path: Path, targets: list[str], chunk_size: int) -> Iterator[MoleculeTable]:
    """``.smi``: SMILES then an optional name per line; a ``smiles`` header line is skipped."""
    if targets:
        raise ValueError(f"{path}: .smi files carry no labels; use a CSV or SDF for training")
    smiles: list[str] = []
    ids: list[str] = []
    rows: list[int] = []
    row = 0
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.split(maxsplit=1)
            if line_no == 1 and parts and parts[0].lower() == "smiles":
                continue
            if line[:1] in (" ", "\t") and parts:  # empty SMILES, then a name: keep the name as id
                parts = ["", line.strip()]
            row += 1
            smiles.append(parts[0] if parts else "")
            ids.append(parts[1].strip() if len(parts) > 1 else "")
            rows.append(row)
            if len(smiles) == chunk_size:
                yield MoleculeTable(smiles, np.asarray(rows, dtype=np.int64), ids=ids)
                smiles, ids, rows = [], [], []
    if smiles:
        yield MoleculeTable(smiles, np.asarray(rows, dtype=np.int64), ids=ids)


def table_header(path: str | Path, flag: str, delimiter: str | None = None, advice: str = ""
                 ) -> tuple[list[str], str]:
    """The column names of the CSV/TSV ``path`` and its delimiter (``delimiter``, else found:
    see :func:`table_delimiter`); another kind of file is an error naming ``flag``, the option
    that needs a table, and ``advice``."""
    kind = file_kind(path)
    if kind not in ("csv", "tsv"):
        raise ValueError(f"{path}: {flag} needs a CSV or TSV file, not {kind}"
                         + (f"; {advice}" if advice else ""))
    sep = table_delimiter(path, kind, delimiter)
    return [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns], sep


def read_table_column(path: str | Path, column: str, n_rows: int, flag: str, what: str,
                      delimiter: str | None = None, advice: str = "") -> pd.Series:
    """The cells of ``column`` of the CSV/TSV ``path`` as strings (empty cells ``""``), one
    per data row; a missing column, or a count other than ``n_rows``, is an error naming the
    file (``what`` names the column's role: "split", "weight")."""
    header, sep = table_header(path, flag, delimiter, advice)
    if column not in header:
        raise ValueError(f"{path}: no {what} column {column!r}; the columns are "
                         f"{', '.join(header)}")
    values = pd.read_csv(path, sep=sep, usecols=[column], dtype=str,
                         keep_default_na=False)[column]
    if len(values) != n_rows:
        raise ValueError(f"{path}: {len(values)} values in column {column!r} for {n_rows} rows")
    return values
