"""A featurized compound library on disk, to screen again with other models without RDKit.

Layout of a store directory::

    STORE/store.json                  format, featurizer spec and version, libraries, shards
    STORE/shard-LLL-CCCCCC.npz        chunk C of library L: graphs of its valid rows (MolGraphs)
                                      plus rows, valid, SMILES, ids, reasons (and descriptors)

Shards are plain ``.npz`` (no pickle): strings are stored as UTF-8 bytes with offsets. A store
made by another featurizer version is refused, since its graphs would mean something else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from molgraph import __version__
from molgraph.chem.graphs import MolGraphs
from molgraph.chem.vocabulary import FEATURIZER_VERSION, featurizer_spec

STORE_FILE = "store.json"
STORE_FORMAT = "molgraph-featurized-library"
STORE_FORMAT_VERSION = 1
_DESCRIPTOR_PREFIX = "desc_"


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
               descriptors: dict[str, np.ndarray] | None = None) -> None:
    """Write one shard: ``graphs`` of the ``valid`` rows; ``reasons`` maps positions in the
    chunk to why they have no graph; ``descriptors`` has one value per valid row."""
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
    graphs.save(path, **extra)


def load_shard(path: Path) -> dict:
    """Read a shard: ``graphs``, ``rows``, ``valid``, ``smiles``, ``ids`` (or ``None``),
    ``reasons`` (position → why invalid) and ``descriptors`` (or ``None``)."""
    graphs, extra = MolGraphs.load(path)
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


def read_store_info(path: str | Path) -> dict:
    """``store.json`` of a complete store made with this featurizer version."""
    path = Path(path)
    if not is_store(path):
        raise FileNotFoundError(f"{path}: not a featurized library store (no {STORE_FILE})")
    info = json.loads((path / STORE_FILE).read_text())
    if info.get("format") != STORE_FORMAT or info.get("format_version") != STORE_FORMAT_VERSION:
        raise ValueError(f"{path}: unknown store format {info.get('format')!r} "
                         f"version {info.get('format_version')!r}")
    version = info.get("featurizer", {}).get("version")
    if version != FEATURIZER_VERSION:
        raise ValueError(
            f"{path}: store was featurized with featurizer version {version}, but this molgraph "
            f"({__version__}) uses version {FEATURIZER_VERSION}; its graphs would mean something "
            "else to the models. Featurize the library again with `molgraph featurize`.")
    if not info.get("complete"):
        raise ValueError(f"{path}: store is incomplete (its `molgraph featurize` run did not "
                         "finish); finish it with `molgraph featurize ... --resume`")
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
