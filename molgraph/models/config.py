"""``ModelConfig``: everything needed to rebuild a graph-level model, saved beside its weights.

No torch here: the CLI builds its flags from these fields, and a sweep's search space names
them (``model.hidden_channels``) without loading a network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from molgraph.chem.vocabulary import ATOM_FEATURES, BOND_FEATURES

#: Registry names (``molgraph.models.registry.MODELS`` maps them to classes).
MODEL_NAMES = ("dmpnn", "gcn", "gat", "gine", "attentivefp")
#: Graph readouts (``molgraph.models.layers.POOLINGS`` maps them to functions).
POOLING_NAMES = ("mean", "sum", "norm", "max")


@dataclass
class ModelConfig:
    """Model settings. ``atom_vocab``, ``bond_vocab`` and ``out_channels`` come from the
    featurizer and the data, not from the user.

    Attributes:
        name: model: dmpnn (Chemprop's directed MPNN), gcn, gat (GATv2), gine, attentivefp.
        hidden_channels: width of atom/bond states and of the head.
        num_layers: message-passing steps.
        dropout: dropout in message passing and the head.
        pooling: graph readout: mean, sum, max or norm (sum / 100, Chemprop's default: keeps
            molecular size; better on ESOL, worse on FreeSolv and BACE). AttentiveFP has its
            own attentive readout.
        heads: attention heads (gat).
        ffn_layers: layers of the feed-forward head.
        atom_vocab: vocabulary size of each atom feature column.
        bond_vocab: vocabulary size of each bond feature column.
        out_channels: number of tasks.
    """

    name: str = field(default="dmpnn", metadata={"choices": MODEL_NAMES})
    hidden_channels: int = 300
    num_layers: int = 3
    dropout: float = 0.0
    pooling: str = field(default="mean", metadata={"choices": POOLING_NAMES})
    heads: int = 4
    ffn_layers: int = 2
    atom_vocab: list[int] = field(default_factory=lambda: list(ATOM_FEATURES.values()),
                                  metadata={"derived": True})
    bond_vocab: list[int] = field(default_factory=lambda: list(BOND_FEATURES.values()),
                                  metadata={"derived": True})
    out_channels: int = field(default=1, metadata={"derived": True})

    def __post_init__(self) -> None:
        if self.name not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.name!r}; choose from {', '.join(MODEL_NAMES)}")
        if self.pooling not in POOLING_NAMES:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose from "
                             f"{', '.join(POOLING_NAMES)}")
        for name in ("hidden_channels", "num_layers", "heads", "ffn_layers", "out_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"model {name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"model dropout must be in [0, 1), not {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self)
