"""Choosing a batch from a pool that arrives in chunks, in bounded memory.

Each chunk brings its pool rows, SMILES and utilities (``acquisition``); rows already acquired
and rows without a utility are left out, and a running best of ``keep`` candidates is all that
is held, whatever the pool's size. Ties are broken by pool row, so a batch never depends on
the order chunks arrive in or on a sort's whims: the same inputs give the same batch.

With ``diversity`` (a Tanimoto cap on ECFP4), the candidates are the best ``DIVERSE_POOL``
times the batch; a candidate is taken in utility order unless it is at least that similar to
one already taken. When too few pass, the best of the rest fill the batch (and the log says so).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from molgraph.chem.fingerprints import morgan_bits, tanimoto_kernel

log = logging.getLogger(__name__)

#: candidates kept per molecule of the batch when the batch must be diverse
DIVERSE_POOL = 10


@dataclass
class Chunk:
    """Part of the scored pool.

    Attributes:
        rows: ``[n]`` int64 pool rows (1-based, as the library numbers them).
        smiles: the pool's own SMILES of those rows.
        utility: ``[n]`` float64; ``-inf`` or NaN for a row that must not be chosen.
        mean: ``[n]`` the surrogate's predicted mean (written beside the batch), or ``None``.
        sd: ``[n]`` its predicted standard deviation, or ``None``.
    """

    rows: np.ndarray
    smiles: list[str]
    utility: np.ndarray
    mean: np.ndarray | None = None
    sd: np.ndarray | None = None

    def frame(self) -> pd.DataFrame:
        n = len(self.rows)
        none = np.full(n, np.nan)
        return pd.DataFrame({"row": np.asarray(self.rows, dtype=np.int64),
                             "smiles": list(self.smiles),
                             "utility": np.asarray(self.utility, dtype=np.float64),
                             "predicted": none if self.mean is None else self.mean,
                             "predicted_sd": none if self.sd is None else self.sd})


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Best utility first, ties by pool row."""
    return frame.sort_values(["utility", "row"], ascending=[False, True],
                             kind="mergesort").reset_index(drop=True)


def top_candidates(chunks: Iterable[Chunk], keep: int, exclude: set[int]) -> pd.DataFrame:
    """The ``keep`` best rows of all ``chunks`` (columns ``row``, ``smiles``, ``utility``,
    ``predicted``, ``predicted_sd``), best first; rows in ``exclude`` and rows whose utility
    is NaN or ``-inf`` are never candidates. Holds at most ``keep`` rows plus one chunk."""
    best: pd.DataFrame | None = None
    excluded = np.fromiter(exclude, dtype=np.int64, count=len(exclude))
    for chunk in chunks:
        utility = np.asarray(chunk.utility, dtype=np.float64)
        usable = np.isfinite(utility) | (utility == np.inf)
        if len(excluded):
            usable &= ~np.isin(np.asarray(chunk.rows), excluded)
        if not usable.any():
            continue
        frame = chunk.frame()[usable]
        if len(frame) > keep:  # a cheap cut first: the chunk's own best (ties kept)
            cutoff = np.partition(frame["utility"].to_numpy(), len(frame) - keep)[-keep]
            frame = frame[frame["utility"] >= cutoff]
        best = frame if best is None else pd.concat([best, frame], ignore_index=True)
        best = _ranked(best).head(keep)
    if best is None:
        return Chunk(np.zeros(0, np.int64), [], np.zeros(0)).frame()
    return best


def select_batch(chunks: Iterable[Chunk], size: int, exclude: set[int],
                 diversity: float | None = None) -> pd.DataFrame:
    """The batch of ``size`` rows to acquire (fewer when the pool runs out), best first, with
    a ``rank`` column; see the module docstring for ``diversity``."""
    keep = size if diversity is None else size * DIVERSE_POOL
    candidates = top_candidates(chunks, keep, exclude)
    if diversity is not None and len(candidates) > size:
        candidates = diverse(candidates, size, diversity)
    batch = candidates.head(size).reset_index(drop=True)
    batch.insert(0, "rank", np.arange(1, len(batch) + 1))
    return batch


def diverse(candidates: pd.DataFrame, size: int, cap: float) -> pd.DataFrame:
    """``candidates`` (best first) reordered so that the first ``size`` hold no two molecules
    with Tanimoto similarity ``cap`` or more, where enough of them allow it."""
    bits = morgan_bits(candidates["smiles"].tolist())
    taken: list[int] = []
    for i in range(len(candidates)):
        if len(taken) == size:
            break
        if not taken or tanimoto_kernel(bits[[i]], bits[taken]).max() < cap:
            taken.append(i)
    if len(taken) < size:
        log.warning("only %d of the %d best candidates are less than %.2f similar to each "
                    "other; the batch is filled with the best of the rest", len(taken),
                    len(candidates), cap)
        rest = [i for i in range(len(candidates)) if i not in set(taken)]
        taken += rest[:size - len(taken)]
    order = taken + [i for i in range(len(candidates)) if i not in set(taken)]
    return candidates.iloc[order].reset_index(drop=True)
