"""The steps of one round: choose its batch (at random, from an ``--init`` file, or by the
surrogate's utility over the scored pool), ask the oracle, and measure how the campaign does.

Randomness is drawn from ``numpy`` generators seeded by (seed, round, chunk), never from global
state, so a campaign started again from its directory draws exactly what it drew before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.campaign import metrics
from molgraph.campaign.acquisition import random_utility, utility
from molgraph.campaign.labels import SmilesIndex, read_values
from molgraph.campaign.oracles import Answer, LookupOracle, Oracle
from molgraph.campaign.pool import Pool
from molgraph.campaign.selection import Chunk, select_batch
from molgraph.campaign.state import CampaignDir
from molgraph.campaign.surrogates import scored_chunks
from molgraph.runtime.progress import Progress

log = logging.getLogger(__name__)
#: seconds between rewrites of ``acquired.csv`` while the oracle answers (the answers
#: themselves are on disk as each group comes)
REFRESH_S = 2.0


def round_seed(seed: int, number: int) -> int:
    """The seed of round ``number``'s surrogate: distinct per round, fixed by ``seed``."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0] % (2 ** 31))


def _rng(seed: int, number: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed, number, chunk])


def random_batch(pool: Pool, size: int, exclude: set[int], seed: int,
                 number: int) -> pd.DataFrame:
    """``size`` pool molecules drawn uniformly (the top of a random key per molecule, drawn
    shard by shard), none of ``exclude``."""
    def chunks() -> Iterator[Chunk]:
        for k, shard in enumerate(pool.shards()):
            keys = random_utility(len(shard), _rng(seed, number, k))
            yield Chunk(np.asarray(shard.rows), shard.smiles,
                        np.where(shard.valid, keys, -np.inf))
    return select_batch(chunks(), size, exclude)


def surrogate_batch(scores: Path, config, size: int, exclude: set[int], best: float | None,
                    number: int, sign: float) -> pd.DataFrame:
    """The batch of round ``number``: the ``size`` best utilities of the scored pool (means
    signed to maximise), ``predicted`` written back in oracle units."""
    def chunks() -> Iterator[Chunk]:
        for k, (rows, smiles, mean, var) in enumerate(scored_chunks(scores)):
            value = utility(config.acquisition, mean, var, best=best, beta=config.beta,
                            xi=config.xi, rng=_rng(config.seed, number, k))
            yield Chunk(rows, smiles, value, sign * mean,
                        None if var is None else np.sqrt(var))
    return select_batch(chunks(), size, exclude, config.diversity)


def init_from_file(pool: Pool, path: Path, smiles_column: str | None,
                   score_column: str | None) -> tuple[pd.DataFrame, list[Answer]]:
    """The first batch from a file of labelled molecules: each found in the pool (exactly,
    else by canonical SMILES) gets its pool row and the pool's SMILES; one not in the pool
    keeps the file's SMILES, no row, and still teaches the surrogate. Returns the batch and
    the file's values as answers (in batch order)."""
    smiles, values, _ = read_values(path, smiles_column, score_column)
    index = SmilesIndex(smiles)
    rows = np.full(len(smiles), -1, dtype=np.int64)
    pool_smiles = list(smiles)
    for shard in pool.shards():
        positions = np.flatnonzero(shard.valid)
        found = index.find([shard.smiles[p] for p in positions])
        for p, i in zip(positions.tolist(), found.tolist()):
            if i >= 0 and rows[i] < 0:
                rows[i], pool_smiles[i] = int(shard.rows[p]), shard.smiles[p]
    log.info("%s: %d labelled molecules, %d of them in the pool", path, len(smiles),
             int((rows >= 0).sum()))
    batch = pd.DataFrame({"rank": np.arange(1, len(smiles) + 1),
                          "row": pd.array(np.where(rows >= 0, rows, 0), dtype="Int64"),
                          "smiles": pool_smiles})
    batch.loc[rows < 0, "row"] = pd.NA
    answers = [Answer(int(r), None if np.isnan(v) else float(v),
                      "" if not np.isnan(v) else f"no value in {path.name}")
               for r, v in zip(rows.tolist(), values.tolist())]
    return batch, answers


def ask_oracle(oracle: Oracle, state: CampaignDir, number: int, batch: pd.DataFrame,
               progress: bool | None, written) -> int:
    """Ask ``oracle`` for the molecules of ``batch`` without an answer yet; write each group of
    answers as it comes, and call ``written()`` (to refresh ``acquired.csv``) at most every
    ``REFRESH_S`` seconds. Returns how many were asked."""
    have = state.answers(number)
    todo = batch[~batch["rank"].isin(list(have))]
    if todo.empty:
        return 0
    rank_of = dict(zip(todo["row"].astype(int).tolist(), todo["rank"].astype(int).tolist()))
    bar = Progress(len(todo), f"oracle, round {number}", progress, unit="mol")
    refreshed = time.monotonic()
    try:
        for group in oracle.evaluate(todo[["row", "smiles"]].astype({"row": int}),
                                     state.round_dir(number)):
            state.append_answers(number, [(rank_of[a.row], a) for a in group])
            bar.update(len(group))
            if time.monotonic() - refreshed >= REFRESH_S:
                written()
                refreshed = time.monotonic()
    finally:
        bar.close()
    return len(todo)


def round_metrics(acquired: pd.DataFrame, sign: float, k: int, truth,
                  oracle: Oracle, pool_valid: int) -> dict:
    """Best so far, the top-``k`` average (oracle units) and, with a lookup oracle's
    ``truth``, the shares of its true top-k found and what random selection finds."""
    signed = sign * acquired["value"].to_numpy(dtype=np.float64)
    labelled = signed[~np.isnan(signed)]
    average = metrics.top_k_average(signed, k)
    record = {"acquired": int(acquired["row"].notna().sum()), "values": len(labelled),
              "best": float(sign * labelled.max()) if len(labelled) else None,
              "top_k_average": None if average is None else sign * average,
              "top_k_average_signed": average}
    if truth is not None and isinstance(oracle, LookupOracle):
        keys = oracle.keys(acquired["smiles"].tolist())
        record["found_scores"] = metrics.found_scores(signed, truth.values)
        record["found_smiles"] = metrics.found_smiles(signed, keys, truth.keys)
        record["random_expected"] = record["acquired"] / pool_valid
    return record
