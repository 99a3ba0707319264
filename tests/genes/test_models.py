"""Node models: one constructor for every architecture, sparse and dense inputs agree."""

from __future__ import annotations

import pytest
import torch

from molgraph.genes import MODELS, build_node_model

EDGE_INDEX = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # a 4-node path


def _adj_t(num_nodes=4):
    adj = torch.sparse_coo_tensor(EDGE_INDEX.flip(0), torch.ones(6), (num_nodes, num_nodes),
                                  check_invariants=False)
    return adj.coalesce().to_sparse_csr()


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_sparse_dense_agree(name):
    torch.manual_seed(0)
    model = build_node_model(name, in_channels=5, out_channels=3, hidden_channels=8, heads=2)
    model.eval()
    x = torch.rand(4, 5)
    dense = model(x, _adj_t())
    assert dense.shape == (4, 3)
    sparse = model(x.to_sparse_csr(), _adj_t())
    assert torch.allclose(dense, sparse, atol=1e-5)
    assert torch.allclose(model(x, EDGE_INDEX), dense, atol=1e-5)  # edge_index works too


def test_graph_models_use_neighbours_and_mlp_does_not():
    torch.manual_seed(0)
    x = torch.rand(4, 5)
    changed = x.clone()
    changed[3] += 1.0  # node 3 is two hops from node 1
    for name in MODELS:
        model = build_node_model(name, 5, 1, hidden_channels=8, heads=2).eval()
        moved = not torch.allclose(model(x, EDGE_INDEX)[1], model(changed, EDGE_INDEX)[1])
        assert moved == (name != "mlp"), name


def test_config_rebuilds_the_model():
    model = build_node_model("gat", 5, 2, hidden_channels=8, heads=4, num_layers=3)
    from molgraph.genes import NodeGNN

    twin = NodeGNN(**model.config)
    assert sum(p.numel() for p in twin.parameters()) == sum(p.numel() for p in model.parameters())


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'gin'"):
        build_node_model("gin", 5, 1)
    with pytest.raises(ValueError, match="divide by heads"):
        build_node_model("gat", 5, 1, hidden_channels=10, heads=4)


def test_input_dropout_only_while_training():
    torch.manual_seed(0)
    model = build_node_model("gcn", 5, 1, hidden_channels=8, input_dropout=0.5)
    x = torch.rand(4, 5).to_sparse_csr()
    model.eval()
    assert torch.equal(model(x, _adj_t()), model(x, _adj_t()))
    model.train()
    assert not torch.equal(model(x, _adj_t()), model(x, _adj_t()))


def test_sparse_gat_is_pyg_gatconv():
    """Same function and gradients as PyG's GATConv with the same weights (self-loops added,
    existing ones and duplicate-free edges in any order)."""
    from torch_geometric.nn import GATConv

    from molgraph.genes.gat import AttentionGraph, SparseGATConv

    torch.manual_seed(0)
    n = 30
    edge_index = torch.unique(torch.randint(0, n, (2, 200)), dim=1)
    edge_index = edge_index[:, torch.randperm(edge_index.shape[1])]  # self-loops included
    ours, pyg = SparseGATConv(6, 4, heads=3), GATConv(6, 4, heads=3)
    pyg.load_state_dict(ours.state_dict())
    x = torch.randn(n, 6, requires_grad=True)
    weights = torch.randn(n, 12)
    for adjacency in (edge_index, _sparse(edge_index, n)):
        out = ours(x, AttentionGraph.build(adjacency, n))
        ref = pyg(x, edge_index)
        assert torch.allclose(out, ref, atol=1e-5)
        grads = torch.autograd.grad((out * weights).sum(), [x, *ours.parameters()])
        ref_grads = torch.autograd.grad((ref * weights).sum(), [x, *pyg.parameters()])
        for got, want in zip(grads, ref_grads):
            assert torch.allclose(got, want, atol=1e-4)


def _sparse(edge_index, n):
    adj = torch.sparse_coo_tensor(edge_index.flip(0), torch.rand(edge_index.shape[1]), (n, n))
    return adj.coalesce().to_sparse_csr()
