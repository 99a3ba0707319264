"""CPUs, torch threads, the device and seeding: one answer for every step.

torch is imported inside the functions that need it, so featurizing worker processes that only
ask for the CPU count never import it.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_threads() -> int:
    """Half the usable CPUs, at most 4. Small molecular graphs gain little from more intra-op
    threads, and when another process holds a core torch's spinning threads wait on it: on a
    2-core machine an epoch took 13x longer with 2 threads than with 1 while a core was busy.
    """
    return max(1, min(4, cpu_count() // 2))


def resolve_device(device: str = "auto") -> torch.device:
    """CUDA when present and asked for by ``auto``, else the named device."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so splits, initialisation and dropout repeat."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
