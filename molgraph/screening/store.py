"""A featurized compound library on disk, to screen again with other models without RDKit.

Layout of a store directory::

    STORE/store.json                  format, featurizer spec and version, libraries, shards
    STORE/shard-LLL-CCCCCC.npz        chunk C of library L: graphs of its valid rows (MolGraphs)
                                      plus rows, valid, SMILES, ids, reasons (and descriptors)

Shards are plain ``.npz`` (no pickle): strings are stored as UTF-8 bytes with offsets. A store
made by another featurizer version is refused, since its graphs would mean something else.

``store.json`` (format version 2) lists under each library its ``shards``: file name, first and
last row number, row count, invalid rows and the SHA-256 of the file. A shard is checked against
its record whenever it is loaded, so a shard copied over another, truncated or edited is refused
instead of screened. Version-1 stores (no records) are still read, with a warning.

With an encryption key (``molgraph.runtime.encryption``), shards and ``store.json`` are written
encrypted; the checksums are of the files as they lie on disk, so they are checked the same way.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from zipfile import BadZipFile

import numpy as np

from molgraph import __version__
from molgraph.chem.graphs import MolGraphs
from molgraph.chem.vocabulary import FEATURIZER_VERSION, featurizer_spec
from molgraph.runtime.encryption import decrypt, read_bytes, sealed

log = logging.getLogger(__name__)

STORE_FILE = "store.json"
STORE_FORMAT = "molgraph-featurized-library"
STORE_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, STORE_FORMAT_VERSION)
_RECORD_KEYS = ("file", "first_row", "last_row", "rows", "invalid", "sha256")
_DESCRIPTOR_PREFIX = "desc_"
_AGAIN = "featurize the library again with `molgraph featurize`"
_warned_unverifiable: set[str] = set()


def pack_strings(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one ``uint8`` UTF-8 buffer and ``[n + 1]`` int64 byte offsets."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def unpack_strings(buffer: np.ndarray, offsets: np.ndarray) -> list[str]:
    """Inverse of :func:`pack_strings`."""
    data = buffer.tobytes()
    bounds = offsets.tolist()
    return [data[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a featurized-library store directory."""
    return (Path(path) / STORE_FILE).is_file()


def shard_name(library: int, chunk: int) -> str:
    return f"shard-{library:03d}-{chunk:06d}.npz"


def save_shard(path: Path, rows: np.ndarray, smiles: Sequence[str], ids: Sequence[str] | None,
               graphs: MolGraphs, valid: np.ndarray, reasons: dict[int, str],
               descriptors: dict[str, np.ndarray] | None = None) -> str:
    """Write one shard and return the SHA-256 (hex) of the file: ``graphs`` of the ``valid``
    rows; ``reasons`` maps positions in the chunk to why they have no graph; ``descriptors``
    has one value per valid row."""
    smiles_buf, smiles_off = pack_strings(smiles)
    extra = {"rows": np.asarray(rows, dtype=np.int64), "valid": np.asarray(valid, dtype=bool),
             "smiles_buf": smiles_buf, "smiles_off": smiles_off,
             "error_pos": np.asarray(sorted(reasons), dtype=np.int64)}
    extra["error_buf"], extra["error_off"] = pack_strings([reasons[i] for i in sorted(reasons)])
    if ids is not None:
        extra["ids_buf"], extra["ids_off"] = pack_strings(ids)
    for name, values in (descriptors or {}).items():
        if values.dtype == object:
            extra[f"{_DESCRIPTOR_PREFIX}{name}_buf"], extra[f"{_DESCRIPTOR_PREFIX}{name}_off"] = \
                pack_strings(values.tolist())
        else:
            extra[f"{_DESCRIPTOR_PREFIX}{name}"] = values
    with sealed(path) as target:
        graphs.save(target, **extra)  # type: ignore[arg-type]  # np.savez writes file objects
    with open(path, "rb") as handle:  # just written: read back from the page cache
        return hashlib.file_digest(handle, "sha256").hexdigest()


