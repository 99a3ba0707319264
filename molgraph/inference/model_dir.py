"""Where a saved model's files are, and what identifies them, without importing torch.

A model directory holds ``config.json`` and ``weights.pt``; a training run's output directory
holds one as ``model/``, and either may be named.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHTS = "weights.pt"
CONFIG = "config.json"
FILES = (CONFIG, WEIGHTS)


def model_dir(directory: str | Path) -> Path:
    """The directory holding ``config.json`` and ``weights.pt``: ``directory`` itself, or its
    ``model/`` sub-directory (a training output directory is accepted too)."""
    directory = Path(directory)
    if not (directory / CONFIG).exists() and (directory / "model" / CONFIG).exists():
        directory = directory / "model"
    for name in FILES:
        if not (directory / name).exists():
            raise FileNotFoundError(f"{directory}: not a molgraph model directory (no {name})")
    return directory


def model_files(directory: str | Path) -> dict[str, bytes]:
    """A saved model's files as bytes (to send to worker processes or a cluster)."""
    directory = model_dir(directory)
    return {name: (directory / name).read_bytes() for name in FILES}


def model_digest(directory: str | Path) -> str:
    """A short hash of a model directory's weights and config, to recognise it on resume."""
    digest = hashlib.sha256()
    for data in model_files(directory).values():
        digest.update(data)
    return digest.hexdigest()[:16]
