"""Shards scored away from the main process, and the local scoring processes.

A remote task gets one shard (SMILES, or graphs from a store) and the models as bytes, and runs
the same functions as a local run (``prepare_shard``, ``score_shard``, ``shard_frame``) on one
torch thread by default; its result table comes back and is checkpointed by the main process
exactly as a local run's, so rankings are identical and ``resume`` works the same. The same
task runs in local worker processes (here) and on a Dask cluster (``molgraph.screening.cluster``).

Local worker processes serve screens on the CPU: each featurizes (unless the shard comes from a
store) and scores its shard with one torch thread, so every core does both and none waits on
another (torch threads spinning on a busy core slow a forward pass many times over; processes
do not). They exit within a second of the main process, even a SIGKILLed one
(``molgraph.runtime.processes``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, wait
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from molgraph.inference.domain import SIMILARITY
from molgraph.inference.ensemble import Ensemble
from molgraph.inference.model_dir import model_digest, model_files
from molgraph.runtime.encryption import KEY_ENV, EncryptionKeyError, active_key, inherit_key
from molgraph.runtime.processes import process_pool
from molgraph.screening.library import Shard
from molgraph.screening.prepare import ShardRef, prepare_shard
from molgraph.screening.scoring import (
    default_batch_size,
    score_shard,
    shard_frame,
    shard_similarity,
)

_MODELS: dict[tuple[str, ...], Ensemble] = {}


def model_payload(directory: str | Path) -> dict:
    """A saved model as bytes, to send to workers: ``{"digest", "files": {name: bytes}}``."""
    return {"digest": model_digest(directory), "files": model_files(directory)}


def _ensemble(payloads: list[dict], device: str, precision: str) -> Ensemble:
    """The ensemble of ``payloads`` in this process, loaded once per process."""
    key = (device, precision, *(p["digest"] for p in payloads))
    if key not in _MODELS:
        from molgraph.inference.loading import load_model

        models = []
        for payload in payloads:
            with tempfile.TemporaryDirectory(prefix="molgraph-model-") as tmp:
                for name, data in payload["files"].items():
                    (Path(tmp) / name).write_bytes(data)  # as on disk: encrypted, if it is
                try:
                    models.append(load_model(tmp, device, precision))
                except EncryptionKeyError as err:  # the temporary path would say nothing
                    raise EncryptionKeyError(
                        f"a scoring worker cannot read an encrypted model ({err}); a Dask "
                        f"cluster's workers need {KEY_ENV} in their own environment") from None
        _MODELS[key] = Ensemble(models)
    return _MODELS[key]


def screen_remote_shard(shard: Shard, payloads: list[dict], options: dict) -> pd.DataFrame:
    """Featurize (if needed) and score one shard; its result table as a local run makes it,
    with ``train_similarity`` when ``options["domain"]`` (every row will be written)."""
    import torch

    torch.set_num_threads(options["threads"])
    ensemble = _ensemble(payloads, options["device"], options["precision"])
    shard = prepare_shard(shard, options["descriptors"])
    batch_size = options["batch_size"] or default_batch_size(ensemble)
    cache: dict = {}
    scores = score_shard(shard, ensemble, batch_size, cache)
    frame = shard_frame(shard, scores, ensemble.columns, options["filters"])
    if options.get("domain"):
        frame[SIMILARITY] = shard_similarity(shard, ensemble.domain, cache)
    return frame


def shard_options(config, mode: str | None, device: str, batch_size: int | None) -> dict:
    """What a shard task needs of ``config`` (a ``ScreenConfig``) besides the models;
    ``mode``: the drug-likeness descriptors (``screening.prepare.descriptor_mode``)."""
    return {"threads": config.threads or 1, "device": device, "descriptors": mode,
            "filters": config.filters, "batch_size": batch_size, "precision": config.precision,
            "domain": config.top_k is None and config.threshold is None}


def run_shard_tasks(refs: Iterable[ShardRef], parts, keys: list, progress, skip,
                    submit: Callable[[Shard], object], next_done: Callable[[dict], object],
                    limit: int) -> None:
    """Submit every shard not yet in ``parts``, at most ``limit`` at a time, and write each
    result table as it arrives.

    Args:
        submit: starts a task for a shard, returning its future.
        next_done: blocks until one of the pending futures (a dict future → key) is done and
            returns it.
    """
    pending: dict = {}

    def collect() -> None:
        future = next_done(pending)
        key = pending.pop(future)
        frame = future.result()
        parts.write(key, frame)
        keys.append(key)
        progress.update(len(frame))

    for key, loader in refs:
        n = parts.done_rows(key)
        if n is not None:
            skip(key, n)
            continue
        pending[submit(loader())] = key
        if len(pending) >= limit:
            collect()
    while pending:
        collect()


def start_scoring_server() -> None:
    """Start the forkserver that local scoring processes fork from, importing torch and the
    models there once (~2 s of CPU) while this process opens the library and the models,
    instead of once in every worker after them. No effect when the forkserver already runs."""
    from multiprocessing import forkserver

    preload = ["molgraph.screening.workers", "molgraph.inference.artifact"]
    get_context("forkserver").set_forkserver_preload(preload)
    forkserver.ensure_running()


def screen_in_processes(config, refs, parts, mode: str | None, keys: list, progress, skip,
                        workers: int, batch_size: int) -> dict:
    """Score shards in ``workers`` local processes with one torch thread each; an encryption
    key goes to them in memory (the model files stay encrypted in their payloads)."""
    options = shard_options(config, mode, "cpu", batch_size)
    payloads = [model_payload(m) for m in config.models]
    pool = process_pool(workers, inherit_key, (active_key(),))
    try:
        run_shard_tasks(refs, parts, keys, progress, skip,
                        lambda shard: pool.submit(screen_remote_shard, shard, payloads, options),
                        lambda pending: next(iter(wait(pending, return_when=FIRST_COMPLETED)
                                                  .done)),
                        limit=2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {"workers": workers, "threads": options["threads"], "batch_size": batch_size,
            "device": "cpu", "scheduler": None, "scoring": "processes"}
