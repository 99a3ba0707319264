"""Files that appear whole or not at all, JSON that other tools can read, outputs checked
before the work, and locks that die with their process.

A result file is written under a temporary name beside its final one and renamed into place
(``os.replace`` is atomic on one file system), so a run killed at any moment leaves either the
old file or the new one, never half of one. JSON is strict: NaN (a metric that does not exist,
e.g. the ROC-AUC of a one-class split) is written as ``null``, numpy scalars as numbers.
An output that cannot be written is found by :func:`check_writable` before an hour of work,
and :func:`exclusive_lock` keeps two runs from writing the same files (``flock``: the kernel
releases it when its process ends, even by SIGKILL, so no stale lock blocks a resume).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

TEMPORARY_PREFIX = ".tmp-"


def temporary_path(path: str | Path) -> Path:
    """Where ``path`` is written before it is renamed into place: ``a.npz`` →
    ``.tmp-<pid>-a.npz``. The suffix is kept (``np.savez`` adds ``.npz`` otherwise), the name
    matches no glob of finished files such as ``part-*.parquet``, and two processes writing
    the same file (e.g. the featurization cache from two sweep workers) never share one."""
    path = Path(path)
    return path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{path.name}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    Example::

        with atomic_path(out / "part.parquet") as tmp:
            frame.to_parquet(tmp)
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        with _naming_write_errors(path, tmp):
            yield tmp
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _naming_write_errors(path: Path, tmp: Path) -> Iterator[None]:
    """Re-raise an ``OSError`` of writing ``path`` (through ``tmp``) naming ``path`` and what
    to do: a full disk says only "[Errno 28] No space left on device". An error that names
    another file (one the block read) is left as it is."""
    try:
        yield
    except OSError as err:
        if err.filename is not None and os.fspath(err.filename) not in (str(path), str(tmp)):
            raise
        full = err.errno in (errno.ENOSPC, errno.EDQUOT)
        message = (f"{path}: cannot write it: {err.strerror or err}; "
                   + ("free some space, or write it elsewhere" if full else "write it elsewhere"))
        named = type(err)(message) if type(err).__module__ == "builtins" else OSError(message)
        named.errno = err.errno  # the same class and errno, so callers can still tell them apart
        raise named from err


def jsonable(value: Any) -> Any:
    """``value`` with NaN/inf → ``None``, numpy scalars and arrays → Python, paths → strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """Write ``value`` as strict JSON (see :func:`jsonable`), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(value), indent=indent, allow_nan=False,
                                  default=str))
    return path


def check_writable(path: str | Path) -> Path:
    """Make sure a file can be written at ``path`` (creating its directory if needed) by
    writing and removing a probe file beside it; raise ``ValueError`` naming the path and the
    cause (a directory in the way, a parent that is a file, no permission, no space)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: cannot write the output there, it is a directory")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"{path}: cannot write the output, {blocking} is a file, not a "
                         "directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=TEMPORARY_PREFIX):
            pass
    except OSError as err:
        raise ValueError(f"{path}: cannot write the output in {path.parent}: "
                         f"{err.strerror or err}") from None
    if path.exists() and stat.S_ISCHR(path.stat().st_mode):
        _probe_device(path)
    return path


def _probe_device(path: Path) -> None:
    """Write nothing to the device ``path`` (``/dev/stdout``, ``/dev/full``): a device that
    refuses every write (``/dev/full``: no space) refuses this one too, before the work."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"")
        finally:
            os.close(fd)
    except OSError as err:
        raise ValueError(f"{path}: cannot write the output there: {err.strerror or err}; "
                         "write the output elsewhere") from None


class FileLocked(ValueError):
    """Another process holds the lock (its pid in ``pid``, when it wrote one)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path, self.pid = path, pid
        super().__init__(f"{path} is locked by "
                         + (f"process {pid}" if pid else "another process"))


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``path`` (created, with this process's pid in it) for
    the block, and remove it afterwards; raise :class:`FileLocked` at once if another process
    holds it. The kernel releases the lock when the process ends however it ends; a file left
    by a killed run is simply locked again. Linux and macOS (``fcntl``)."""
    import fcntl

    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise FileLocked(path, _lock_pid(path)) from None
        try:  # the holder before us may have removed the file: lock the one now there
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        path.unlink(missing_ok=True)  # while still locked, so no one locks a removed file
        os.close(fd)


def _lock_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def write_csv(frame, path: str | Path) -> Path:
    """Write the DataFrame ``frame`` as CSV to ``path``: through a temporary file replaced at
    the end (nothing half-written is left under the name), or straight to a device such as
    ``/dev/stdout``; a failure names the path and what to do."""
    path = Path(path)
    if path.exists() and stat.S_ISCHR(path.stat().st_mode):
        with _naming_write_errors(path, path):
            frame.to_csv(path, index=False)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path
