"""Compound libraries as a stream of shards: fixed chunks of a molecule file or of a store.

A shard is the unit of work everywhere in screening: featurized by one worker process, scored as
one piece, written as one checkpoint part, sent as one Dask task. Shards of a file are the chunks
``iter_molecule_chunks`` reads, so the same chunk size always gives the same shards, and a
resumed run knows which ones are done. This module imports no torch (workers use it).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molgraph.chem.graphs import MolGraphs
from molgraph.chem.parse import file_kind, iter_molecule_chunks
from molgraph.chem.sources import resolve_data_path
from molgraph.screening.store import iter_store_shards, load_shard, read_store_info

log = logging.getLogger(__name__)

#: Rows per shard by default: the unit of work, checkpoint and Dask task.
SHARD_ROWS = 10_000


@dataclass
class Shard:
    """One chunk of one library.

    Attributes:
        library: index of the library among all screened.
        index: chunk number within that library (0-based).
        rows: ``[n]`` 1-based row numbers in the library file.
        smiles: SMILES per row.
        ids: molecule id per row (``""`` where none).
        reasons: position → why that row has no graph (read errors, then featurizer errors).
        graphs: graphs of the valid rows once featurized (or read from a store).
        valid: ``[n]`` bool, which rows have a graph, once featurized.
        descriptors: drug-likeness columns of the valid rows (see ``molgraph.chem.druglike``).
    """

    library: int
    index: int
    rows: np.ndarray
    smiles: list[str]
    ids: list[str]
    reasons: dict[int, str] = field(default_factory=dict)
    graphs: MolGraphs | None = None
    valid: np.ndarray | None = None
    descriptors: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.smiles)

    @property
    def key(self) -> tuple[int, int]:
        return self.library, self.index


@dataclass
class Library:
    """One screened library: a molecule file, or one of the files a store was made from.

    Attributes:
        name: how it is named in outputs (the file name).
        path: the molecule file, or the store directory.
        rows: number of rows when known (stores), else ``None``.
        store_index: which library of the store (``None`` for a molecule file).
        delimiter: a CSV/TSV file's field delimiter (``None``: found from its first lines).
    """

    name: str
    path: Path
    rows: int | None = None
    store_index: int | None = None
    delimiter: str | None = None

    def fingerprint(self) -> dict:
        """What identifies this input for a resumed run: path, size and modification time."""
        target = self.path / "store.json" if self.store_index is not None else self.path
        stat = target.stat()
        return {"path": str(self.path.resolve()), "store_index": self.store_index,
                "size": stat.st_size, "mtime": int(stat.st_mtime)}


def open_libraries(paths: Sequence[str | Path], delimiter: str | None = None) -> list[Library]:
    """Libraries from molecule files, store directories and named sets (``moses:test``; see
    ``molgraph.chem.sources``), in the given order; ``delimiter`` is the CSV/TSV files'."""
    libraries = []
    for given in paths:
        path = resolve_data_path(given)
        if path.is_dir():
            info = read_store_info(path)
            libraries += [Library(Path(lib["name"]).name, path, lib["rows"], i)
                          for i, lib in enumerate(info["libraries"])]
        elif not path.exists():
            raise FileNotFoundError(f"{path}: no such library file or store")
        else:
            file_kind(path)  # refuse an unknown file type before any work starts
            named = path != Path(given)  # e.g. moses:test
            libraries.append(Library(str(given) if named else path.name, path,
                                     delimiter=delimiter))
    if len({lib.name for lib in libraries}) < len(libraries):
        names = [lib.name for lib in libraries]
        log.warning("several libraries share a file name (%s); the `library` column tells them "
                    "apart only by order", names)
    return libraries


def count_rows(library: Library) -> int | None:
    """Rows of a library for the progress ETA: exact for stores, approximate (lines) for files.

    Counting lines of a gzipped file costs ~1 s per million rows, little beside screening them.
    """
    if library.rows is not None:
        return library.rows
    path = library.path
    kind = file_kind(path)
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    marker = b"$$$$" if kind == "sdf" else b"\n"
    count, last = 0, b"\n"
    try:
        with opener(path, "rb") as handle:
            while block := handle.read(1 << 20):
                count += block.count(marker)
                last = block[-1:]
    except (OSError, EOFError, zlib.error):  # damaged: reading it says so, with the file name
        return None
    if kind == "sdf":
        return count
    return count + (last != b"\n") - (kind in ("csv", "tsv"))  # header line


ShardLoader = Callable[[], Shard]


def iter_shards(library_index: int, library: Library, chunk_size: int,
                smiles_column: str | None = None, id_column: str | None = None,
                ) -> Iterator[tuple[int, ShardLoader]]:
    """``(chunk index, loader)`` per shard of a library. The loader returns the :class:`Shard`;
    for a store it reads the shard file only when called, so done shards cost nothing."""
    if library.store_index is not None:
        for li, ci, path in iter_store_shards(library.path):
            if li == library.store_index:
                yield ci, _store_loader(library_index, ci, path)
        return
    for ci, table in enumerate(iter_molecule_chunks(library.path, smiles_column, None,
                                                    id_column, chunk_size,
                                                    delimiter=library.delimiter)):
        ids = table.ids if table.ids is not None else [""] * len(table)
        shard = Shard(library_index, ci, table.rows, table.smiles, ids, dict(table.errors))
        yield ci, (lambda s=shard: s)


def _store_loader(library_index: int, chunk: int, path: Path) -> ShardLoader:
    def load() -> Shard:
        data = load_shard(path)
        ids = data["ids"] if data["ids"] is not None else [""] * len(data["smiles"])
        return Shard(library_index, chunk, data["rows"], data["smiles"], ids, data["reasons"],
                     data["graphs"], data["valid"], data["descriptors"])
    return load

