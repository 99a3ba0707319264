"""Run one function in N worker processes, report the first error, and leave no orphans.

A sweep's workers are processes, not threads: training holds the GIL for much of each step.
They start with ``forkserver`` (as every pool in molgraph does) and watch this process
(``molgraph.runtime.processes.watch_parent``), so they end within a second when it dies, even
by SIGKILL. A worker's exception comes back and is raised here; the other workers are then
stopped (their running trials are marked FAILED when the sweep starts again).
"""

from __future__ import annotations

import os
import pickle
import queue as queues
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from typing import Any

from molgraph.runtime.encryption import active_key, inherit_key
from molgraph.runtime.processes import Identity, process_identity, watch_parent

#: seconds workers get to record an interrupted trial before they are terminated
GRACE = 5.0


def gpu_assignments(workers: int, visible: str | None, count: int) -> list[str | None]:
    """The GPU each worker sees (its ``CUDA_VISIBLE_DEVICES``), round robin over the GPUs
    this process may use (``visible``: its own ``CUDA_VISIBLE_DEVICES``, else ``count``
    devices): ``--jobs N`` on a node with N GPUs runs one trial per GPU. ``None``: no GPU."""
    gpus = [g.strip() for g in visible.split(",") if g.strip()] if visible is not None \
        else [str(i) for i in range(count)]
    return [gpus[i % len(gpus)] if gpus else None for i in range(workers)]


def _visible_gpus(workers: int) -> list[str | None]:
    """:func:`gpu_assignments` for this machine (no CUDA: no GPU for any worker)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if count else None
    return gpu_assignments(workers, visible, count)


def _child(parent: Identity, index: int, target: Callable[..., Any], args: tuple,
           results: Any, key: bytes | None, gpu: str | None = None) -> None:
    if gpu is not None:  # before this process touches CUDA: its trials see one GPU
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    watch_parent(parent, inherit_key, (key,))  # the encryption key, in memory, if any
    try:
        results.put(("done", index, target(*args)))
    except BaseException as err:  # noqa: B036 - an interrupted worker reports it too
        try:
            pickle.dumps(err)
        except Exception:
            err = RuntimeError(f"{type(err).__name__}: {err}")
        results.put(("error", index, err))


def run_in_processes(target: Callable[..., Any], calls: Sequence[tuple]) -> list[Any]:
    """``[target(*args) for args in calls]``, each call in its own process, at once.

    ``target`` and the arguments must pickle (a module-level function, plain data). On a
    machine with GPUs each process sees one (:func:`gpu_assignments`)."""
    context = get_context("forkserver")
    results = context.Queue()
    me = process_identity(os.getpid())
    key = active_key()
    gpus = _visible_gpus(len(calls))
    workers = [context.Process(target=_child, args=(me, i, target, args, results, key, gpu),
                               name=f"molgraph-sweep-{i}", daemon=False)
               for i, (args, gpu) in enumerate(zip(calls, gpus))]
    out: dict[int, Any] = {}
    interrupted = False
    try:
        for worker in workers:
            worker.start()
        while len(out) < len(workers):
            try:
                kind, index, value = results.get(timeout=1.0)
            except queues.Empty:
                _check_alive(workers, out, results)
                continue
            if kind == "error":
                raise value
            out[index] = value
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        _stop(workers, GRACE if interrupted else 0.0)
        results.close()
    return [out[i] for i in range(len(workers))]


def _check_alive(workers: list, out: dict[int, Any], results: Any) -> None:
    """A worker that ended without a word was killed (e.g. by the out-of-memory killer)."""
    for index, worker in enumerate(workers):
        if index not in out and not worker.is_alive():
            try:  # its last message may still be in the pipe
                kind, i, value = results.get(timeout=1.0)
            except queues.Empty:
                raise RuntimeError(f"sweep worker {index} died (exit code {worker.exitcode}) "
                                   "without reporting; its trial is marked FAILED on the "
                                   "next start") from None
            if kind == "error":
                raise value
            out[i] = value


def _stop(workers: list, grace: float) -> None:
    for worker in workers:
        if worker.pid is not None:
            worker.join(timeout=grace)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        if worker.pid is not None:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
                worker.join()
