"""Node-classification models sharing one constructor, chosen by name.

``build_node_model("gcn" | "gat" | "sage" | "mlp", in_channels, out_channels, ...)``: an input
projection, ``num_layers`` message-passing layers with residual connections and layer norm, and a
linear head. The residual path keeps a gene's own features from being averaged away by its many
neighbours (hub genes in PPI networks have hundreds). ``mlp`` swaps each graph layer for a
linear one: the same network without the graph, a fair non-graph baseline.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, SAGEConv

from molgraph.genes.config import MODELS
from molgraph.genes.gat import AttentionGraph, SparseGATConv


class NodeGNN(nn.Module):
    """Residual GCN / GAT / GraphSAGE (or MLP) for node classification.

    GCN: Kipf & Welling, ICLR 2017 (uses edge weights). GAT: Veličković et al., ICLR 2018
    (``heads`` attention heads, concatenated; :mod:`molgraph.genes.gat`, no edge weights).
    GraphSAGE: Hamilton et al., NeurIPS 2017 (mean aggregation). Each layer computes
    ``h ← h + dropout(relu(norm(conv(h))))``.

    Args:
        in_channels: input features per node.
        out_channels: one logit per task (binary, multi-label) or per class (multi-class).
        hidden_channels: width of every hidden layer (default 64).
        num_layers: message-passing layers (default 2).
        dropout: dropout probability before each layer and the head (default 0.5).
        conv: ``"gcn"``, ``"gat"``, ``"sage"`` or ``"mlp"``.
        heads: GAT attention heads (``hidden_channels`` must divide by it; default 4).
        residual: add each layer's input to its output (default True).
        input_dropout: dropout on the input features, sparse ones included (default 0).
        label_channels: width of the label features added at the input projection (the label
            trick, :mod:`molgraph.genes.label_use`; default 0, none).

    Shapes:
        x: ``[num_nodes, in_channels]``, dense or ``torch.sparse_csr``;
        adj_t: ``[num_nodes, num_nodes]`` sparse, row = target node (or ``edge_index``);
        labels_in: ``[num_nodes, label_channels]`` (with ``label_channels``);
        output: ``[num_nodes, out_channels]`` logits.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 2,
        dropout: float = 0.5,
        conv: str = "gcn",
        heads: int = 4,
        residual: bool = True,
        input_dropout: float = 0.0,
        label_channels: int = 0,
    ) -> None:
        super().__init__()
        if conv not in MODELS:
            raise ValueError(f"unknown model {conv!r}; choose from {', '.join(MODELS)}")
        if conv == "gat" and hidden_channels % heads:
            raise ValueError(f"hidden_channels ({hidden_channels}) must divide by heads ({heads})")
        self.config = dict(in_channels=in_channels, out_channels=out_channels,
                           hidden_channels=hidden_channels, num_layers=num_layers,
                           dropout=dropout, conv=conv, heads=heads, residual=residual,
                           input_dropout=input_dropout, label_channels=label_channels)
        self.conv, self.dropout, self.residual = conv, dropout, residual
        self.input_dropout = input_dropout
        self.input = nn.Linear(in_channels, hidden_channels)
        self.label_input = (nn.Linear(label_channels, hidden_channels, bias=False)
                            if label_channels else None)
        self.layers = nn.ModuleList(
            [self._layer(conv, hidden_channels, heads) for _ in range(num_layers)]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(hidden_channels) for _ in range(num_layers)])
        self.head = nn.Linear(hidden_channels, out_channels)
        self._attention: tuple[Tensor, AttentionGraph] | None = None  # GAT's graph, by adj_t

    @staticmethod
    def _layer(conv: str, hidden: int, heads: int) -> nn.Module:
        if conv == "gcn":  # transductive: one graph per model, so its normalisation is cached
            return GCNConv(hidden, hidden, cached=True)
        if conv == "gat":
            return SparseGATConv(hidden, hidden // heads, heads=heads)
        if conv == "sage":
            return SAGEConv(hidden, hidden)
        return nn.Linear(hidden, hidden)

    def reset_parameters(self) -> None:
        """Fresh weights; also clears GCN's cached normalised adjacency."""
        extra = [self.label_input] if self.label_input is not None else []
        for module in [self.input, *extra, *self.layers, *self.norms, self.head]:
            module.reset_parameters()

    def clear_cache(self) -> None:
        """Forget GCN's cached normalised adjacency and GAT's attention graph (before using
        another graph or device)."""
        self._attention = None
        for layer in self.layers:
            if isinstance(layer, GCNConv):
                layer._cached_adj_t = layer._cached_edge_index = None

    def _graph(self, adj_t: Tensor, num_nodes: int) -> Tensor | AttentionGraph:
        """What the layers take: ``adj_t`` itself, or for GAT its attention graph (built once
        per adjacency, as GCN caches its normalisation)."""
        if self.conv != "gat":
            return adj_t
        if self._attention is None or self._attention[0] is not adj_t:
            self._attention = (adj_t, AttentionGraph.build(adj_t, num_nodes))
        return self._attention[1]

    def forward(self, x: Tensor, adj_t: Tensor | None = None,
                labels_in: Tensor | None = None) -> Tensor:
        if x.layout == torch.sparse_coo:
            x = x.to_sparse_csr()
        if x.layout == torch.sparse_csr:
            if self.training and self.input_dropout > 0:
                values = F.dropout(x.values(), self.input_dropout, True)
                x = torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)
            h = torch.sparse.mm(x, self.input.weight.t()) + self.input.bias
        else:
            h = self.input(F.dropout(x, self.input_dropout, self.training))
        if self.label_input is not None:
            if labels_in is None:
                raise ValueError("this model takes the training labels as input (labels_in)")
            h = h + self.label_input(labels_in)
        h = F.relu(h)
        graph = None if self.conv == "mlp" else self._graph(adj_t, h.shape[0])
        for layer, norm in zip(self.layers, self.norms):
            z = F.dropout(h, self.dropout, self.training)
            z = layer(z) if graph is None else layer(z, graph)
            z = F.relu(norm(z))
            h = h + z if self.residual else z
        return self.head(F.dropout(h, self.dropout, self.training))


def build_node_model(name: str, in_channels: int, out_channels: int, **options) -> NodeGNN:
    """Model by name (``MODELS``); ``options`` are :class:`NodeGNN` keyword arguments."""
    return NodeGNN(in_channels, out_channels, conv=name, **options)
