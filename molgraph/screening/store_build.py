"""``molgraph featurize``: featurize libraries once into a store (see ``molgraph.screening.store``).

Shards are featurized in worker processes and written as they come (atomically), so a killed
run continues with ``resume`` and memory stays flat. ``druglike`` also stores the drug-likeness
descriptors and PAINS alerts, so screens with filters need no RDKit work either. With an
encryption key active (``molgraph.encryption_key``, ``--key-file`` or ``MOLGRAPH_KEY``) every
file of the store is written encrypted (``molgraph.runtime.encryption``).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from molgraph.runtime.encryption import EncryptionKeyError, active_key, write_json
from molgraph.runtime.files import TEMPORARY_PREFIX, atomic_path, jsonable
from molgraph.runtime.progress import Progress
from molgraph.runtime.system import cpu_count
from molgraph.screening.library import SHARD_ROWS, Shard, count_rows, open_libraries
from molgraph.screening.prepare import prepared_shards, shard_refs
from molgraph.screening.store import (
    STORE_FILE,
    read_manifest,
    read_shard,
    save_shard,
    shard_name,
    shard_record,
    store_info,
)

log = logging.getLogger(__name__)


def build_store(
    libraries: Sequence[str | Path],
    out: str | Path,
    chunk_size: int = SHARD_ROWS,
    workers: int | None = None,
    smiles_column: str | None = None,
    id_column: str | None = None,
    druglike: bool = False,
    resume: bool = False,
    progress: bool | None = None,
    delimiter: str | None = None,
) -> dict:
    """Featurize molecule files into the store directory ``out``; return its ``store.json``.

    Args:
        libraries: molecule files (``.smi``, CSV/TSV, SDF; plain or gzipped).
        out: store directory (created; an earlier store there is replaced unless ``resume``).
        chunk_size: rows per shard.
        workers: featurization processes (default: one per CPU; 0 = in this process).
        smiles_column: CSV/TSV SMILES column (found automatically for common names).
        id_column: CSV/TSV id column (found automatically for common names).
        druglike: store Lipinski/Veber descriptors and PAINS alerts too.
        resume: continue an interrupted run with the same inputs.
        progress: a progress bar (``True``), log lines (``False``), or auto (``None``).
        delimiter: CSV/TSV field delimiter (default: found from each file's first lines).
    """
    out = Path(out)
    libs = open_libraries(libraries, delimiter)
    if any(lib.store_index is not None for lib in libs):
        raise ValueError("molgraph featurize reads molecule files, not stores")
    signature = {"libraries": [lib.fingerprint() for lib in libs], "chunk_size": chunk_size,
                 "smiles_column": smiles_column, "id_column": id_column, "druglike": druglike}
    if active_key() is not None:  # so that a resume with and one without a key do not mix
        signature["encrypted"] = True
    _prepare_directory(out, signature, resume)
    mode = "full" if druglike else None
    records: dict[tuple[int, int], dict] = {}  # (library, chunk) → its record in store.json
    totals = [count_rows(lib) for lib in libs]
    bar = Progress(None if None in totals else sum(totals), "featurizing", progress)

    def done(key: tuple[int, int]) -> int | None:
        record = _done_record(out / shard_name(*key))
        if record is None:
            return None
        records[key] = record
        return record["rows"]

    refs = shard_refs(libs, chunk_size, smiles_column, id_column)
    workers = cpu_count() if workers is None else workers
    try:
        for shard in prepared_shards(refs, workers, mode, done, lambda key, n: bar.skip(n)):
            records[shard.key] = _save(out, shard)
            bar.update(len(shard))
    finally:
        bar.close()
    entries = [_library_entry(lib.name, lib.fingerprint(),
                              [r for key, r in sorted(records.items()) if key[0] == i])
               for i, lib in enumerate(libs)]
    info = store_info(entries, chunk_size, mode, complete=True) | {"signature": signature}
    write_json(out / STORE_FILE, info, indent=1)
    log.info("featurized %d rows (%d invalid) into %s", sum(e["rows"] for e in entries),
             sum(e["invalid"] for e in entries), out)
    return info


def _prepare_directory(out: Path, signature: dict, resume: bool) -> None:
    info_path = out / STORE_FILE
    if out.exists() and not resume:
        if info_path.exists():
            shutil.rmtree(out)
        elif any(out.iterdir()):
            raise ValueError(f"{out} exists and is not a molgraph store; choose another path")
    if resume and info_path.exists():
        earlier = read_manifest(out).get("signature")
        if earlier != jsonable(signature):
            raise ValueError(f"{out}: cannot resume, it was made from other inputs or settings; "
                             "run without --resume to start afresh")
        for tmp in out.glob(TEMPORARY_PREFIX + "*"):  # a shard being written when killed
            tmp.unlink()
    out.mkdir(parents=True, exist_ok=True)
    info = store_info([], signature["chunk_size"], None, complete=False)
    write_json(info_path, info | {"signature": signature}, indent=1)


def _library_entry(name: str, source: dict, records: list[dict]) -> dict:
    """A library in ``store.json``: totals and the records of its shards, in chunk order."""
    return {"name": name, "source": source, "rows": sum(r["rows"] for r in records),
            "invalid": sum(r["invalid"] for r in records), "chunks": len(records),
            "shards": records}


def _done_record(path: Path) -> dict | None:
    """The record of a shard an interrupted run finished (hashed now), or ``None`` when it is
    still to do; a damaged one is removed, to be featurized again."""
    if not path.exists():
        return None
    try:
        return read_shard(path)[1]
    except EncryptionKeyError:  # not damaged: readable with the right key
        raise
    except ValueError as err:
        log.warning("%s; featurizing it again", err)
        path.unlink()
        return None


def _save(out: Path, shard: Shard) -> dict:
    """Write a shard atomically; return its record (checksummed as written)."""
    path = out / shard_name(*shard.key)
    with atomic_path(path) as tmp:
        sha256 = save_shard(tmp, shard.rows, shard.smiles, shard.ids, shard.graphs, shard.valid,
                            shard.reasons, shard.descriptors)
    return shard_record(path.name, shard.rows, shard.valid, sha256)
