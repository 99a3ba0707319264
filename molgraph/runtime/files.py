"""Files that appear whole or not at all, and JSON that other tools can read.

A result file is written under a temporary name beside its final one and renamed into place
(``os.replace`` is atomic on one file system), so a run killed at any moment leaves either the
old file or the new one, never half of one. JSON is strict: NaN (a metric that does not exist,
e.g. the ROC-AUC of a one-class split) is written as ``null``, numpy scalars as numbers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

TEMPORARY_PREFIX = ".tmp-"


def temporary_path(path: str | Path) -> Path:
    """Where ``path`` is written before it is renamed into place: ``a.npz`` → ``.tmp-a.npz``.
    The suffix is kept (``np.savez`` adds ``.npz`` otherwise), and the name matches no glob
    of finished files such as ``part-*.parquet``."""
    path = Path(path)
    return path.with_name(TEMPORARY_PREFIX + path.name)


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
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
