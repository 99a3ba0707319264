import numpy as np
import torch
from torch_geometric.data import Batch

from molgraph.chem.featurize import featurize_chunk
from molgraph.chem.graphs import MolGraphs

SMILES = ["CCO", "[Na+].[Cl-]", "c1ccccc1O", "C", "CC(=O)Nc1ccc(O)cc1"]


def test_batch_matches_pyg_collation():
    graphs = featurize_chunk(SMILES).graphs
    index = [4, 1, 3, 0]
    ours = graphs.batch(index)
    ref = Batch.from_data_list([graphs.data(i) for i in index])
    for name in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(getattr(ours, name), getattr(ref, name)), name
    assert ours.num_graphs == 4
    tensors = graphs.tensors(index, y=np.ones((4, 2)))  # the PyG-free form models read
    for name in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(getattr(tensors, name), getattr(ref, name)), name
    assert tensors.num_graphs == 4 and tensors.y.shape == (4, 2)


def test_take_concat_and_save_roundtrip(tmp_path):
    graphs = featurize_chunk(SMILES).graphs
    joined = MolGraphs.concat([graphs.take([0, 1]), graphs.take([2, 3, 4])])
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(graphs, name))
    graphs.save(tmp_path / "g.npz", rows=np.arange(5))
    loaded, extra = MolGraphs.load(tmp_path / "g.npz")
    np.testing.assert_array_equal(loaded.x, graphs.x)
    np.testing.assert_array_equal(extra["rows"], np.arange(5))
