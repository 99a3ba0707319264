"""Molecules in, graphs out: molecule files and named sources, RDKit → categorical graph
features, flat graph arrays (``MolGraphs``), drug-likeness descriptors.

No torch here except where a graph set is batched into tensors.
"""
