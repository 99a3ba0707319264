"""The real PPNet, driver lists, DepMap labels and GO file parse as documented (skip if absent)."""

from __future__ import annotations

import numpy as np

from molgraph.genes import (
    go_features,
    labels_from_lists,
    read_label_table,
    read_network,
    read_split_assignments,
)


def test_ppnet_driver_and_depmap_labels(shared_genes, tmp_path):
    graph = read_network(shared_genes / "ppnet" / "PPNet.txt.gz", "edgelist")
    assert graph.num_genes == 11395 and graph.num_edges == 285843
    drivers = labels_from_lists(graph, shared_genes / "ppnet" / "796_drivers.txt",
                                shared_genes / "ppnet" / "2187_nondrivers.txt")
    assert int(np.nansum(drivers.y)) == 716 and drivers.labelled.sum() == 716 + 1026
    depmap = shared_genes / "depmap_essential"
    essential = read_label_table(depmap / "depmap_labels.csv.gz", graph,
                                 gene_column="gene_symbol", label_columns=["label"])
    assert essential.labelled.sum() == 8300
    # the split file uses HGNC keys: map them to symbols through the label file's columns
    from molgraph.genes import IdMap

    id_map = IdMap.from_table(depmap / "depmap_labels.csv.gz", to="gene_symbol",
                              columns=["gene_key"])
    folds, report = read_split_assignments(depmap / "depmap_split_assignments.csv.gz", graph,
                                           essential, id_map=id_map)
    assert len(folds) == 5 and report.notes["labelled_without_assignment"] == 0
    assert sum(len(f.test) for f in folds) == 8300


def test_go_file(shared_genes):
    graph = read_network(shared_genes / "ppnet" / "PPNet.txt.gz", "edgelist")
    block = go_features(graph, shared_genes / "go" / "gene2go_orgHsEgDb_3.16.0.tsv.gz",
                        min_genes=20, max_fraction=0.05)
    assert 1000 < block.values.shape[1] < 5000
    assert block.match.matched > 11000
