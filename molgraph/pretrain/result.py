"""What a pretraining run did (``molgraph.pretrain``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from molgraph.pretrain.config import PretrainConfig


@dataclass
class PretrainResult:
    """What a pretraining run did: its epochs (``history``: train and validation loss,
    seconds, molecules/s), the best epoch, the library and descriptors, the encoder's path."""

    config: PretrainConfig
    out: Path
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    n_molecules: int = 0
    descriptors: list[str] = field(default_factory=list)
    seconds: float = 0.0
