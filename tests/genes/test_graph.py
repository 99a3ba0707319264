"""GeneGraph: de-duplication, self-loops, largest component, networkx round-trip."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from molgraph.genes import EdgeList, GeneGraph


def _edges(*pairs, nodes=()):
    edges = EdgeList(nodes=list(nodes))
    for pair in pairs:
        edges.add(*pair)
    return edges


def test_undirected_duplicates_merge_keeping_the_largest_weight():
    graph = GeneGraph.from_edges(_edges(("A", "B", 0.3), ("B", "A", 0.9), ("A", "B", 0.5),
                                        ("B", "C", 1.0)))
    assert graph.genes == ["A", "B", "C"]
    assert graph.num_edges == 2 and graph.report["duplicate_edges_merged"] == 2
    assert graph.data.edge_index.shape == (2, 4)  # both directions stored
    assert graph.to_networkx()["A"]["B"]["weight"] == pytest.approx(0.9)
    assert graph.data.is_undirected()


def test_self_loops_dropped_or_kept():
    edges = _edges(("A", "A"), ("A", "B"), ("A", "A"))
    dropped = GeneGraph.from_edges(edges)
    assert dropped.report["self_loops_dropped"] == 2 and dropped.num_edges == 1
    kept = GeneGraph.from_edges(edges, self_loops="keep")
    assert kept.num_edges == 2 and kept.data.edge_index.shape == (2, 3)
    assert kept.degree().tolist() == [1, 1]  # a self-loop is not a neighbour
    with pytest.raises(ValueError, match="self_loops"):
        GeneGraph.from_edges(edges, self_loops="maybe")


def test_largest_component_reports_dropped_nodes():
    edges = _edges(("A", "B"), ("B", "C"), ("D", "E"), nodes=["Z"])
    graph = GeneGraph.from_edges(edges, largest_component=True)
    assert sorted(graph.genes) == ["A", "B", "C"]
    assert graph.report["nodes_outside_largest_component"] == 3
    assert graph.num_edges == 2


def test_networkx_round_trip(tiny_graph):
    nxg = tiny_graph.to_networkx()
    assert nxg.number_of_nodes() == tiny_graph.num_genes == 43
    assert nxg.number_of_edges() == tiny_graph.num_edges
    back = GeneGraph.from_networkx(nxg)
    assert back.genes == tiny_graph.genes
    assert torch.equal(back.data.edge_index, tiny_graph.data.edge_index)
    assert torch.allclose(back.data.edge_weight, tiny_graph.data.edge_weight)
    assert nx.utils.graphs_equal(back.to_networkx(), nxg)


def test_from_networkx_directed_multigraph_with_name_attribute():
    g = nx.MultiDiGraph()
    g.add_node(0, name="TP53")
    g.add_node(1, name="MDM2")
    g.add_edge(0, 1, weight=0.5)
    g.add_edge(1, 0, weight=0.7)
    graph = GeneGraph.from_networkx(g, name="name")
    assert graph.genes == ["TP53", "MDM2"] and graph.num_edges == 1
    assert graph.undirected_edges()[2].tolist() == pytest.approx([0.7])


def test_gene_ids_are_not_an_index_attribute(tiny_graph):
    keys = set(tiny_graph.data.keys())
    assert not any("index" in key and key != "edge_index" for key in keys)
    batch = Batch.from_data_list([tiny_graph.data, tiny_graph.data])
    assert batch.num_nodes == 2 * tiny_graph.num_genes
    positions = [tiny_graph.index[g] for g in tiny_graph.genes]
    assert np.array_equal(positions, np.arange(tiny_graph.num_genes))