def shard_record(name: str, rows: np.ndarray, valid: np.ndarray, sha256: str) -> dict:
    """A shard's entry in ``store.json``: file, row range and count, invalid rows, checksum."""
    rows = np.asarray(rows)
    first, last = (int(rows[0]), int(rows[-1])) if len(rows) else (None, None)
    return {"file": name, "first_row": first, "last_row": last, "rows": len(rows),
            "invalid": int((~np.asarray(valid, dtype=bool)).sum()), "sha256": sha256}


def read_shard(path: str | Path) -> tuple[dict, dict]:
    """Read a shard file once, unchecked: its content (see :func:`load_shard`) and its record
    (see :func:`shard_record`). A damaged file is a ``ValueError`` that names it."""
    path = Path(path)
    raw = path.read_bytes()
    content = decrypt(raw, path)
    try:
        data = _parse(io.BytesIO(content))
    except (BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError) as err:
        raise ValueError(f"{path.parent}: shard file {path.name} is damaged (truncated or "
                         f"unreadable: {type(err).__name__}: {err}); {_AGAIN}") from err
    record = shard_record(path.name, data["rows"], data["valid"], hashlib.sha256(raw).hexdigest())
    return data, record


def load_shard(path: str | Path) -> dict:
    """Read a shard: ``graphs``, ``rows``, ``valid``, ``smiles``, ``ids`` (or ``None``),
    ``reasons`` (position → why invalid) and ``descriptors`` (or ``None``). In a store, the
    file is checked against its record in ``store.json`` first (a ``ValueError`` if it differs)."""
    path = Path(path)
    expected = _manifest_record(path)
    data, actual = read_shard(path)
    differences = _differences(actual, expected) if expected is not None else []
    if differences:
        raise ValueError(f"{path.parent}: shard file {path.name} does not match {STORE_FILE}: "
                         f"{'; '.join(differences)}; {_AGAIN}")
    return data


def _parse(source: io.BytesIO) -> dict:
    graphs, extra = MolGraphs.load(source)  # type: ignore[arg-type]  # np.load reads file objects
    reasons = dict(zip(extra["error_pos"].tolist(),
                       unpack_strings(extra["error_buf"], extra["error_off"])))
    descriptors: dict[str, np.ndarray] = {}
    for key in sorted(extra):
        if not key.startswith(_DESCRIPTOR_PREFIX) or key.endswith("_off"):
            continue
        if key.endswith("_buf"):
            name = key[len(_DESCRIPTOR_PREFIX):-4]
            descriptors[name] = np.asarray(unpack_strings(extra[key], extra[key[:-4] + "_off"]),
                                           dtype=object)
        else:
            descriptors[key[len(_DESCRIPTOR_PREFIX):]] = extra[key]
    return {
        "graphs": graphs,
        "rows": extra["rows"],
        "valid": extra["valid"],
        "smiles": unpack_strings(extra["smiles_buf"], extra["smiles_off"]),
        "ids": unpack_strings(extra["ids_buf"], extra["ids_off"]) if "ids_buf" in extra else None,
        "reasons": reasons,
        "descriptors": descriptors or None,
    }


def _differences(actual: dict, expected: dict) -> list[str]:
    """What differs between a shard's record and the one in ``store.json``, in words."""
    found = []
    if actual["sha256"] != expected["sha256"]:
        found.append("checksum differs: the file was changed or copied over after "
                     "`molgraph featurize`")
    span = [(r["first_row"], r["last_row"], r["rows"]) for r in (actual, expected)]
    if span[0] != span[1]:
        (a, b, n), (c, d, m) = span
        found.append(f"it holds rows {a}–{b} ({n} rows), the manifest says {c}–{d} ({m} rows)")
    if actual["invalid"] != expected["invalid"]:
        found.append(f"it has {actual['invalid']} invalid rows, the manifest says "
                     f"{expected['invalid']}")
    return found


def _manifest_record(path: Path) -> dict | None:
    """The record of shard ``path`` in its store's ``store.json``; ``None`` when it has none."""
    manifest = path.parent / STORE_FILE
    try:
        stat = manifest.stat()
    except FileNotFoundError:
        return None
    records = _manifest_records(path.parent, stat.st_mtime_ns, stat.st_size)
    if records is None:
        return None
    if path.name not in records:
        raise ValueError(f"{path.parent}: shard file {path.name} is not listed in "
                         f"{STORE_FILE}; {_AGAIN}")
    return records[path.name]


