"""Why a gene scores high: which neighbouring genes and which input features drive its logit.

``explain_genes(model, ["TP53", "MDM2"])`` attributes each gene's logit (for one task or class)
to the input feature matrix ``X [num_genes, n_features]`` with Captum's Integrated Gradients
(Sundararajan et al., ICML 2017; zero baseline), or with the one-pass gradient × input:

* a **neighbour's** attribution is the sum of its row of attributions: its share of
  ``logit(X) − logit(baseline)`` (Integrated Gradients' completeness: the shares add up to it);
* a **feature's** attribution is read from the gene's own row, and summed over all rows.

Only the receptive field is computed: a model with ``L`` graph layers sees the ``L``-hop
neighbourhood of the gene, so the model runs on the ``(L + 1)``-hop subgraph
(:func:`torch_geometric.utils.k_hop_subgraph`) with that subgraph's features densified. The extra
hop keeps GCN exact: its normalisation uses the degrees of the nodes ``L`` hops out, which the
``L``-hop subgraph would cut short; the outer ring's own attributions are exactly zero, and it is
left out of the tables. The subgraph logit is checked against the full-graph one (a warning if
they differ). ``mlp`` sees only the gene itself.

Why Captum on the feature matrix and not PyG's ``Explainer`` with edge masks: the models take a
sparse, pre-normalised adjacency (GCN caches it), whose fused message passing bypasses the edge
masks PyG's explainers inject, and the question asked is about genes and features, which node
feature attributions answer directly (and completely, for Integrated Gradients).

:meth:`GeneExplanation.write` writes ``genes.csv``, ``neighbours.csv``, ``features.csv`` and one
``subgraph_<gene>.png`` per explained gene. captum and matplotlib are imported only when used.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data

from molgraph.genes._io import PathLike
from molgraph.genes.graph import GeneGraph
from molgraph.genes.saved import TrainedGeneModel, load_gene_model
from molgraph.genes.train import graph_tensors
from molgraph.runtime.system import resolve_device

log = logging.getLogger(__name__)

METHODS = ("integrated_gradients", "input_x_gradient")
#: Most input elements one Integrated Gradients chunk holds (steps × genes × features).
_CHUNK_ELEMENTS = 2**25


@dataclass
class GeneExplanation:
    """Attribution tables for the explained genes.

    Attributes:
        genes: one row per requested gene: ``gene, task, score, logit, baseline_logit,
            attribution_sum, label, cv_score, hops, receptive_field, error`` (``error`` set,
            the rest empty, for a gene not in the network).
        neighbours: ``gene, neighbour, hops, attribution``: the gene itself (hop 0) and its
            top neighbours within the model's reach, by absolute attribution.
        features: ``gene, scope, feature, value, attribution``: ``scope`` ``"gene"`` for the
            gene's own row (``value`` its feature value), ``"subgraph"`` for the attribution
            summed over the whole neighbourhood.
        task: the task or class explained; ``method``: the attribution method.
    """

    genes: pd.DataFrame
    neighbours: pd.DataFrame
    features: pd.DataFrame
    task: str
    method: str
    graph: GeneGraph | None = field(default=None, repr=False)

    def write(self, out: PathLike) -> Path:
        """Write the three CSV files and a subgraph picture per explained gene into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.genes.to_csv(out / "genes.csv", index=False)
        self.neighbours.to_csv(out / "neighbours.csv", index=False)
        self.features.to_csv(out / "features.csv", index=False)
        if self.graph is not None:
            for gene in self.genes.loc[self.genes["error"] == "", "gene"]:
                self.plot(gene, out / f"subgraph_{_file_name(gene)}.png")
        return out

    def plot(self, gene: str, path: PathLike, max_nodes: int = 15) -> Path:
        """The gene and its top neighbours, coloured by attribution (red +, blue −)."""
        if self.graph is None:
            raise ValueError("this explanation holds no graph to draw")
        rows = self.neighbours[self.neighbours["gene"] == gene]
        if rows.empty:
            raise ValueError(f"gene {gene!r} was not explained")
        return _draw_subgraph(self.graph, gene, rows, Path(path), max_nodes, self.task)


