"""Featurize the shards of libraries in worker processes, in order, with bounded memory.

At most ``2 × workers + 2`` shards are in flight, so memory stays flat however long the library
is; results come back in input order. Workers run ``prepare_shard`` (RDKit and numpy only: no
torch is imported in them, so they start fast and hold no torch threads). This module imports
no torch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future

import numpy as np

from molgraph.chem.druglike import PAINS_COLUMN, describe_smiles
from molgraph.chem.featurize import featurize_chunk, smiles_problem, valid_smiles
from molgraph.chem.graphs import MolGraphs
from molgraph.runtime.processes import process_pool
from molgraph.screening.library import Library, Shard, ShardLoader, iter_shards

FEATURIZE_PIECE = 500
ShardRef = tuple[tuple[int, int], ShardLoader]


def descriptor_mode(druglike: bool, filters: Sequence[str]) -> str | None:
    """``"full"`` (with PAINS), ``"basic"`` (Lipinski/Veber only) or ``None`` (no columns)."""
    if druglike or "pains" in filters:
        return "full"
    return "basic" if filters else None


def needs_work(shard: Shard, descriptors: str | None) -> bool:
    """Whether ``shard`` still needs RDKit: featurizing, or descriptors it lacks."""
    if shard.graphs is None:
        return True
    if descriptors is None:
        return False
    have = shard.descriptors
    return have is None or (descriptors == "full" and PAINS_COLUMN not in have)


def prepare_shard(shard: Shard, descriptors: str | None = None) -> Shard:
    """Featurize a shard (if not yet) and add the drug-likeness descriptors asked for (if
    missing), dropping those not asked for.

    Invalid rows are reported in ``shard.reasons`` by position, never raised; a reading error
    (e.g. an SDF record RDKit rejects) keeps its own reason.
    """
    if shard.graphs is None:
        # RDKit molecules take ~30 KB each: featurize a few hundred at a time, not the shard
        pieces = [featurize_chunk(shard.smiles[s:s + FEATURIZE_PIECE])
                  for s in range(0, len(shard), FEATURIZE_PIECE)] or [featurize_chunk([])]
        shard.graphs = MolGraphs.concat([p.graphs for p in pieces])
        shard.valid = np.concatenate([p.valid for p in pieces])
        errors = {s * FEATURIZE_PIECE + i: why for s, p in enumerate(pieces)
                  for i, why in p.errors.items()}
        shard.reasons = {**errors, **shard.reasons}
    else:
        _drop_refused_rows(shard)
    if needs_work(shard, descriptors):
        shard.descriptors = describe_smiles(valid_smiles(shard.smiles, shard.valid),
                                            pains=descriptors == "full")
    if descriptors is None:  # a store may hold columns this run did not ask for
        shard.descriptors = None
    elif descriptors == "basic" and PAINS_COLUMN in shard.descriptors:
        shard.descriptors = {k: v for k, v in shard.descriptors.items() if k != PAINS_COLUMN}
    return shard


def _drop_refused_rows(shard: Shard) -> None:
    """Make invalid the rows of a stored shard whose SMILES the featurizer now refuses (a
    space inside a cell: see ``smiles_problem``); a store featurized before that rule holds a
    graph of the text before the space for them."""
    kept = np.flatnonzero(shard.valid)
    problems = [smiles_problem(shard.smiles[i]) for i in kept]
    refused = np.array([why is not None for why in problems], dtype=bool)
    if not refused.any():
        return
    shard.graphs = shard.graphs.take(np.flatnonzero(~refused))
    if shard.descriptors is not None:
        shard.descriptors = {k: v[~refused] for k, v in shard.descriptors.items()}
    shard.valid = shard.valid.copy()
    shard.valid[kept[refused]] = False
    shard.reasons = {**shard.reasons, **{int(i): why for i, why in zip(kept, problems) if why}}


def shard_refs(libraries: Sequence[Library], chunk_size: int, smiles_column: str | None = None,
               id_column: str | None = None) -> Iterator[ShardRef]:
    """``((library index, chunk index), loader)`` for every shard of every library, in order."""
    for li, library in enumerate(libraries):
        for ci, loader in iter_shards(li, library, chunk_size, smiles_column, id_column):
            yield (li, ci), loader


def prepared_shards(refs: Iterable[ShardRef], workers: int, descriptors: str | None = None,
                    done: Callable[[tuple[int, int]], int | None] = lambda key: None,
                    on_done: Callable[[tuple[int, int], int], None] = lambda key, n: None,
                    ) -> Iterator[Shard]:
    """Prepared shards in input order, skipping those ``done`` already (it returns their row
    count, or ``None`` when the shard is still to do; ``on_done`` hears of each skipped one).

    Args:
        refs: from :func:`shard_refs`.
        workers: featurization processes; 0 featurizes in this process.
        descriptors: see :func:`descriptor_mode`.
    """
    if workers <= 0:
        for key, loader in refs:
            n = done(key)
            if n is not None:
                on_done(key, n)
                continue
            yield prepare_shard(loader(), descriptors)
        return
    in_flight = 2 * workers + 2
    queue: deque[Future | Shard] = deque()
    pool = process_pool(workers)
    try:
        for key, loader in refs:
            n = done(key)
            if n is not None:
                on_done(key, n)
                continue
            shard = loader()
            queue.append(pool.submit(prepare_shard, shard, descriptors)
                         if needs_work(shard, descriptors) else prepare_shard(shard, descriptors))
            while len(queue) >= in_flight:
                yield _result(queue.popleft())
        while queue:
            yield _result(queue.popleft())
    finally:  # on an error or an abandoned generator, drop queued work instead of waiting
        pool.shutdown(wait=True, cancel_futures=True)

def _result(item: Future | Shard) -> Shard:
    return item.result() if isinstance(item, Future) else item
