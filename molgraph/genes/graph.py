"""``GeneGraph``: one undirected gene network as a PyG ``Data`` plus the gene id of every node.

Gene ids live in ``GeneGraph.genes`` (a plain list beside ``data``), never in a ``Data`` attribute
whose name contains ``index``: PyG's batching would add node offsets to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data

log = logging.getLogger(__name__)


@dataclass
class EdgeList:
    """What a format reader returns: raw edges in file order plus counts of what it did.

    Attributes:
        src, dst: gene ids of each interaction, as read (duplicates and self-loops included).
        weight: one weight per edge (1.0 where the format has none).
        nodes: genes listed on their own (isolated nodes in SIF or GraphML).
        report: counts such as ``rows``, ``below_min_score`` or ``unmapped_ids``.
    """

    src: list[str] = field(default_factory=list)
    dst: list[str] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    report: dict[str, int] = field(default_factory=dict)

    def add(self, a: str, b: str, w: float = 1.0) -> None:
        self.src.append(a)
        self.dst.append(b)
        self.weight.append(w)


@dataclass
class GeneGraph:
    """An undirected gene network ready for node-level GNNs.

    Attributes:
        data: ``edge_index`` ``[2, 2 * num_edges]`` (both directions), ``edge_weight``
            ``[2 * num_edges]``, ``num_nodes``.
        genes: the gene id of node ``i`` is ``genes[i]``.
        report: what parsing and cleaning did (duplicates merged, self-loops dropped, ...).
    """

    data: Data
    genes: list[str]
    report: dict[str, int] = field(default_factory=dict)

    @property
    def num_genes(self) -> int:
        return len(self.genes)

    @property
    def num_edges(self) -> int:
        """Number of undirected edges (each stored twice in ``edge_index``, self-loops once)."""
        ei = self.data.edge_index
        loops = int((ei[0] == ei[1]).sum())
        return (ei.shape[1] - loops) // 2 + loops

    @cached_property
    def index(self) -> dict[str, int]:
        """Gene id → node position."""
        return {gene: i for i, gene in enumerate(self.genes)}

    @classmethod
    def from_edges(
        cls,
        edges: EdgeList,
        self_loops: str = "drop",
        largest_component: bool = False,
    ) -> GeneGraph:
        """De-duplicate undirected edges (keeping the largest weight) and build the graph.

        Args:
            edges: the reader's output.
            self_loops: ``"drop"`` (default; GCN adds its own) or ``"keep"``.
            largest_component: keep only the largest connected component.
        """
        if self_loops not in ("drop", "keep"):
            raise ValueError(f"self_loops must be 'drop' or 'keep', not {self_loops!r}")
        order: dict[str, int] = {}
        for gene in [*edges.nodes, *_interleave(edges.src, edges.dst)]:
            order.setdefault(gene, len(order))
        genes = list(order)
        src = np.array([order[g] for g in edges.src], dtype=np.int64)
        dst = np.array([order[g] for g in edges.dst], dtype=np.int64)
        weight = np.asarray(edges.weight, dtype=np.float32)
        report = dict(edges.report)
        report["edges_read"] = len(src)
        loop = src == dst
        report["self_loops_dropped" if self_loops == "drop" else "self_loops_kept"] = int(
            loop.sum()
        )
        if self_loops == "drop":
            src, dst, weight = src[~loop], dst[~loop], weight[~loop]
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        key = lo * len(genes) + hi
        order_by_weight = np.lexsort((-weight, key))  # per pair, the largest weight first
        key, lo, hi, weight = (a[order_by_weight] for a in (key, lo, hi, weight))
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        report["duplicate_edges_merged"] = int((~first).sum())
        graph = cls._build(genes, lo[first], hi[first], weight[first], report)
        if largest_component:
            graph = graph.largest_component()
        return graph

    @classmethod
    def _build(
        cls, genes: list[str], lo: np.ndarray, hi: np.ndarray, w: np.ndarray, report: dict
    ) -> GeneGraph:
        loop = lo == hi
        src = np.concatenate([lo, hi[~loop]])
        dst = np.concatenate([hi, lo[~loop]])
        weight = np.concatenate([w, w[~loop]])
        data = Data(
            edge_index=torch.as_tensor(np.stack([src, dst]), dtype=torch.long),
            edge_weight=torch.as_tensor(weight, dtype=torch.float32),
            num_nodes=len(genes),
        )
        return cls(data=data, genes=list(genes), report=report)

    def undirected_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each undirected edge once, as ``(src, dst, weight)`` with ``src <= dst``."""
        ei = self.data.edge_index.numpy()
        keep = ei[0] <= ei[1]
        return ei[0, keep], ei[1, keep], self.data.edge_weight.numpy()[keep]

    def degree(self) -> np.ndarray:
        """Number of neighbours of each node (self-loops not counted), ``[num_genes]``."""
        ei = self.data.edge_index.numpy()
        ei = ei[:, ei[0] != ei[1]]
        return np.bincount(ei[0], minlength=self.num_genes).astype(np.int64)

    def subgraph(self, keep: np.ndarray) -> GeneGraph:
        """The graph induced by the nodes where boolean ``keep`` is true, order preserved."""
        new_id = np.full(self.num_genes, -1, dtype=np.int64)
        new_id[keep] = np.arange(int(keep.sum()))
        lo, hi, w = self.undirected_edges()
        inside = keep[lo] & keep[hi]
        genes = [g for g, k in zip(self.genes, keep) if k]
        report = dict(self.report)
        return self._build(genes, new_id[lo[inside]], new_id[hi[inside]], w[inside], report)

    def largest_component(self) -> GeneGraph:
        """Keep the largest connected component; the dropped node count goes in ``report``."""
        components = list(nx.connected_components(self.to_networkx()))
        if not components:
            return self
        biggest = max(components, key=len)
        keep = np.array([g in biggest for g in self.genes])
        graph = self.subgraph(keep)
        graph.report["nodes_outside_largest_component"] = int((~keep).sum())
        dropped = self.num_genes - graph.num_genes
        if dropped:
            log.info("largest component keeps %d of %d genes", graph.num_genes, self.num_genes)
        return graph

    def to_networkx(self) -> nx.Graph:
        """An ``nx.Graph`` keyed by gene id with a ``weight`` on each edge, nodes in order."""
        graph = nx.Graph()
        graph.add_nodes_from(self.genes)
        lo, hi, w = self.undirected_edges()
        graph.add_weighted_edges_from(
            (self.genes[a], self.genes[b], float(x)) for a, b, x in zip(lo, hi, w)
        )
        return graph

    @classmethod
    def from_networkx(
        cls, graph: nx.Graph, weight: str = "weight", name: str | None = None, **options
    ) -> GeneGraph:
        """Build from any networkx graph (directed or multi-graphs are made undirected).

        Args:
            graph: the network; node keys are gene ids unless ``name`` is given.
            weight: edge attribute holding the weight (1.0 where absent).
            name: node attribute holding the gene id (e.g. Cytoscape's ``"name"``).
            **options: passed to :meth:`from_edges` (``self_loops``, ``largest_component``).
        """
        gene = {n: str(d[name]) if name else str(n) for n, d in graph.nodes(data=True)}
        edges = EdgeList(nodes=list(dict.fromkeys(gene.values())))
        for a, b, data in graph.edges(data=True):
            edges.add(gene[a], gene[b], float(data.get(weight, 1.0)))
        edges.report["nodes_merged_by_name"] = graph.number_of_nodes() - len(edges.nodes)
        return cls.from_edges(edges, **options)


def _interleave(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for x, y in zip(a, b):
        out.append(x)
        out.append(y)
    return out