def explain_genes(
    model: PathLike | TrainedGeneModel,
    genes: Sequence[str],
    task: str | None = None,
    method: str = "integrated_gradients",
    top: int | None = 20,
    device: str = "auto",
    n_steps: int = 50,
) -> GeneExplanation:
    """Attribute each gene's logit to its neighbours and to the input features.

    A model that takes the training labels as input (``use_labels`` input) sees them held
    fixed: the features are attributed, not the labels. With Correct & Smooth the network's
    own logit is explained, and ``score`` is its probability before the smoothing.

    Args:
        model: a model directory written by ``genes train``, or a loaded model.
        genes: gene ids as in the network; unknown ones get an ``error`` in ``genes``.
        task: task (multi-label) or class (multi-class) whose logit is explained; default as
            :meth:`TrainedGeneModel.rank`: the only or first task, the last class.
        method: ``"integrated_gradients"`` (Captum, zero baseline, ``n_steps`` steps) or
            ``"input_x_gradient"`` (Captum, one backward pass; no completeness).
        top: neighbours and features kept per gene (``None``: all).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:N]``.

    Raises:
        ValueError: unknown method or task, or none of ``genes`` in the network.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    trained = model if isinstance(model, TrainedGeneModel) else load_gene_model(model)
    labels = trained.labels
    names = labels.names
    task = task or (names[-1] if labels.task == "multiclass" else names[0])
    if task not in names:
        raise ValueError(f"unknown task {task!r}; choose from {names}")
    col = names.index(task)
    graph, index = trained.graph, trained.graph.index
    if not any(g in index for g in genes):
        raise ValueError(f"none of the genes {', '.join(map(str, genes))} is in the network")
    dev = resolve_device(device)
    net = trained.model.to(dev).eval()
    layers = 0 if net.conv == "mlp" else int(net.config["num_layers"])
    full_logits = _full_logits(trained, dev)
    probs = (full_logits.softmax(-1) if labels.task == "multiclass"
             else torch.sigmoid(full_logits)).numpy()
    gene_rows, neighbour_rows, feature_rows = [], [], []
    for gene in genes:
        if gene not in index:
            gene_rows.append({"gene": gene, "task": task,
                              "error": "not in the network (check the gene id type)"})
            continue
        node = index[gene]
        result = _explain_node(trained, node, col, layers, method, n_steps, dev)
        full = float(full_logits[node, col])
        if not np.isclose(result.logit, full, rtol=1e-4, atol=1e-4):
            log.warning("%s: subgraph logit %.6g differs from the full graph's %.6g",
                        gene, result.logit, full)
        gene_rows.append({
            "gene": gene, "task": task, "score": float(probs[node, col]), "logit": full,
            "baseline_logit": result.baseline_logit,
            "attribution_sum": float(result.node_attr.sum()),
            "label": _label(trained, node, col), "cv_score": float(trained.oof[node, col]),
            "hops": layers, "receptive_field": int((result.hops <= layers).sum()), "error": "",
        })
        neighbour_rows.extend(_neighbour_rows(graph, gene, result, layers, top))
        feature_rows.extend(_feature_rows(trained, gene, node, result, top))
    net.clear_cache()
    columns = ["gene", "task", "score", "logit", "baseline_logit", "attribution_sum", "label",
               "cv_score", "hops", "receptive_field", "error"]
    table = pd.DataFrame(gene_rows, columns=columns)
    table["error"] = table["error"].fillna("")
    table["label"] = table["label"].fillna("")
    table[["hops", "receptive_field"]] = table[["hops", "receptive_field"]].astype("Int64")
    return GeneExplanation(
        table,
        pd.DataFrame(neighbour_rows, columns=["gene", "neighbour", "hops", "attribution"]),
        pd.DataFrame(feature_rows, columns=["gene", "scope", "feature", "value", "attribution"]),
        task, method, graph,
    )


@dataclass
class _NodeResult:
    subset: np.ndarray  # [n_sub] node ids of the (L + 1)-hop subgraph
    hops: np.ndarray  # [n_sub] hop distance from the gene
    attr: np.ndarray  # [n_sub, n_features] attributions
    node_attr: np.ndarray  # [n_sub] row sums
    x: np.ndarray  # [n_features] the gene's own feature row
    logit: float  # on the subgraph
    baseline_logit: float


def _full_logits(trained: TrainedGeneModel, dev: torch.device) -> Tensor:
    net = trained.model
    net.clear_cache()
    x, adj_t = graph_tensors(trained.graph, trained.x, dev)
    with torch.no_grad():
        out = net(x, adj_t, trained.labels_in(dev)).cpu()
    net.clear_cache()
    return out


def _hop_distances(graph: GeneGraph, node: int, limit: int) -> np.ndarray:
    """``[num_genes]`` hop count from ``node`` (``inf`` beyond ``limit``)."""
    from scipy.sparse.csgraph import dijkstra

    ei = graph.data.edge_index.numpy()
    n = graph.num_genes
    adj = sp.csr_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    return dijkstra(adj, indices=node, unweighted=True, limit=limit + 0.5)


def receptive_subgraph(
    graph: GeneGraph, node: int, num_hops: int
) -> tuple[np.ndarray, GeneGraph, int]:
    """The ``num_hops``-hop subgraph around ``node``: node ids, the graph, ``node``'s position."""
    from torch_geometric.utils import k_hop_subgraph

    ei, w = graph.data.edge_index, graph.data.edge_weight
    subset, sub_ei, mapping, edge_mask = k_hop_subgraph(
        node, num_hops, ei, relabel_nodes=True, num_nodes=graph.num_genes)
    sub_genes = [graph.genes[i] for i in subset.tolist()]
    data = Data(edge_index=sub_ei, edge_weight=w[edge_mask],
                            num_nodes=len(sub_genes))
    return subset.numpy(), GeneGraph(data, sub_genes), int(mapping[0])


