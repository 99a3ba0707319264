"""Several processes training one model: torch.distributed, as ``torchrun`` launches it.

``torchrun --nproc-per-node N -m molgraph train ...`` (or ``molgraph train --devices N``, which
runs the same) starts N processes with ``RANK``, ``WORLD_SIZE`` and a rendezvous in their
environment; :func:`init_from_env` joins them in one process group: NCCL when each process has a
GPU, Gloo on CPUs. Without those variables everything here answers for one process (rank 0 of
1) and no process group is made, so the same code runs in a notebook.

The rules every step follows (Chemprop's DDP pitfalls, chemprop#874 and #853, avoided):

- each process takes every ``world``-th molecule of each global batch (:func:`shard`), so every
  molecule is seen exactly once per epoch, with no padding and no molecule dropped;
- validation predictions are gathered from all processes in molecule order
  (:func:`gather_rows`) before any metric, so every process takes the same early-stopping
  decision;
- the test set and ``predict`` run on rank 0 alone, which also writes the run directory and
  MLflow (:func:`is_main`).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
#: how long a collective (the end-of-run barrier) waits: the other processes wait there while
#: rank 0 scores, blends, fits the baselines and writes
FINISH_HOURS = 12


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher) with a world of
    several processes."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> tuple[int, int]:
    """``(rank, world size)`` of this process: ``(0, 1)`` outside a process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes files, logs to MLflow and scores the test set."""
    return world()[0] == 0


def init_from_env(device: str = "auto") -> str | None:
    """Join the process group torchrun describes in the environment (no-op for one process);
    the device this process uses: ``cuda:LOCAL_RANK`` with NCCL when GPUs are present and
    ``device`` allows them, else the CPU with Gloo. Returns the device name, or None when not
    launched."""
    if not launched():
        return None
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    gpu = device != "cpu" and torch.cuda.is_available()
    chosen = f"cuda:{local}" if gpu else "cpu"
    if dist.is_initialized():  # joined already (the CLI joins before the library call)
        return chosen
    # rank 0's scoring and writing may outlast the default 30 min
    dist.init_process_group("nccl" if gpu else "gloo", timeout=timedelta(hours=FINISH_HOURS))
    if gpu:
        torch.cuda.set_device(local)
    rank, size = world()
    log.info("process %d of %d (%s, %s)", rank, size, "nccl" if gpu else "gloo", chosen)
    return chosen


def process_device(device: str = "auto") -> torch.device:
    """The device this process trains on: ``device`` resolved, and under several processes
    on GPUs this process's own GPU with its index (DDP needs it)."""
    import torch

    from molgraph.runtime.system import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda" and world()[1] > 1:
        return torch.device("cuda", torch.cuda.current_device())
    return resolved


def shard(index: np.ndarray, rank: int, size: int) -> np.ndarray:
    """This process's share of a global batch ``index``: every ``size``-th molecule from
    ``rank``. Shares differ by at most one molecule and together hold each molecule once."""
    return index[rank::size]


def gather_rows(rows: np.ndarray, total: int) -> np.ndarray:
    """Every process's :func:`shard` of ``arange(total)`` predictions, ``[len(shard), T]``,
    put back in molecule order ``[total, T]`` on every process (one process: ``rows``)."""
    rank, size = world()
    if size == 1:
        return rows
    import torch.distributed as dist

    parts: list[np.ndarray | None] = [None] * size
    dist.all_gather_object(parts, rows)
    out = np.empty((total, *rows.shape[1:]), dtype=rows.dtype)
    for r, part in enumerate(parts):
        out[r::size] = part
    return out


def barrier() -> None:
    """Wait for every process (no-op for one)."""
    if world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when several processes train it (gradients
    averaged across processes at each step), else ``model`` itself. A frozen part's
    parameters take no gradient and are left out by DDP, so they need no special care."""
    if world()[1] == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def close() -> None:
    """Leave the process group at the end of a launched run, all processes together: one that
    left while rank 0 still scored and wrote aborted in Gloo's threads ("terminate called
    without an active exception")."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def sum_over_processes(values: list[float]) -> list[float]:
    """Each value summed over all processes (one process: ``values``)."""
    if world()[1] == 1:
        return values
    import torch.distributed as dist

    parts: list[list[float] | None] = [None] * world()[1]
    dist.all_gather_object(parts, values)
    return [sum(column) for column in zip(*parts)]


def relaunch(processes: int, argv: list[str], flag: str) -> int:
    """Run ``molgraph ARGV`` (without ``flag N``) on ``processes`` processes of this machine
    through torchrun (``torch.distributed.run --standalone``); its exit code."""
    import subprocess
    import sys

    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            kept.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", "-m", "molgraph", *kept]
    log.info("launching %d processes: %s", processes, " ".join(command[1:]))
    return subprocess.run(command, check=False).returncode
