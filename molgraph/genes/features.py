"""Node features: numeric tables (omics), structural features of the network, and stacking.

Every block is aligned to ``graph.genes``. Genes a table does not cover get zeros plus a
``missing:<block>`` indicator column, so the model can tell "no data" from "average value".
GO multi-hot features live in :mod:`molgraph.genes.go`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp

from molgraph.genes._io import PathLike, malformed, numeric_column, read_table
from molgraph.genes.graph import GeneGraph
from molgraph.genes.idmap import IdMap, MatchReport, match_genes

log = logging.getLogger(__name__)

STRUCTURAL = ("degree", "weighted_degree", "clustering", "core_number", "pagerank")


@dataclass
class FeatureBlock:
    """One group of node features, rows aligned to ``graph.genes``.

    Attributes:
        name: short block name (``"go"``, ``"structural"``, a file stem).
        values: ``[num_genes, len(columns)]``, dense ``np.ndarray`` or ``scipy.sparse`` CSR.
        columns: one name per feature column.
        match: how the source's gene ids matched the network (``None`` for structural).
    """

    name: str
    values: np.ndarray | sp.csr_matrix
    columns: list[str]
    match: MatchReport | None = None


def _standardize(values: np.ndarray) -> np.ndarray:
    """Z-score each column over the rows that have data; NaN (no data) becomes 0 (the mean)."""
    mean = np.nanmean(values, axis=0)
    std = np.nanstd(values, axis=0)
    std[~(std > 0)] = 1.0
    out = (values - mean) / std
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def read_feature_table(
    path: PathLike,
    graph: GeneGraph,
    gene_column: str | None = None,
    id_map: IdMap | None = None,
    standardize: bool = True,
) -> FeatureBlock:
    """Read a genes × features CSV/TSV (one gene per row, numeric columns).

    Args:
        gene_column: column of gene ids; default the first column.
        id_map: translates the table's ids to the network's.
        standardize: z-score every column (over genes with a value).

    Empty cells are missing values (imputed with the column mean); a gene listed twice or a
    non-number raises with its line number. Genes not in the network are counted in ``match``.
    """
    table, lines = read_table(path)
    gene_column = gene_column or table.columns[0]
    if gene_column not in table.columns:
        raise malformed(path, 1, f"no column {gene_column!r}; columns are {list(table.columns)}")
    genes = table[gene_column].str.strip()
    duplicated = genes.duplicated().to_numpy()
    if duplicated.any():
        first = int(np.argmax(duplicated))
        raise malformed(path, int(lines[first]), f"gene {genes.iloc[first]!r} listed twice")
    columns = [c for c in table.columns if c != gene_column]
    raw = np.column_stack([numeric_column(table[c], lines, path, c) for c in columns])
    positions, report = match_genes(list(genes), graph.index, id_map, source=str(path))
    report.log()
    values = np.full((graph.num_genes, len(columns)), np.nan)
    keep = positions >= 0
    values[positions[keep]] = raw[keep]
    missing_cells = int(np.isnan(raw[keep]).sum())
    if missing_cells:
        log.info("%s: %d empty cells imputed with the column mean", path, missing_cells)
    covered = np.zeros(graph.num_genes, dtype=bool)
    covered[positions[keep]] = True
    values = _standardize(values) if standardize else np.nan_to_num(values).astype(np.float32)
    name = Path(path).name.split(".")[0]
    block = FeatureBlock(name, values, [f"{name}:{c}" for c in columns], report)
    return _with_missing_indicator(block, covered)


def _with_missing_indicator(block: FeatureBlock, covered: np.ndarray) -> FeatureBlock:
    if covered.all():
        return block
    indicator = (~covered).astype(np.float32)[:, None]
    if sp.issparse(block.values):
        values = sp.hstack([block.values, sp.csr_matrix(indicator)], format="csr")
    else:
        values = np.hstack([block.values, indicator])
    return FeatureBlock(block.name, values, [*block.columns, f"missing:{block.name}"], block.match)


def structural_features(
    graph: GeneGraph, which: tuple[str, ...] = STRUCTURAL, standardize: bool = True
) -> FeatureBlock:
    """Per-node network statistics: hubs and dense neighbourhoods mark essential and driver genes.

    Args:
        which: any of ``degree`` and ``weighted_degree`` (log1p), ``clustering`` (local
            clustering coefficient), ``core_number`` (log1p k-core), ``pagerank`` (log of
            PageRank × number of nodes).
    """
    unknown = set(which) - set(STRUCTURAL)
    if unknown:
        raise ValueError(f"unknown structural feature(s) {sorted(unknown)}; "
                         f"choose from {STRUCTURAL}")
    nxg = graph.to_networkx() if set(which) & {"clustering", "core_number", "pagerank"} else None
    columns = {}
    for name in which:
        if name == "degree":
            columns[name] = np.log1p(graph.degree())
        elif name == "weighted_degree":
            lo, hi, w = graph.undirected_edges()
            off = lo != hi
            strength = np.bincount(np.r_[lo[off], hi[off]], np.r_[w[off], w[off]], graph.num_genes)
            columns[name] = np.log1p(strength)
        elif name == "clustering":
            columns[name] = _per_node(graph, nx.clustering(nxg))
        elif name == "core_number":
            core_graph = nxg.copy()
            core_graph.remove_edges_from(nx.selfloop_edges(core_graph))
            columns[name] = np.log1p(_per_node(graph, nx.core_number(core_graph)))
        else:
            rank = _per_node(graph, nx.pagerank(nxg) if graph.num_genes else {})
            columns[name] = np.log(np.maximum(rank * graph.num_genes, 1e-12))
    values = np.column_stack([columns[n] for n in which]).astype(np.float64)
    values = _standardize(values) if standardize else values.astype(np.float32)
    return FeatureBlock("structural", values, [f"structural:{n}" for n in which])


def _per_node(graph: GeneGraph, values: dict) -> np.ndarray:
    return np.array([values[g] for g in graph.genes], dtype=np.float64)


def stack_features(blocks: list[FeatureBlock], num_genes: int) -> tuple[sp.csr_matrix, list[str]]:
    """Join blocks column-wise into one sparse ``[num_genes, n_features]`` float32 matrix.

    With no block at all, a constant column: a GNN then learns from the network alone.
    """
    if not blocks:
        return sp.csr_matrix(np.ones((num_genes, 1), dtype=np.float32)), ["constant"]
    for block in blocks:
        if block.values.shape[0] != num_genes:
            raise ValueError(f"feature block {block.name!r} has {block.values.shape[0]} rows, "
                             f"the graph {num_genes} genes")
    matrix = sp.hstack([sp.csr_matrix(b.values) for b in blocks], format="csr")
    return matrix.astype(np.float32), [c for b in blocks for c in b.columns]