def _explain_node(
    trained: TrainedGeneModel, node: int, col: int, layers: int, method: str, n_steps: int,
    dev: torch.device,
) -> _NodeResult:
    net = trained.model
    # one hop more than the model's reach: GCN's normalisation needs the outer ring's degrees
    subset, sub, centre = receptive_subgraph(trained.graph, node, layers + 1 if layers else 0)
    x_sub = sp.csr_matrix(trained.x[subset], dtype=np.float32)
    _, adj_t = graph_tensors(sub, x_sub, dev)
    x = torch.as_tensor(x_sub.toarray(), device=dev).unsqueeze(0)  # [1, n_sub, F]
    labels_in = trained.labels_in(dev)  # fixed: the features are attributed, not the labels
    labels_in = labels_in[torch.as_tensor(subset, device=dev)] if labels_in is not None else None

    def forward(inputs: Tensor) -> Tensor:  # [B, n_sub, F] → [B]: one graph per batch row
        return torch.stack([net(xb, adj_t, labels_in)[centre, col] for xb in inputs])

    net.clear_cache()  # GCN caches the normalised adjacency: this subgraph's
    try:
        with torch.no_grad():
            logit = float(forward(x)[0])
            baseline_logit = float(forward(torch.zeros_like(x))[0])
        attr = _attribute(forward, x, method, n_steps)
    finally:
        net.clear_cache()
    attr_np = attr[0].detach().cpu().numpy().astype(np.float64)
    hops = _hop_distances(trained.graph, node, layers + 1)[subset]
    return _NodeResult(subset, hops, attr_np, attr_np.sum(axis=1),
                       x_sub[centre].toarray()[0].astype(np.float64), logit, baseline_logit)


