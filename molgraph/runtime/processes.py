"""Worker process pools whose processes die with the process that started them.

Pools use the ``forkserver`` start method (workers start fast, without this process's threads
and memory), so a worker's OS parent is the forkserver, not the main process, and
``prctl(PR_SET_PDEATHSIG)`` would fire only when the forkserver dies. Worse, multiprocessing
hands each worker a copy of the forkserver's "alive" pipe and of the resource tracker's pipe,
so after a SIGKILL of the main process neither of them sees end-of-file while a worker lives,
and workers block for ever on a task queue whose both ends they hold: everything (about 1 GB
for a screen) stays up until killed by hand.

So every pool's initializer starts a daemon thread in each worker that checks once a second
whether the main process is still alive, and still the same process (its start time, so a
reused pid does not count), and ends the worker when it is not. Once the workers are gone,
the forkserver and the resource tracker see their pipes close and exit on their own.
(``PR_SET_PDEATHSIG`` is not used: besides the forkserver parent, it fires when the parent
*thread* that started a worker ends, which would kill healthy workers.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

#: seconds between two checks that the main process is alive
WATCH_INTERVAL = 1.0

Identity = tuple[int, str | None]


def process_identity(pid: int) -> Identity | None:
    """``(pid, start time)`` of a live process (start time ``None`` where ``/proc`` is
    missing), or ``None`` when it has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rpartition(")")[2].split()  # the name may hold spaces
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (macOS): whether the pid exists at all
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return (pid, None)
    return None if fields[0] in ("Z", "X") else (pid, fields[19])


def watch_parent(parent: Identity, initializer: Callable[..., Any] | None = None,
                 initargs: tuple = ()) -> None:
    """Pool initializer: end this process (``os._exit(1)``) once ``parent`` is gone, then run
    ``initializer(*initargs)``."""
    if process_identity(parent[0]) != parent:  # gone before this worker started
        os._exit(1)

    def watch() -> None:
        while process_identity(parent[0]) == parent:
            time.sleep(WATCH_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="molgraph-watch-parent", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, initializer: Callable[..., Any] | None = None,
                 initargs: tuple = ()) -> ProcessPoolExecutor:
    """A ``forkserver`` process pool whose workers exit within about a second of this process,
    however it ends (even by SIGKILL)."""
    me = process_identity(os.getpid())
    return ProcessPoolExecutor(workers, mp_context=get_context("forkserver"),
                               initializer=watch_parent, initargs=(me, initializer, initargs))
