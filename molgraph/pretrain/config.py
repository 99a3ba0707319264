"""``PretrainConfig``: the library, the descriptor targets, the encoder and its optimisation.

Saved as ``pretrain_config.json`` in the output directory; a run started again with the same
settings (more epochs allowed) continues from its last checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molgraph.models.config import ModelConfig
from molgraph.runtime.configs import from_dict, to_dict, with_values
from molgraph.runtime.files import write_json
from molgraph.training.config import TrainConfig

CONFIG_FILE = "pretrain_config.json"


@dataclass
class PretrainConfig:
    """A pretraining run.

    Attributes:
        data: the unlabelled library: a molecule file or a named set (``moses:train``, the
            1.58M-molecule MOSES training set of the molsets wheel).
        smiles_column: its SMILES column (default: found).
        max_molecules: a random subset of this many molecules (0: all); size it to the
            machine: RDKit's descriptors cost ~5 ms a molecule on one core.
        val_fraction: molecules held out to report the validation loss each epoch.
        mask_fraction: the share of descriptor targets hidden from the loss at each step
            (CheMeleon's 15 %), a regulariser: the encoder cannot rely on any one of them.
        seed: fixes the subset, the held-out molecules, the masks and the initialisation.
        model: the encoder (its head, one output per descriptor, is not kept).
        train: epochs, batch size, learning rate, threads and device (patience unused: every
            epoch runs, and the encoder of the best validation epoch is kept).
    """

    data: str = "moses:train"
    smiles_column: str | None = None
    max_molecules: int = 100_000
    val_fraction: float = 0.02
    mask_fraction: float = 0.15
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=10, batch_size=64,
                                                                   warmup_epochs=1))

    def __post_init__(self) -> None:
        if self.max_molecules < 0:
            raise ValueError(f"max_molecules must be 0 (all) or positive, not "
                             f"{self.max_molecules}")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), not {self.val_fraction}")
        if not 0 <= self.mask_fraction < 1:
            raise ValueError(f"mask_fraction must be in [0, 1), not {self.mask_fraction}")
        if self.model.molecule_features or self.model.mve or self.model.mc_samples:
            raise ValueError("an encoder is pretrained on the graph alone: leave out molecule "
                             "features, --mve and --mc-samples")
        if self.train.dp_epsilon is not None or self.train.init_from:
            raise ValueError("pretraining takes neither --dp-epsilon nor --init-from")

    def with_values(self, values: dict[str, Any]) -> PretrainConfig:
        return with_values(self, values)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def same_run(self, other: PretrainConfig) -> bool:
        """Whether ``other`` continues this run: every setting equal but the epochs (and
        where it runs: threads, device)."""
        def key(c: PretrainConfig) -> dict:
            d = c.to_dict()
            for name in ("epochs", "threads", "device"):
                d["train"].pop(name, None)
            return d
        return key(self) == key(other)

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> PretrainConfig:
        return from_dict(cls, json.loads(Path(path).read_text()))
