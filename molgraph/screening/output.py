"""Checkpointed screening results: one part file per shard, then one ranked output.

Each scored shard is written to ``OUT.parts/part-LLL-CCCCCC.parquet`` through a temporary file
and an atomic rename, so a part exists only when complete. A run killed at any moment (even by
SIGKILL) and restarted with ``resume`` skips the shards whose part exists and redoes the others:
each input row ends up in the output exactly once. ``manifest.json`` records what the parts
were made from (models, libraries, chunk size, filters); a resume with other inputs is refused.

A run holds ``OUT``'s lock (``<stem>.lock``) from start to end, so a second run on the same
output is refused instead of deleting the first one's live parts; the kernel drops the lock when
the run ends, however it ends, so ``resume`` after a kill is never blocked.

Assembling reads the parts in input order, one at a time: the full table streams to CSV or
Parquet, and a top-k keeps only ``k`` candidates (plus one part) in memory.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.inference.domain import (
    DEFAULT_THRESHOLD,
    IN_DOMAIN,
    SIMILARITY,
    Domain,
    in_domain,
    train_similarity,
)
from molgraph.runtime.files import (
    TEMPORARY_PREFIX,
    FileLocked,
    atomic_path,
    check_writable,
    exclusive_lock,
    jsonable,
    temporary_path,
    write_json,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_OUT_SUFFIXES = (".csv.gz", ".csv", ".tsv", ".parquet", ".pq")


def output_stem(out: str | Path) -> Path:
    """``OUT`` without its table suffix: ``hits.csv`` → ``hits`` (for side files)."""
    out = Path(out)
    for suffix in _OUT_SUFFIXES:
        if out.name.lower().endswith(suffix):
            return out.with_name(out.name[: -len(suffix)])
    raise ValueError(f"{out}: output must end in .csv, .csv.gz, .tsv or .parquet")


def side_paths(out: str | Path) -> dict[str, Path]:
    """Paths of the parts directory, the summary, the invalid-rows table and the lock beside
    ``out``."""
    stem = output_stem(out)
    return {"parts": stem.with_name(stem.name + ".parts"),
            "summary": stem.with_name(stem.name + ".summary.json"),
            "invalid": stem.with_name(stem.name + ".invalid.csv"),
            "lock": stem.with_name(stem.name + ".lock")}


def check_output(out: str | Path) -> dict[str, Path]:
    """Refuse, before any work, an output that could not be written at the end of the run
    (``ValueError`` naming the path and the cause); return :func:`side_paths`."""
    paths = side_paths(out)
    for path in (Path(out), paths["summary"], paths["invalid"]):
        check_writable(path)
    if paths["parts"].exists() and not paths["parts"].is_dir():
        raise ValueError(f"{paths['parts']}: cannot keep the checkpoint parts there, it is a "
                         "file; move it away or choose another --out")
    return paths


@contextmanager
def output_lock(out: str | Path) -> Iterator[None]:
    """Hold ``out``'s lock for the block; ``ValueError`` at once when another run holds it."""
    with ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(side_paths(out)["lock"]))
        except FileLocked as err:
            holder = f" (process {err.pid})" if err.pid else ""
            raise ValueError(f"{out}: another molgraph screen{holder} is writing this output "
                             "and its checkpoints; wait for it to finish, or choose another "
                             "--out") from None
        yield


