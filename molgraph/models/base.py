"""``GraphModel``: encode → message passing → readout, with each stage callable on its own.

The stages are public so that an attribution method can take gradients with respect to the
encoded atom representations, the same for every model::

    atoms, bonds = model.encode(batch)          # [N, h], [E, h]; leaf tensors to attribute
    atoms.requires_grad_()
    out = model.from_encoded(atoms, bonds, batch)   # [B, out_channels]
    out[:, 0].sum().backward()                  # atoms.grad: [N, h]

``forward(batch)`` is ``from_encoded(*encode(batch), batch)``; the D-MPNN computes the same
function faster by folding its first layer into the encoders (its ``atom_states``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molgraph.models.config import ModelConfig
from molgraph.models.layers import POOLINGS, CategoricalEncoder, feed_forward

#: the smallest variance a mean-variance head predicts (scaled units), so the likelihood is finite
MIN_VARIANCE = 1e-6


def mve_variance(raw: Tensor) -> Tensor:
    """A mean-variance head's variances from its raw outputs ``[B, T]``: positive, smooth."""
    return nn.functional.softplus(raw) + MIN_VARIANCE


class GraphModel(nn.Module):
    """Encoders, a message-passing body producing atom states, a readout and a head.

    Subclasses implement :meth:`message_passing`; AttentiveFP also overrides :meth:`pool`.
    A batch (``molgraph.chem.graphs.GraphBatch`` or a PyG ``Batch``) has ``x`` ``[N, F_atom]``
    and ``edge_attr`` ``[E, F_bond]`` long categories, ``edge_index`` ``[2, E]``, ``batch``
    ``[N]`` and ``num_graphs`` B. Outputs are ``[B, out_channels]``: regression values or
    classification logits; with ``mve``, ``[B, 2 · out_channels]``: the values, then each
    target's variance before :func:`mve_variance`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_channels
        self.atom_encoder = CategoricalEncoder(config.atom_vocab, h)
        self.bond_encoder = CategoricalEncoder(config.bond_vocab, h)
        extra = len(config.molecule_mean)  # molecule-level features beside the graph vector
        # from the config, not the weights file: models saved before these features load as-is
        self.register_buffer("molecule_mean", torch.tensor(config.molecule_mean).float(),
                             persistent=False)
        self.register_buffer("molecule_std", torch.tensor(config.molecule_std).float(),
                             persistent=False)
        outputs = config.out_channels * (2 if config.mve else 1)  # mve: means, then variances
        self.head = feed_forward(h + extra, h, outputs, config.ffn_layers, config.dropout)

    def encode(self, data) -> tuple[Tensor, Tensor]:
        """Atom ``[N, h]`` and bond ``[E, h]`` representations of the categorical features."""
        return self.atom_encoder(data.x), self.bond_encoder(data.edge_attr)

    def message_passing(self, atoms: Tensor, bonds: Tensor, edge_index: Tensor,
                        batch: Tensor) -> Tensor:
        """Atom states ``[N, h]`` after message passing over the encoded graph."""
        raise NotImplementedError

    def pool(self, atoms: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        """Graph vectors ``[B, h]`` from atom states ``[N, h]``."""
        return POOLINGS[self.config.pooling](atoms, batch, num_graphs)

    def readout(self, atoms: Tensor, batch: Tensor, num_graphs: int,
                molecule: Tensor | None = None) -> Tensor:
        """Outputs ``[B, out_channels]`` from atom states ``[N, h]`` and, for a model with
        molecule-level features, their raw values ``[B, D]``."""
        return self.head(self.head_input(atoms, batch, num_graphs, molecule))

    def head_input(self, atoms: Tensor, batch: Tensor, num_graphs: int,
                   molecule: Tensor | None = None) -> Tensor:
        """What the head reads, ``[B, h + D]``: the pooled atom states ``[N, h]`` beside the
        molecule-level features ``[B, D]`` (standardised here; an undefined descriptor counts
        as the training mean, extremes are clipped at 10 SD)."""
        graph = self.pool(atoms, batch, num_graphs)
        if len(self.molecule_mean):
            if molecule is None:
                raise ValueError(f"this model reads molecule-level features "
                                 f"({', '.join(self.config.molecule_features)}) that the "
                                 "batch does not carry")
            z = (molecule.to(graph.dtype) - self.molecule_mean) / self.molecule_std
            graph = torch.cat([graph, torch.nan_to_num(z).clamp(-10, 10).to(graph.dtype)], 1)
        return graph

    def atom_states(self, data) -> Tensor:
        """Atom states ``[N, h]`` after message passing (what the readout pools)."""
        atoms, bonds = self.encode(data)
        return self.message_passing(atoms, bonds, data.edge_index, data.batch)

    def embed(self, data) -> Tensor:
        """Learned molecule vectors ``[B, h]``: the readout of the atom states before the head
        (and before any molecule-level features), Chemprop's fingerprint."""
        return self.pool(self.atom_states(data), data.batch, data.num_graphs)

    def from_encoded(self, atoms: Tensor, bonds: Tensor, data) -> Tensor:
        """Outputs ``[B, out_channels]`` from encoded atoms ``[N, h]`` and bonds ``[E, h]``
        (``data`` gives the connectivity: ``edge_index``, ``batch``, ``num_graphs``)."""
        states = self.message_passing(atoms, bonds, data.edge_index, data.batch)
        return self.readout(states, data.batch, data.num_graphs, getattr(data, "u", None))

    def head_features(self, data) -> Tensor:
        """What the head reads for a batch, ``[B, h + D]``: a frozen encoder's output, on
        which private training clips each molecule's gradient of the head alone."""
        return self.head_input(self.atom_states(data), data.batch, data.num_graphs,
                               getattr(data, "u", None))

    def forward(self, data) -> Tensor:
        return self.head(self.head_features(data))
