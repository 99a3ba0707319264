"""Pictures after a screen: ``<stem>_plots/score_histogram.png`` and ``<stem>_plots/top_hits.png``
beside the output table ``<stem>.csv`` (or ``.parquet``...).

Memory stays bounded whatever the library size: the tables are read in chunks of
``chunk_rows`` rows (pyarrow batches for Parquet, pandas ``chunksize`` for CSV/TSV), the
histogram is counted into fixed bins over two passes (the first finds the range, the second
counts), and the top hits are a running best-``n``.

The histogram covers every scored molecule of the run: it reads the checkpoint parts (every
row, before they are removed) when given, otherwise the output itself, which with ``top_k`` or
``threshold`` holds only the selected rows. The grid shows the best ``ok`` rows of the output,
i.e. the hits that were written, each with its similarity to the nearest training molecule,
those outside the applicability domain marked. Rows without a score (invalid SMILES) are left
out of both.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.inference.domain import IN_DOMAIN, SIMILARITY
from molgraph.screening.output import output_stem

log = logging.getLogger(__name__)

#: Rows read at a time from an output table or a checkpoint part.
CHUNK_ROWS = 100_000
#: Molecules in the top-hits grid.
N_HITS = 24
HISTOGRAM = "score_histogram.png"
TOP_HITS = "top_hits.png"


def pictures_dir(out: str | Path) -> Path:
    """``hits.csv`` → ``hits_plots/`` beside it."""
    stem = output_stem(out)
    return stem.with_name(stem.name + "_plots")


def _sep(path: Path) -> str:
    return "\t" if path.name.lower().endswith(".tsv") else ","


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def table_columns(path: str | Path) -> list[str]:
    """The column names of a screening table, without reading its rows."""
    path = Path(path)
    if _is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return list(pd.read_csv(path, sep=_sep(path), nrows=0).columns)


def read_chunks(path: str | Path, columns: Sequence[str], chunk_rows: int = CHUNK_ROWS
                ) -> Iterator[pd.DataFrame]:
    """``columns`` of a screening table (CSV, CSV.gz, TSV or Parquet), ``chunk_rows`` rows at a
    time; a missing column is ``KeyError``."""
    path = Path(path)
    missing = [c for c in columns if c not in table_columns(path)]
    if missing:
        raise KeyError(f"{path} has no column {', '.join(map(repr, missing))}")
    if _is_parquet(path):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows,
                                                       columns=list(columns)):
            yield batch.to_pandas()
        return
    dtypes = {c: str for c in ("smiles", "status") if c in columns}
    with pd.read_csv(path, sep=_sep(path), usecols=list(columns), dtype=dtypes,
                     keep_default_na=False, na_values=[""], chunksize=chunk_rows) as reader:
        yield from reader


def _scores(chunk: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(chunk[column], errors="coerce").to_numpy(dtype=float)


def score_counts(paths: Sequence[str | Path], column: str, bins: int | None = None,
                 chunk_rows: int = CHUNK_ROWS) -> tuple[np.ndarray, np.ndarray, int]:
    """Histogram of the finite ``column`` values of ``paths``, read in chunks: ``(counts,
    edges, unscored)``, ``unscored`` the rows without a score. Bins are fixed from a first pass
    (by default about ``sqrt(n)`` of them, 10 to 60)."""
    low, high, scored, unscored = math.inf, -math.inf, 0, 0
    for path in paths:
        for chunk in read_chunks(path, [column], chunk_rows):
            values = _scores(chunk, column)
            finite = values[np.isfinite(values)]
            scored += len(finite)
            unscored += len(values) - len(finite)
            if len(finite):
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    if bins is None:
        bins = int(np.clip(round(math.sqrt(scored)), 10, 60))
    if not scored:
        low, high = 0.0, 1.0
    elif low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    if scored:
        for path in paths:
            for chunk in read_chunks(path, [column], chunk_rows):
                values = _scores(chunk, column)
                counts += np.histogram(values[np.isfinite(values)], bins=edges)[0]
    return counts, edges, unscored


def top_hits(path: str | Path, column: str, ascending: bool = False, n: int = N_HITS,
             chunk_rows: int = CHUNK_ROWS) -> tuple[pd.DataFrame, int, float | None]:
    """The best ``n`` ``ok`` rows of the output ``path`` with a finite score (ties: the earlier
    row first, as the output ranks them): ``(frame with smiles, column and the domain's
    columns when the output has them, rows with a score, worst score among them)``, read in
    chunks."""
    present = table_columns(path)
    keep = ["smiles", column] + [c for c in (SIMILARITY, IN_DOMAIN) if c in present]
    best = pd.DataFrame(columns=keep)
    kept, worst = 0, None
    columns = keep + (["status"] if "status" in present else [])
    for chunk in read_chunks(path, columns, chunk_rows):
        chunk = chunk.assign(**{column: _scores(chunk, column)})
        good = np.isfinite(chunk[column].to_numpy())
        if "status" in chunk:
            good &= (chunk["status"] == "ok").to_numpy()
        chunk = chunk.loc[good, keep]
        if chunk.empty:
            continue
        kept += len(chunk)
        edge = chunk[column].max() if ascending else chunk[column].min()
        worst = edge if worst is None else (max(worst, edge) if ascending else min(worst, edge))
        best = chunk if best.empty else pd.concat([best, chunk], ignore_index=True)
        best = best.sort_values(column, ascending=ascending, kind="mergesort").head(n)
    return best.reset_index(drop=True), kept, None if worst is None else float(worst)


def write_screen_pictures(out: str | Path, column: str, *, ascending: bool = False,
                          threshold: float | None = None, top_k: int | None = None,
                          sources: Sequence[str | Path] | None = None, n_hits: int = N_HITS,
                          chunk_rows: int = CHUNK_ROWS) -> list[Path]:
    """Write the score histogram and the top-hits grid of the screening output ``out`` into
    :func:`pictures_dir`; return the paths written.

    ``column``: the ranked score column (``logS``, ``logS_mean``...). ``sources``: the tables
    to count the histogram from (the run's checkpoint parts: every scored row); by default
    ``out``. ``threshold`` is marked on the histogram, and so is the worst kept score when the
    output holds ``top_k`` hits. Never raises: a picture that cannot be made is a warning (the
    screen's results are written by then and stay valid).
    """
    try:
        from molgraph.plots.screen import score_histogram, top_hits_grid

        directory = pictures_dir(out)
        for name in (HISTOGRAM, TOP_HITS):  # never leave an earlier run's picture behind
            (directory / name).unlink(missing_ok=True)
    except Exception as err:  # noqa: BLE001 - pictures are never worth failing the screen
        log.warning("pictures of %s not written: %s: %s", out, type(err).__name__, err)
        return []
    written: list[Path] = []
    cutoff = None
    try:
        hits, kept, worst = top_hits(out, column, ascending, n_hits, chunk_rows)
        if top_k is not None and kept >= top_k:
            cutoff = worst
        if hits.empty:
            log.info("%s: no scored hits to draw", out)
        else:
            domain = ({"similarity": _scores(hits, SIMILARITY),
                       "outside": (hits[IN_DOMAIN].astype(str) == "False").to_numpy()}
                      if SIMILARITY in hits and IN_DOMAIN in hits else {})
            written.append(top_hits_grid(hits["smiles"].tolist(), hits[column].tolist(),
                                         directory / TOP_HITS, column, n=n_hits, **domain))
    except Exception as err:  # noqa: BLE001
        log.warning("%s not written: %s: %s", directory / TOP_HITS, type(err).__name__, err)
    try:
        counts, edges, unscored = score_counts(list(sources) if sources else [out], column,
                                               chunk_rows=chunk_rows)
        written.insert(0, score_histogram(counts, edges, directory / HISTOGRAM, column,
                                          threshold=threshold, top_k_cutoff=cutoff,
                                          unscored=unscored, ascending=ascending))
    except Exception as err:  # noqa: BLE001
        log.warning("%s not written: %s: %s", directory / HISTOGRAM, type(err).__name__, err)
    if written:
        log.info("pictures of the screen in %s", directory)
    return written