def _attribute(forward, x: Tensor, method: str, n_steps: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*did not already require gradients")
        if method == "input_x_gradient":
            from captum.attr import InputXGradient

            return InputXGradient(forward).attribute(x)
        from captum.attr import IntegratedGradients

        batch = max(1, min(n_steps, _CHUNK_ELEMENTS // max(1, x[0].numel())))
        return IntegratedGradients(forward).attribute(
            x, baselines=torch.zeros_like(x), n_steps=n_steps, internal_batch_size=batch)


def _label(trained: TrainedGeneModel, node: int, col: int) -> str:
    """The known label as :meth:`TrainedGeneModel.rank` writes it ("" when unlabelled)."""
    labels = trained.labels
    y = labels.y[node, 0 if labels.task == "multiclass" else col]
    if np.isnan(y):
        return ""
    return labels.names[int(y)] if labels.task == "multiclass" else str(int(y))


def _keep(values: np.ndarray, top: int | None) -> np.ndarray:
    """Positions of the ``top`` largest absolute values, largest first (stable)."""
    order = np.argsort(-np.abs(values), kind="stable")
    return order if top is None else order[:top]


def _neighbour_rows(
    graph: GeneGraph, gene: str, result: _NodeResult, layers: int, top: int | None
) -> list[dict]:
    inside = np.flatnonzero(result.hops <= layers)  # the outer ring only served the degrees
    own = inside[result.hops[inside] == 0]
    others = inside[result.hops[inside] > 0]
    chosen = [*own, *others[_keep(result.node_attr[others], top)]]
    return [{"gene": gene, "neighbour": graph.genes[result.subset[i]],
             "hops": int(result.hops[i]), "attribution": float(result.node_attr[i])}
            for i in chosen]


def _feature_rows(
    trained: TrainedGeneModel, gene: str, node: int, result: _NodeResult, top: int | None
) -> list[dict]:
    names = trained.feature_names
    centre = int(np.flatnonzero(result.subset == node)[0])
    own = result.attr[centre]
    total = result.attr.sum(axis=0)
    rows = [{"gene": gene, "scope": "gene", "feature": names[j], "value": float(result.x[j]),
             "attribution": float(own[j])} for j in _keep(own, top)]
    rows += [{"gene": gene, "scope": "subgraph", "feature": names[j], "value": np.nan,
              "attribution": float(total[j])} for j in _keep(total, top)]
    return rows


def _file_name(gene: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", gene) or "gene"


def _draw_subgraph(
    graph: GeneGraph, gene: str, rows: pd.DataFrame, path: Path, max_nodes: int, task: str
) -> Path:
    """Draw ``gene`` and its top neighbours, with the genes that link them to it."""
    import networkx as nx
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    attribution = dict(zip(rows["neighbour"], rows["attribution"]))
    shown = list(rows["neighbour"])[: max(1, max_nodes)]
    full = graph.to_networkx()
    nodes = set(shown)
    for other in shown[1:]:  # a shortest path back to the gene keeps the picture connected
        nodes.update(nx.shortest_path(full, gene, other))
    sub = full.subgraph(nodes)
    colours = [attribution.get(n, 0.0) for n in sub.nodes]
    limit = max(1e-12, max(abs(c) for c in colours))
    fig = Figure(figsize=(7, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    pos = nx.spring_layout(sub, seed=0)
    sizes = [900 if n == gene else 450 for n in sub.nodes]
    edge_colours = ["black" if n == gene else "0.5" for n in sub.nodes]
    widths = [3.0 if n == gene else 0.8 for n in sub.nodes]
    nx.draw_networkx_edges(sub, pos, ax=ax, edge_color="0.7")
    artist = nx.draw_networkx_nodes(sub, pos, ax=ax, node_color=colours, cmap="RdBu_r",
                                    vmin=-limit, vmax=limit, node_size=sizes,
                                    edgecolors=edge_colours, linewidths=widths)
    box = dict(facecolor="white", alpha=0.75, edgecolor="none", pad=0.6)
    nx.draw_networkx_labels(sub, pos, ax=ax, font_size=8, bbox=box)
    ax.set_title(f"{gene}: neighbour attributions to the {task!s} logit")
    ax.margins(0.15)  # room for the labels of the outermost genes (long ids are not clipped)
    ax.set_axis_off()
    fig.colorbar(artist, ax=ax, shrink=0.8, label="attribution (sum over features)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=120)
    finally:
        fig.clear()
    return path
