"""Where a saved model's files are, and what identifies them, without importing torch.

A model directory holds ``config.json`` and ``weights.pt``; a training run's output directory
holds one as ``model/``, and either may be named. An ensemble (``molgraph train
--ensemble-size N``) holds its members as ``model/members/0/``, ``model/members/1/``, ...
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHTS = "weights.pt"
CONFIG = "config.json"
FILES = (CONFIG, WEIGHTS)
#: a blend's SVM (``molgraph.inference.blend``) and the fingerprints of the molecules the model
#: learned from (``molgraph.inference.domain``), the files a model may have beside them
SVM_FILE = "svm.npz"
DOMAIN_FILE = "domain.npz"
#: the conformal calibration's scores (``molgraph.inference.conformal``)
CONFORMAL_FILE = "conformal.npz"
OPTIONAL_FILES = (SVM_FILE, DOMAIN_FILE, CONFORMAL_FILE)
MEMBERS = "members"


def member_dirs(directory: str | Path) -> list[Path]:
    """The members of the ensemble saved at ``directory`` (or its ``model/``), in order; a
    single model's directory as given (checked when it is loaded)."""
    directory = Path(directory)
    for base in (directory, directory / "model"):
        members = base / MEMBERS
        if members.is_dir() and not (base / CONFIG).exists():
            found = [p for p in members.iterdir() if p.name.isdigit() and (p / CONFIG).exists()]
            if found:
                return sorted(found, key=lambda p: int(p.name))
    return [directory]


def model_dir(directory: str | Path) -> Path:
    """The directory holding ``config.json`` and ``weights.pt``: ``directory`` itself, or its
    ``model/`` sub-directory (a training output directory is accepted too)."""
    directory = Path(directory)
    if not (directory / CONFIG).exists() and (directory / "model" / CONFIG).exists():
        directory = directory / "model"
    members = member_dirs(directory)
    if len(members) > 1:
        raise ValueError(f"{directory}: an ensemble of {len(members)} models, which this "
                         f"step takes one at a time: name one member ({members[0]})")
    for name in FILES:
        if not (directory / name).exists():
            raise FileNotFoundError(f"{directory}: not a molgraph model directory (no {name})")
    return directory


def model_root(directory: str | Path) -> Path:
    """The saved model's own directory: the one holding ``config.json`` and ``weights.pt``, or
    an ensemble's (holding ``members/``)."""
    members = member_dirs(directory)
    return members[0].parent.parent if len(members) > 1 else model_dir(directory)


def model_files(directory: str | Path) -> dict[str, bytes]:
    """A saved model's files as bytes (to send to worker processes or a cluster)."""
    directory = model_dir(directory)
    names = [*FILES, *(n for n in OPTIONAL_FILES if (directory / n).exists())]
    return {name: (directory / name).read_bytes() for name in names}


def model_digest(directory: str | Path) -> str:
    """A short hash of a model directory's weights and config, to recognise it on resume."""
    digest = hashlib.sha256()
    for data in model_files(directory).values():
        digest.update(data)
    return digest.hexdigest()[:16]
