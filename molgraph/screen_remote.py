"""Shards scored away from the main process: in local scoring processes or on a Dask cluster.

A remote task gets one shard (SMILES, or graphs from a store) and the models as bytes, and runs
the same functions as a local run (``prepare_shard``, ``score_shard``, ``shard_frame``) on one
torch thread by default; its result table comes back and is checkpointed here exactly as a
local run's, so rankings are identical and ``resume`` works the same.

- Local worker processes serve screens on the CPU: each featurizes (unless the shard comes
  from a store) and scores its shard with one torch thread, so every core does both and none
  waits on another (torch threads spinning on a busy core slow a forward pass many times over;
  processes do not).
- A Dask cluster (``--scheduler``): this process reads the library and sends the shards; the
  workers need molgraph installed but no shared file system. Needs ``dask[distributed]``
  (``pip install "molgraph[dask]"``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from molgraph.ensemble import Ensemble, model_digest
from molgraph.library import Shard
from molgraph.pipeline import ShardRef, prepare_shard

_MODELS: dict[tuple[str, ...], Ensemble] = {}


def model_payload(directory: str | Path) -> dict:
    """A saved model as bytes, to send to workers: ``{"digest", "files": {name: bytes}}``."""
    from molgraph.saved import CONFIG, WEIGHTS

    directory = Path(directory)
    if not (directory / CONFIG).exists() and (directory / "model" / CONFIG).exists():
        directory = directory / "model"
    return {"digest": model_digest(directory),
            "files": {name: (directory / name).read_bytes() for name in (CONFIG, WEIGHTS)}}


def _ensemble(payloads: list[dict], device: str, precision: str) -> Ensemble:
    """The ensemble of ``payloads`` in this process, loaded once per process."""
    key = (device, precision, *(p["digest"] for p in payloads))
    if key not in _MODELS:
        from molgraph.saved import load_model

        models = []
        for payload in payloads:
            with tempfile.TemporaryDirectory(prefix="molgraph-model-") as tmp:
                for name, data in payload["files"].items():
                    (Path(tmp) / name).write_bytes(data)
                models.append(load_model(tmp, device, precision))
        _MODELS[key] = Ensemble(models)
    return _MODELS[key]


def screen_remote_shard(shard: Shard, payloads: list[dict], options: dict) -> pd.DataFrame:
    """Featurize (if needed) and score one shard; its result table as a local run makes it."""
    import torch

    from molgraph.screen import default_batch_size, score_shard, shard_frame

    torch.set_num_threads(options["threads"])
    ensemble = _ensemble(payloads, options["device"], options["precision"])
    shard = prepare_shard(shard, options["descriptors"])
    batch_size = options["batch_size"] or default_batch_size(ensemble)
    scores = score_shard(shard, ensemble, batch_size)
    return shard_frame(shard, scores, ensemble.columns, options["filters"])


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

    get_context("forkserver").set_forkserver_preload(["molgraph.screen_remote", "molgraph.saved"])
    forkserver.ensure_running()


def screen_in_processes(config, refs, parts, mode: str | None, keys: list, progress, skip,
                        workers: int, batch_size: int) -> dict:
    """Score shards in ``workers`` local processes with one torch thread each."""
    options = {"threads": config.threads or 1, "device": "cpu", "descriptors": mode,
               "filters": config.filters, "batch_size": batch_size,
               "precision": config.precision}
    payloads = [model_payload(m) for m in config.models]
    pool = ProcessPoolExecutor(workers, mp_context=get_context("forkserver"))
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


def _import_distributed():
    try:
        import distributed
    except ImportError as err:
        raise ImportError("screening on a Dask cluster (--scheduler) needs dask.distributed: "
                          'pip install "molgraph[dask]"  (or: pip install "dask[distributed]")'
                          ) from err
    return distributed


def screen_on_dask(config, refs, parts, mode: str | None, keys: list, progress, skip) -> dict:
    """Send the shards not yet in ``parts`` to the cluster at ``config.scheduler`` (at most
    two per worker thread at a time) and write each result as it arrives."""
    distributed = _import_distributed()
    options = {"threads": config.threads or 1, "device": config.device,
               "descriptors": mode, "filters": config.filters, "batch_size": config.batch_size,
               "precision": config.precision}
    with distributed.Client(config.scheduler, set_as_default=False) as client:
        payloads = client.scatter([[model_payload(m) for m in config.models]],
                                  broadcast=True)[0]
        finished = distributed.as_completed(loop=client.loop)

        def submit(shard: Shard):
            future = client.submit(screen_remote_shard, shard, payloads, options, pure=False)
            finished.add(future)
            return future

        run_shard_tasks(refs, parts, keys, progress, skip, submit,
                        lambda pending: next(finished),
                        limit=max(2, 2 * sum(client.nthreads().values())))
        n_workers = len(client.scheduler_info()["workers"])
    return {"workers": n_workers, "threads": options["threads"],
            "batch_size": config.batch_size, "device": config.device,
            "scheduler": config.scheduler, "scoring": "dask"}
