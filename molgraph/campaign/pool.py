"""The pool a campaign acquires from: one library, featurized once into a store.

A molecule file is featurized into ``DIR/pool/`` (``screening.store_build.build_store``: worker
processes, resumable) the first time; every round then scores the store with the screening
engine and never parses the library again. A store given as the library is used where it is.
A pool molecule is named by its row in the library (1-based, as ``screen`` numbers rows) and
keeps the library's own SMILES string. Everything here streams shard by shard: memory does not
grow with the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from molgraph.chem.sources import resolve_data_path
from molgraph.runtime.files import jsonable
from molgraph.screening.library import Library, Shard, iter_shards, open_libraries
from molgraph.screening.store import is_store, read_manifest, read_store_info
from molgraph.screening.store_build import build_store

log = logging.getLogger(__name__)


@dataclass
class Pool:
    """A featurized library of one file.

    Attributes:
        source: the library as given (a molecule file or a store).
        store: the store directory.
        rows: rows of the library.
        valid: rows with a molecule (the ones a campaign may acquire).
        chunk_size: rows per shard of the store.
    """

    source: str
    store: Path
    rows: int
    valid: int
    chunk_size: int

    @classmethod
    def open(cls, library: str | Path, directory: str | Path, smiles_column: str | None = None,
             workers: int | None = None, progress: bool | None = None) -> Pool:
        """The pool of ``library``: a store as it is, or a molecule file featurized into
        ``directory`` unless an earlier run of the campaign already did (a featurization
        killed half-way continues)."""
        path = resolve_data_path(library)
        if is_store(path):
            store = path
        else:
            if not path.exists():
                raise FileNotFoundError(f"{library}: no such library file or store")
            store = Path(directory)
            if not _built_from(store, path, smiles_column):
                log.info("featurizing the pool %s once into %s", library, store)
                build_store([path], store, workers=workers, smiles_column=smiles_column,
                            resume=True, progress=progress)
        info = read_store_info(store)
        if len(info["libraries"]) != 1:
            raise ValueError(f"{store}: a store of {len(info['libraries'])} libraries; a "
                             "campaign's pool is one library: featurize it alone")
        entry = info["libraries"][0]
        return cls(str(library), store, int(entry["rows"]), int(entry["rows"] - entry["invalid"]),
                   int(info["chunk_size"]))

    def library(self) -> Library:
        return open_libraries([self.store])[0]

    def shards(self) -> Iterator[Shard]:
        """The store's shards in row order: ``rows``, ``smiles``, ``valid`` (and graphs)."""
        for _, load in iter_shards(0, self.library(), self.chunk_size):
            yield load()

    def describe(self) -> dict:
        """What identifies the pool in ``campaign.json``: a resumed campaign must find it so."""
        return {"source": self.source, "store": str(self.store.resolve()), "rows": self.rows,
                "valid": self.valid}


def _built_from(store: Path, library: Path, smiles_column: str | None) -> bool:
    """Whether ``store`` is a complete store of ``library`` as it is now (same size and time):
    featurized already. A store of another file, or of this one since changed, is not."""
    if not is_store(store):
        return False
    info = read_manifest(store)
    signature = info.get("signature", {})
    source = open_libraries([library])[0].fingerprint()
    return bool(info.get("complete")) and signature.get("libraries") == [jsonable(source)] \
        and signature.get("smiles_column") == smiles_column
