"""Graph-level models for molecules, chosen by name, all built by one constructor.

Every model is ``encoder → message passing → pooling → feed-forward head``. The encoder embeds
the categorical atom/bond features (a sum of per-feature embeddings: the same as a linear layer
on one-hot features, without materialising them). The models:

- ``gcn``: GCN (Kipf & Welling, 2017); ignores bond features (GCNConv has no ``edge_dim``).
- ``gat``: GAT (Veličković et al., 2018) with bond features through ``edge_dim``.
- ``gine``: GIN with edge features (Hu et al., 2020).
- ``attentivefp``: AttentiveFP (Xiong et al., 2020) with its own attentive readout.
- ``dmpnn``: directed message passing on bonds (Yang et al., 2019), Chemprop's model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

# PyG is imported by the models built on its layers, not here: importing it takes ~2 s, which
# every screening process with a D-MPNN (plain torch) would otherwise pay.


def scatter_sum(x: Tensor, index: Tensor, size: int) -> Tensor:
    """``[size, dim]`` sums of the rows of ``x`` grouped by ``index``: the per-graph sum pooling
    (PyG's ``global_add_pool``) and the D-MPNN's sum over incoming edges. ``index_add_`` is
    several times faster on the CPU than PyG's ``scatter``, which broadcasts the index over the
    feature dimension."""
    return x.new_zeros(size, x.size(1)).index_add_(0, index, x)


def mean_pool(x: Tensor, batch: Tensor, size: int) -> Tensor:
    """Per-graph mean of atom states (a graph without atoms gives zeros)."""
    counts = torch.bincount(batch, minlength=size).clamp_(min=1).unsqueeze(1)
    return scatter_sum(x, batch, size) / counts.to(x.dtype)


def max_pool(x: Tensor, batch: Tensor, size: int) -> Tensor:
    """Per-graph maximum of atom states (a graph without atoms gives zeros)."""
    index = batch.unsqueeze(1).expand_as(x)
    return x.new_zeros(size, x.size(1)).scatter_reduce_(0, index, x, "amax", include_self=False)


def norm_pool(x: Tensor, batch: Tensor, size: int) -> Tensor:
    """Sum of atom states / 100 (Chemprop v2's default "norm" readout): keeps molecular size,
    which mean pooling discards, at a scale the head trains well on."""
    return scatter_sum(x, batch, size) / 100.0


POOLINGS = {"mean": mean_pool, "sum": scatter_sum, "max": max_pool, "norm": norm_pool}


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model: saved as JSON beside its weights.

    Attributes:
        name: registry name (``gcn``, ``gat``, ``gine``, ``attentivefp``, ``dmpnn``).
        atom_vocab: vocabulary size of each atom feature column.
        bond_vocab: vocabulary size of each bond feature column.
        out_channels: number of tasks.
        hidden_channels: width of node/edge states and of the head.
        num_layers: message-passing steps.
        dropout: dropout in message passing and the head.
        pooling: ``mean``, ``sum``, ``norm`` (sum / 100) or ``max`` (AttentiveFP uses its own
            readout).
        heads: attention heads (GAT).
        ffn_layers: layers of the feed-forward head.
    """

    name: str
    atom_vocab: list[int]
    bond_vocab: list[int]
    out_channels: int
    hidden_channels: int = 300
    num_layers: int = 3
    dropout: float = 0.0
    pooling: str = "mean"
    heads: int = 4
    ffn_layers: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class CategoricalEncoder(nn.Module):
    """Sum of one embedding per categorical column.

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


class GraphModel(nn.Module):
    """Encoder, a message-passing body producing one vector per graph, and a head.

    Subclasses implement :meth:`embed_graphs` (D-MPNN overrides :meth:`forward` instead, to
    fold its first layer into the encoders). Forward shapes: a PyG ``Batch`` with ``x``
    ``[N, F_atom]``, ``edge_index`` ``[2, E]``, ``edge_attr`` ``[E, F_bond]``, ``batch`` ``[N]``
    → ``[num_graphs, out_channels]`` (regression values or classification logits).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_channels
        self.atom_encoder = CategoricalEncoder(config.atom_vocab, h)
        self.bond_encoder = CategoricalEncoder(config.bond_vocab, h)
        self.head = feed_forward(h, h, config.out_channels, config.ffn_layers, config.dropout)

    def embed_graphs(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor,
                     num_graphs: int) -> Tensor:
        raise NotImplementedError

    def pool(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return POOLINGS[self.config.pooling](x, batch, num_graphs)

    def forward(self, data) -> Tensor:
        x = self.atom_encoder(data.x)
        edge_attr = self.bond_encoder(data.edge_attr)
        graph = self.embed_graphs(x, data.edge_index, edge_attr, data.batch, data.num_graphs)
        return self.head(graph)


class GCNModel(GraphModel):
    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn.models import GCN

        super().__init__(config)
        h = config.hidden_channels
        self.gnn = GCN(h, h, config.num_layers, dropout=config.dropout, norm="batch_norm")

    def embed_graphs(self, x, edge_index, edge_attr, batch, num_graphs):
        return self.pool(self.gnn(x, edge_index, batch=batch), batch, num_graphs)


class GATModel(GraphModel):
    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn.models import GAT

        super().__init__(config)
        h = config.hidden_channels
        self.gnn = GAT(h, h, config.num_layers, dropout=config.dropout, heads=config.heads,
                       v2=True, edge_dim=h, norm="batch_norm")

    def embed_graphs(self, x, edge_index, edge_attr, batch, num_graphs):
        out = self.gnn(x, edge_index, edge_attr=edge_attr, batch=batch)
        return self.pool(out, batch, num_graphs)


class GINEModel(GraphModel):
    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn import GINEConv

        super().__init__(config)
        h = config.hidden_channels
        self.convs = nn.ModuleList(
            GINEConv(nn.Sequential(nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(),
                                   nn.Linear(h, h)), train_eps=True, edge_dim=h)
            for _ in range(config.num_layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(h) for _ in range(config.num_layers))
        self.dropout = nn.Dropout(config.dropout)

    def embed_graphs(self, x, edge_index, edge_attr, batch, num_graphs):
        for conv, norm in zip(self.convs, self.norms):
            x = x + self.dropout(torch.relu(norm(conv(x, edge_index, edge_attr))))
        return self.pool(x, batch, num_graphs)


class AttentiveFPModel(GraphModel):
    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn.models import AttentiveFP

        super().__init__(config)
        h = config.hidden_channels
        self.gnn = AttentiveFP(h, h, h, edge_dim=h, num_layers=config.num_layers,
                               num_timesteps=2, dropout=config.dropout)

    def embed_graphs(self, x, edge_index, edge_attr, batch, num_graphs):
        return self.gnn(x, edge_index, edge_attr, batch)


class DMPNNModel(GraphModel):
    """Directed MPNN: hidden states live on directed bonds and a message never returns along
    the bond it came from.

    With ``h_{vw}`` the state of edge ``v→w``: ``h⁰_{vw} = ReLU(W_i [x_v ‖ e_{vw}])``,
    ``hᵗ_{vw} = ReLU(h⁰_{vw} + W_h (Σ_{u→v} hᵗ⁻¹_{uv} − hᵗ⁻¹_{wv}))`` and atom states
    ``h_v = ReLU(W_o [x_v ‖ Σ_{u→v} h_{uv}])``. The reverse of edge ``e`` is ``e ^ 1`` (the
    featurizer stores both directions of a bond next to each other).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        h = config.hidden_channels
        self.w_i = nn.Linear(2 * h, h, bias=False)
        self.w_h = nn.Linear(h, h, bias=False)
        self.w_o = nn.Linear(2 * h, h)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, data) -> Tensor:
        # The encoders are linear (sums of embeddings), so W_i and the atom half of W_o fold
        # into the embedding tables: a gather replaces a matmul over every directed edge. The
        # same function as W_i [x_v ‖ e_vw], about twice as fast.
        h = self.config.hidden_channels
        src, dst = data.edge_index
        atom_in, atom_out = self.atom_encoder(
            data.x, project=torch.cat([self.w_i.weight[:, :h], self.w_o.weight[:, :h]])
        ).split(h, dim=1)
        bond_in = self.bond_encoder(data.edge_attr, project=self.w_i.weight[:, h:])
        h0 = torch.relu(atom_in.index_select(0, src) + bond_in)
        hidden = h0
        for _ in range(self.config.num_layers - 1):
            # index_select: several times faster on the CPU than indexing with a tensor
            incoming = scatter_sum(hidden, dst, data.x.size(0))
            # edge e and its reverse e ^ 1 sit side by side: flipping the pairs gives reverses
            reverse = hidden.view(-1, 2, h).flip(1).view(-1, h)
            message = incoming.index_select(0, src).sub_(reverse)
            hidden = torch.addmm(h0, message, self.w_h.weight.T)
            hidden = self.dropout(torch.relu_(hidden))
        incoming = scatter_sum(hidden, dst, data.x.size(0))
        atoms = atom_out + nn.functional.linear(incoming, self.w_o.weight[:, h:], self.w_o.bias)
        atoms = self.dropout(torch.relu(atoms))
        return self.head(self.pool(atoms, data.batch, data.num_graphs))


MODELS: dict[str, type[GraphModel]] = {
    "gcn": GCNModel,
    "gat": GATModel,
    "gine": GINEModel,
    "attentivefp": AttentiveFPModel,
    "dmpnn": DMPNNModel,
}


def build_model(config: ModelConfig | dict) -> GraphModel:
    """The model named by ``config.name``, built from a config or its plain-dict form."""
    if isinstance(config, dict):
        config = ModelConfig(**config)
    if config.name not in MODELS:
        raise ValueError(f"unknown model {config.name!r}; choose from {', '.join(MODELS)}")
    if config.pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {config.pooling!r}; choose from {', '.join(POOLINGS)}")
    return MODELS[config.name](config)
