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
#: Molecule-level features (``molgraph.chem.molfeatures.KINDS``).
MOLECULE_FEATURES = ("morgan", "rdkit2d")


@dataclass
class ModelConfig:
    """Model settings. ``atom_vocab``, ``bond_vocab`` and ``out_channels`` come from the
    featurizer and the data, not from the user.

    Attributes:
        name: model: dmpnn (Chemprop's directed MPNN), gcn, gat (GATv2), gine, attentivefp.
        hidden_channels: width of atom/bond states and of the head.
        num_layers: message-passing steps.
        dropout: dropout in message passing and the head.
        mc_samples: MC dropout (Gal & Ghahramani 2016): prediction keeps the dropout layers
            on and averages this many passes, each with its own fixed seed; their spread is
            the uncertainty, as an ensemble's. 0: off; needs dropout above 0.
        mve: mean-variance estimation (Nix & Weigend 1994; MolPAL's mve): the head also
            predicts a variance per target, trained with the Gaussian negative
            log-likelihood; its square root is the uncertainty (with an ensemble or MC
            dropout, added to their spread's variance). Regression only.
        pooling: graph readout: mean, sum, max or norm (sum / 100, the readout Chemprop uses
            by default, which keeps molecular size; better on ESOL, worse on FreeSolv and
            BACE). AttentiveFP has its own attentive readout.
        heads: attention heads (gat).
        ffn_layers: layers of the feed-forward head.
        atom_vocab: vocabulary size of each atom feature column.
        bond_vocab: vocabulary size of each bond feature column.
        out_channels: number of tasks (the head has twice as many outputs with mve: the
            means, then the variances before their softplus).
        molecule_features: molecule-level features concatenated to the graph vector before
            the head, as Chemprop's featurizers: morgan (ECFP4 bits, 2048) and/or rdkit2d
            (RDKit's ~210 2D descriptors, standardised on the training split); a search
            space names a choice as one string: none, morgan, rdkit2d, morgan+rdkit2d.
        molecule_mean: per feature column, the training mean subtracted (set from the data).
        molecule_std: per feature column, the training standard deviation divided by.
    """

    name: str = field(default="dmpnn", metadata={"choices": MODEL_NAMES})
    hidden_channels: int = 300
    num_layers: int = 3
    dropout: float = 0.0
    mc_samples: int = 0
    mve: bool = False
    pooling: str = field(default="mean", metadata={"choices": POOLING_NAMES})
    heads: int = 4
    ffn_layers: int = 2
    atom_vocab: list[int] = field(default_factory=lambda: list(ATOM_FEATURES.values()),
                                  metadata={"derived": True})
    bond_vocab: list[int] = field(default_factory=lambda: list(BOND_FEATURES.values()),
                                  metadata={"derived": True})
    out_channels: int = field(default=1, metadata={"derived": True})
    molecule_features: list[str] = field(default_factory=list,
                                         metadata={"choices": MOLECULE_FEATURES})
    molecule_mean: list[float] = field(default_factory=list, metadata={"derived": True})
    molecule_std: list[float] = field(default_factory=list, metadata={"derived": True})

    def __post_init__(self) -> None:
        if isinstance(self.molecule_features, str):  # a sweep's choice: "morgan+rdkit2d", "none"
            self.molecule_features = [k for k in self.molecule_features.split("+")
                                      if k not in ("", "none")]
        self.molecule_features = list(self.molecule_features)
        unknown = [k for k in self.molecule_features if k not in MOLECULE_FEATURES]
        if unknown or len(set(self.molecule_features)) < len(self.molecule_features):
            raise ValueError(f"molecule features must be distinct names from "
                             f"{', '.join(MOLECULE_FEATURES)}, not {self.molecule_features}")
        if len(self.molecule_mean) != len(self.molecule_std):
            raise ValueError("molecule_mean and molecule_std must have one value per column")
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
        if self.mc_samples < 0 or self.mc_samples == 1:
            raise ValueError(f"mc_samples (MC dropout passes) must be 0 (off) or at least 2, "
                             f"not {self.mc_samples}")
        if self.mc_samples and not self.dropout:
            raise ValueError("MC dropout (mc_samples) needs dropout above 0: give --dropout "
                             "(e.g. 0.1)")
        if self.name == "gat" and self.hidden_channels % self.heads:  # each head gets a share
            raise ValueError(f"gat: hidden_channels ({self.hidden_channels}) must divide by "
                             f"heads ({self.heads})")

    def to_dict(self) -> dict:
        return asdict(self)
