"""Gene analysis: gene-interaction networks, node features and labels, node-level GNNs.

Names load on first use, so ``import molgraph.genes`` does not import torch::

    from molgraph.genes import read_network, GeneDataConfig, GeneRunConfig, train_genes
"""

from __future__ import annotations

from molgraph.runtime.lazy import lazy_exports

_PUBLIC = {
    "GeneGraph": "molgraph.genes.graph",
    "EdgeList": "molgraph.genes.graph",
    "read_network": "molgraph.genes.parsers",
    "FORMATS": "molgraph.genes.parsers",
    "read_string": "molgraph.genes.parsers.ppi",
    "read_biogrid": "molgraph.genes.parsers.ppi",
    "read_mitab": "molgraph.genes.parsers.ppi",
    "read_sif": "molgraph.genes.parsers.plain",
    "read_edgelist": "molgraph.genes.parsers.plain",
    "IdMap": "molgraph.genes.idmap",
    "MatchReport": "molgraph.genes.idmap",
    "match_genes": "molgraph.genes.idmap",
    "FeatureBlock": "molgraph.genes.features",
    "read_feature_table": "molgraph.genes.features",
    "structural_features": "molgraph.genes.features",
    "stack_features": "molgraph.genes.features",
    "read_go_annotations": "molgraph.genes.go",
    "go_features": "molgraph.genes.go",
    "NodeLabels": "molgraph.genes.labels",
    "read_label_table": "molgraph.genes.labels",
    "labels_from_lists": "molgraph.genes.labels",
    "Fold": "molgraph.genes.splits",
    "kfold_splits": "molgraph.genes.splits",
    "read_split_assignments": "molgraph.genes.splits",
    "read_groups": "molgraph.genes.splits",
    "NodeGNN": "molgraph.genes.models",
    "build_node_model": "molgraph.genes.models",
    "MODELS": "molgraph.genes.config",
    "GeneDataConfig": "molgraph.genes.config",
    "GeneModelConfig": "molgraph.genes.config",
    "GeneTrainConfig": "molgraph.genes.config",
    "GeneRunConfig": "molgraph.genes.config",
    "cross_validate": "molgraph.genes.train",
    "fit_node_model": "molgraph.genes.train",
    "TrainedGeneModel": "molgraph.genes.saved",
    "load_gene_model": "molgraph.genes.saved",
    "load_gene_data": "molgraph.genes.workflow",
    "train_genes": "molgraph.genes.workflow",
    "rank_genes": "molgraph.genes.workflow",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _PUBLIC)