class PartStore:
    """The per-shard results of one screening run.

    Args:
        directory: where the parts go.
        signature: what the parts depend on; must match on resume.
        resume: keep the parts of an earlier run with the same signature; otherwise an earlier
            run's parts are removed first.
    """

    def __init__(self, directory: str | Path, signature: dict, resume: bool) -> None:
        self.directory = Path(directory)
        manifest = self.directory / MANIFEST
        if self.directory.exists() and not resume:
            if manifest.exists():
                log.warning("%s: removing the parts of an earlier run (pass --resume to "
                            "continue it instead)", self.directory)
                shutil.rmtree(self.directory)
            elif any(self.directory.iterdir()):
                raise ValueError(f"{self.directory} exists and is not a screening parts "
                                 "directory; move it away or choose another output name")
        if resume and manifest.exists():
            earlier = json.loads(manifest.read_text())
            if earlier != jsonable(signature):
                changed = sorted(k for k in set(earlier) | set(signature)
                                 if earlier.get(k) != jsonable(signature.get(k)))
                raise ValueError(f"{self.directory}: cannot resume, the earlier run used other "
                                 f"{', '.join(changed)}; run without --resume to start afresh")
            for tmp in self.directory.glob(TEMPORARY_PREFIX + "*"):  # written when killed
                tmp.unlink()
            log.info("resuming: %d shards already done in %s", len(self.keys_done()),
                     self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(manifest, signature, indent=1)

    def path(self, key: tuple[int, int]) -> Path:
        return self.directory / f"part-{key[0]:03d}-{key[1]:06d}.parquet"

    def keys_done(self) -> list[str]:
        return sorted(p.name for p in self.directory.glob("part-*.parquet"))

    def done_rows(self, key: tuple[int, int]) -> int | None:
        """Rows of the finished part for ``key``, or ``None`` when it is still to do."""
        path = self.path(key)
        if not path.exists():
            return None
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows

    def write(self, key: tuple[int, int], frame: pd.DataFrame) -> None:
        with atomic_path(self.path(key)) as tmp:
            frame.to_parquet(tmp, index=False)

    def read(self, key: tuple[int, int]) -> pd.DataFrame:
        return pd.read_parquet(self.path(key))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class TableWriter:
    """Append data frames to one CSV (optionally gzipped), TSV or Parquet file, atomically: the
    file appears under its name only on :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.tmp = temporary_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        name = self.path.name.lower()
        self.parquet = name.endswith((".parquet", ".pq"))
        self.sep = "\t" if name.endswith(".tsv") else ","
        self._handle = None
        self._writer = None
        self._schema = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            if self._writer is None:
                self._schema = table.schema
                self._writer = pq.ParquetWriter(self.tmp, self._schema)
            self._writer.write_table(table)
            return
        first = self._handle is None
        if first:
            opener = gzip.open if self.path.name.lower().endswith(".gz") else open
            self._handle = opener(self.tmp, "wt", newline="", encoding="utf-8")
        frame.to_csv(self._handle, sep=self.sep, index=False, header=first)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._handle is not None:
            self._handle.close()
        os.replace(self.tmp, self.path)


def _select(frame: pd.DataFrame, rank: str, ascending: bool, threshold: float | None
            ) -> pd.DataFrame:
    keep = (frame["status"] == "ok") & frame[rank].notna()
    if threshold is not None:
        keep &= (frame[rank] <= threshold) if ascending else (frame[rank] >= threshold)
    return frame[keep]


def _rank(frame: pd.DataFrame, rank: str, ascending: bool) -> pd.DataFrame:
    """Best first; ties broken by library then row, so every run ranks identically."""
    return frame.sort_values([rank, "_library", "row"], ascending=[ascending, True, True],
                             kind="mergesort")


def with_domain(frame: pd.DataFrame, domain: Domain | None, threshold: float) -> pd.DataFrame:
    """``frame`` (rows of a screening table) with ``train_similarity`` for every row with a
    graph (computed where it is still missing) and ``in_domain``, as its last columns."""
    if SIMILARITY in frame:
        similarity = frame[SIMILARITY].to_numpy(dtype=np.float32, copy=True)
    else:
        similarity = np.full(len(frame), np.nan, dtype=np.float32)
    todo = np.flatnonzero(np.isnan(similarity) & (frame["status"] != "invalid").to_numpy())
    if domain is not None and len(todo):
        similarity[todo] = train_similarity(domain, frame["smiles"].iloc[todo].tolist())
    return frame.assign(**{SIMILARITY: similarity, IN_DOMAIN: in_domain(similarity, threshold)})


def assemble(parts: PartStore, keys: Sequence[tuple[int, int]], library_names: Sequence[str],
             out: str | Path, rank: str, top_k: int | None = None,
             threshold: float | None = None, ascending: bool = False,
             domain: Domain | None = None, domain_threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Write the final output from the parts of ``keys`` (in input order) and the invalid-rows
    table beside it; return the counts.

    Without ``top_k`` and ``threshold`` the output has every row in input order; otherwise it
    has the selected rows, best first, with a ``rank`` column. Written rows end with
    ``train_similarity`` and ``in_domain`` against ``domain`` (empty without one), and
    ``out_of_domain`` counts those below ``domain_threshold``. ``size_limited`` counts the
    ``ok`` rows with a reason: rdkit2d descriptors left out by the molecule's size.
    """
    paths = side_paths(out)
    several = len(library_names) > 1
    select = top_k is not None or threshold is not None
    writer = TableWriter(out)
    invalid = TableWriter(paths["invalid"])
    counts: Counter[str] = Counter()
    outside = limited = 0
    per_library: dict[str, Counter[str]] = {name: Counter() for name in library_names}
    best: pd.DataFrame | None = None
    columns: list[str] | None = None
    for key in keys:
        frame = parts.read(key)
        if several:
            frame.insert(0, "library", library_names[key[0]])
        columns = list(frame.columns)
        status = frame["status"].value_counts()
        counts.update(status.to_dict())
        limited += int(((frame["status"] == "ok") & (frame["reason"].fillna("") != "")).sum())
        per_library[library_names[key[0]]].update(status.to_dict())
        bad = frame[frame["status"] != "ok"]
        invalid.write(bad[[c for c in ("library", "row", "id", "smiles", "status", "reason")
                           if c in frame.columns]])
        if not select:
            frame = with_domain(frame, domain, domain_threshold)
            outside += int((~frame[IN_DOMAIN]).sum())
            writer.write(frame)
            continue
        chosen = _select(frame, rank, ascending, threshold).assign(_library=key[0])
        if best is None or best.empty:
            best = chosen
        elif not chosen.empty:
            best = pd.concat([best, chosen], ignore_index=True)
        if top_k is not None and len(best) > top_k:
            best = _rank(best, rank, ascending).head(top_k)
    if columns is None:  # no rows at all
        columns = (["library"] if several else []) + ["row", "id", "smiles", rank, "status",
                                                      "reason", SIMILARITY, IN_DOMAIN]
        invalid.write(pd.DataFrame(columns=["row", "id", "smiles", "status", "reason"]))
        if not select:
            writer.write(pd.DataFrame(columns=columns))
    if select:
        best = best if best is not None else pd.DataFrame(columns=columns + ["_library"])
        best = _rank(best, rank, ascending).drop(columns="_library").reset_index(drop=True)
        best.insert(0, "rank", np.arange(1, len(best) + 1))
        best = with_domain(best, domain, domain_threshold)
        outside = int((~best[IN_DOMAIN]).sum())
        writer.write(best)
    writer.close()
    invalid.close()
    total = sum(counts.values())
    return {"rows": total, "ok": counts.get("ok", 0), "invalid": counts.get("invalid", 0),
            "filtered": counts.get("filtered", 0),
            "written": len(best) if select else total, "size_limited": limited,
            "out_of_domain": None if domain is None else outside,
            "domain_threshold": domain_threshold,
            "libraries": {name: {"rows": sum(c.values()), **dict(c)}
                          for name, c in per_library.items()},
            "output": str(out), "invalid_rows_file": str(paths["invalid"])}
