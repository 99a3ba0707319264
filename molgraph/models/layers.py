"""Building blocks shared by the graph-level models: encoders, poolings and the head.

Plain torch (no PyG): importing PyG takes ~2 s, which every screening process with a D-MPNN
would otherwise pay. The poolings are tested equal to PyG's ``global_*_pool``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def scatter_sum(x: Tensor, index: Tensor, size: int) -> Tensor:
    """``[size, dim]`` sums of the rows of ``x`` grouped by ``index``: the per-graph sum pooling
    (PyG's ``global_add_pool``) and the D-MPNN's sum over incoming edges. ``index_add_`` is
    several times faster on the CPU than PyG's ``scatter``, which broadcasts the index over the
    feature dimension."""
    return x.new_zeros(size, x.size(1)).index_add_(0, index, x)


def mean_pool(x: Tensor, batch: Tensor, size: int) -> Tensor:
    """Per-graph mean of atom states (a graph without atoms gives zeros). The counts are a
    scatter, not ``bincount``, which ``torch.func.vmap`` (per-molecule gradients) lacks."""
    counts = scatter_sum(torch.ones_like(x[:, :1]), batch, size).clamp(min=1)
    return scatter_sum(x, batch, size) / counts


def max_pool(x: Tensor, batch: Tensor, size: int) -> Tensor:
    """Per-graph maximum of atom states (a graph without atoms gives zeros)."""
    index = batch.unsqueeze(1).expand_as(x)
    return x.new_zeros(size, x.size(1)).scatter_reduce_(0, index, x, "amax", include_self=False)


def norm_pool(x: Tensor, batch: Tensor, size: int) -> Tensor:
    """Sum of atom states / 100 (Chemprop v2's default "norm" readout): keeps molecular size,
    which mean pooling discards, at a scale the head trains well on."""
    return scatter_sum(x, batch, size) / 100.0


#: Keys: ``molgraph.models.config.POOLING_NAMES``.
POOLINGS = {"mean": mean_pool, "sum": scatter_sum, "max": max_pool, "norm": norm_pool}


class CategoricalEncoder(nn.Module):
    """Sum of one embedding per categorical column: the same as a linear layer on one-hot
    features, without materialising them.

    Shapes: input ``[N, n_columns]`` long, output ``[N, dim]``.
    """

    def __init__(self, vocab_sizes: Sequence[int], dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(sum(vocab_sizes), dim)
        offsets = torch.tensor([0, *vocab_sizes[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)

    def forward(self, x: Tensor, project: Tensor | None = None) -> Tensor:
        """The encoding, or ``encoding @ project.T`` computed on the (small) embedding table."""
        table = self.embedding.weight if project is None else self.embedding.weight @ project.T
        # embedding_bag sums without materialising the [N, n_columns, dim] gather
        return nn.functional.embedding_bag(x + self.offsets, table, mode="sum")


def feed_forward(in_dim: int, hidden: int, out_dim: int, layers: int, dropout: float) -> nn.Module:
    """MLP head: ``layers`` linear layers with ReLU and dropout between them."""
    mods: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers - 1):
        mods += [nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU()]
        dim = hidden
    mods += [nn.Dropout(dropout), nn.Linear(dim, out_dim)]
    return nn.Sequential(*mods)