@functools.lru_cache(maxsize=16)
def _manifest_records(store: Path, mtime_ns: int, size: int) -> dict[str, dict] | None:
    """Shard records by file name (cached while ``store.json`` is unchanged)."""
    info = read_manifest(store)
    if info["format_version"] < 2:
        return None
    return {r["file"]: r for library in info["libraries"] for r in library["shards"]}


def read_manifest(path: str | Path) -> dict:
    """``store.json`` of the store ``path``, checked to be a store manifest of a known format
    (a ``ValueError`` naming the file otherwise), whatever its featurizer or completeness."""
    file = Path(path) / STORE_FILE
    content = read_bytes(file)
    try:
        info = json.loads(content.decode("utf-8"))
        problem = None if isinstance(info, dict) else "not a JSON object"
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        empty = not file.stat().st_size
        info, problem = {}, "empty file" if empty else f"invalid JSON ({err})"
    if problem is None and info.get("format") != STORE_FORMAT:
        problem = f"format is {info.get('format')!r}, not {STORE_FORMAT!r}"
    if problem is None and info.get("format_version") not in _READABLE_VERSIONS:
        problem = (f"unknown store format version {info.get('format_version')!r} "
                   "(made by a newer molgraph?)")
    if problem is None and info["format_version"] >= 2:
        problem = _record_problem(info)
    if problem is not None:
        raise ValueError(f"{file}: not a molgraph store manifest: {problem}; {_AGAIN}")
    return info


def _record_problem(info: dict) -> str | None:
    """Why the per-shard records of a version-2 manifest are unusable, or ``None``."""
    for li, library in enumerate(info.get("libraries", [])):
        records = library.get("shards")
        if not isinstance(records, list) or len(records) != library.get("chunks"):
            return f"library {li} lacks its shard records"
        for ci, record in enumerate(records):
            if not isinstance(record, dict) or any(k not in record for k in _RECORD_KEYS) \
                    or record["file"] != shard_name(li, ci):
                return f"library {li} has a malformed record for chunk {ci}"
    return None


def read_store_info(path: str | Path) -> dict:
    """``store.json`` of a complete store made with this featurizer version."""
    path = Path(path)
    if not is_store(path):
        raise FileNotFoundError(f"{path}: not a featurized library store (no {STORE_FILE})")
    info = read_manifest(path)
    version = info.get("featurizer", {}).get("version")
    if version != FEATURIZER_VERSION:
        raise ValueError(
            f"{path}: store was featurized with featurizer version {version}, but this molgraph "
            f"({__version__}) uses version {FEATURIZER_VERSION}; its graphs would mean something "
            "else to the models. Featurize the library again with `molgraph featurize`.")
    if not info.get("complete"):
        raise ValueError(f"{path}: store is incomplete (its `molgraph featurize` run did not "
                         "finish); finish it with `molgraph featurize ... --resume`")
    if info["format_version"] < 2 and str(path.resolve()) not in _warned_unverifiable:
        _warned_unverifiable.add(str(path.resolve()))
        log.warning("%s: store format version %d has no shard checksums, so its shards cannot "
                    "be verified; run `molgraph featurize` again to get a verifiable store",
                    path, info["format_version"])
    return info


def store_info(libraries: Sequence[dict], chunk_size: int, druglike: str | None,
               complete: bool) -> dict:
    """The content of ``store.json``."""
    return {"format": STORE_FORMAT, "format_version": STORE_FORMAT_VERSION,
            "molgraph_version": __version__, "featurizer": featurizer_spec(),
            "chunk_size": chunk_size, "druglike": druglike, "libraries": list(libraries),
            "complete": complete}


def iter_store_shards(path: str | Path) -> Iterator[tuple[int, int, Path]]:
    """``(library index, chunk index, shard path)`` of a complete store, in library order."""
    path = Path(path)
    info = read_store_info(path)
    for li, library in enumerate(info["libraries"]):
        for ci in range(library["chunks"]):
            shard = path / shard_name(li, ci)
            if not shard.exists():
                raise FileNotFoundError(f"{path}: shard {shard.name} is missing")
            yield li, ci, shard
