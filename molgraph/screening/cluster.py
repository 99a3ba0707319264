"""Screening on a Dask cluster (``--scheduler``): this process reads the library and sends the
shards; the workers run the same task as local scoring processes
(``molgraph.screening.workers.screen_remote_shard``) and need molgraph installed but no shared
file system. Needs ``dask[distributed]`` (``pip install "molgraph[dask]"``), imported only here
and only when a scheduler is given.
"""

from __future__ import annotations

from molgraph.screening.library import Shard
from molgraph.screening.workers import (
    model_payload,
    run_shard_tasks,
    screen_remote_shard,
    shard_options,
)


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
    options = shard_options(config, mode, config.device, config.batch_size)
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
