"""The graph-level models built on PyG layers: GCN, GAT, GINE and AttentiveFP.

PyG is imported in each constructor, not at module import (~2 s that D-MPNN screening
processes need not pay).

- ``gcn``: GCN (Kipf & Welling, 2017); ignores bond features (GCNConv has no ``edge_dim``).
- ``gat``: GATv2 (Brody et al., 2022) with bond features through ``edge_dim``.
- ``gine``: GIN with edge features (Hu et al., 2020).
- ``attentivefp``: AttentiveFP (Xiong et al., 2020) with its own attentive readout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from molgraph.models.base import GraphModel
from molgraph.models.config import ModelConfig
from molgraph.models.layers import scatter_sum


class GCNModel(GraphModel):
    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn.models import GCN

        super().__init__(config)
        h = config.hidden_channels
        self.gnn = GCN(h, h, config.num_layers, dropout=config.dropout, norm="batch_norm")

    def message_passing(self, atoms, bonds, edge_index, batch):
        return self.gnn(atoms, edge_index, batch=batch)


class GATModel(GraphModel):
    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn.models import GAT

        super().__init__(config)
        h = config.hidden_channels
        self.gnn = GAT(h, h, config.num_layers, dropout=config.dropout, heads=config.heads,
                       v2=True, edge_dim=h, norm="batch_norm")

    def message_passing(self, atoms, bonds, edge_index, batch):
        return self.gnn(atoms, edge_index, edge_attr=bonds, batch=batch)


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

    def message_passing(self, atoms, bonds, edge_index, batch):
        x = atoms
        for conv, norm in zip(self.convs, self.norms):
            x = x + self.dropout(torch.relu(norm(conv(x, edge_index, bonds))))
        return x


class AttentiveFPModel(GraphModel):
    """PyG's ``AttentiveFP`` run in two stages: its atom layers (message passing) and its
    GRU-attention over the whole molecule (the readout), the same computation as its
    ``forward``."""

    def __init__(self, config: ModelConfig) -> None:
        from torch_geometric.nn.models import AttentiveFP

        super().__init__(config)
        h = config.hidden_channels
        self.gnn = AttentiveFP(h, h, h, edge_dim=h, num_layers=config.num_layers,
                               num_timesteps=2, dropout=config.dropout)

    def message_passing(self, atoms, bonds, edge_index, batch):
        gnn = self.gnn
        x = F.leaky_relu_(gnn.lin1(atoms))
        h = F.elu_(gnn.gate_conv(x, edge_index, bonds))
        h = F.dropout(h, p=gnn.dropout, training=self.training)
        x = gnn.gru(h, x).relu_()
        for conv, gru in zip(gnn.atom_convs, gnn.atom_grus):
            h = F.dropout(F.elu(conv(x, edge_index)), p=gnn.dropout, training=self.training)
            x = gru(h, x).relu()
        return x

    def pool(self, atoms: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        gnn = self.gnn
        atom_to_graph = torch.stack([torch.arange(batch.size(0), device=batch.device), batch])
        out = scatter_sum(atoms, batch, num_graphs).relu_()
        for _ in range(gnn.num_timesteps):
            h = F.elu_(gnn.mol_conv((atoms, out), atom_to_graph))
            h = F.dropout(h, p=gnn.dropout, training=self.training)
            out = gnn.mol_gru(h, out).relu_()
        return gnn.lin2(F.dropout(out, p=gnn.dropout, training=self.training))
