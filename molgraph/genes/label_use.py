"""Node models that use the labels the network carries: labels as input, Correct & Smooth.

A gene's neighbours' labels are often the best evidence about it (guilt by association): label
propagation lives on it, and a GNN over weak features alone cannot see it. Two ways in, chosen
by ``model.use_labels``:

* ``input``, the label trick (Wang et al., "Bag of tricks for node classification with graph
  neural networks", 2021; Shi et al., UniMP, IJCAI 2021): the training genes' labels are extra
  input features. Each epoch a random half of the training genes show theirs and the loss is
  taken on the other half, so the model learns to infer a label from its neighbours' labels,
  never to copy its own. At evaluation every training gene shows its label; validation and test
  genes never do.
* ``correct_smooth``, Correct & Smooth (Huang et al., ICLR 2021; PyG's ``CorrectAndSmooth``)
  after any model: the model's errors on the training genes are spread over the network and
  added, then the scores are smoothed with the training labels clamped. Its two propagation
  strengths are chosen on the validation genes.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import CorrectAndSmooth

from molgraph.genes.graph import GeneGraph
from molgraph.genes.labels import NodeLabels

#: (correction alpha, smoothing alpha) pairs tried on the validation genes.
CS_ALPHAS = tuple(itertools.product((0.5, 0.9), (0.5, 0.9)))
CS_LAYERS = 50


def label_channels(labels: NodeLabels) -> int:
    """Input width of the label features: one per class, or (positive, negative) per task."""
    return labels.num_outputs if labels.task == "multiclass" else 2 * labels.num_outputs


def label_inputs(labels: NodeLabels, shown: np.ndarray | Tensor,
                 device: torch.device | str = "cpu") -> Tensor:
    """``[num_genes, label_channels]`` features: the labels of the ``shown`` genes, zeros
    elsewhere (unknown, hidden, or a missing task label)."""
    shown = torch.as_tensor(np.asarray(shown, dtype=np.int64))
    y = torch.as_tensor(labels.y[shown.numpy()], dtype=torch.float32)  # [S, T]
    out = torch.zeros(len(labels.y), label_channels(labels))
    if labels.task == "multiclass":
        out[shown, y[:, 0].long()] = 1.0
    else:
        out[shown] = torch.cat([(y == 1).float(), (y == 0).float()], 1)
    return out.to(device)


def split_shown(train_nodes: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """A random half of ``train_nodes`` whose labels are shown this epoch, and the other half,
    which the loss is taken on."""
    order = train_nodes[torch.randperm(len(train_nodes), generator=generator)
                        .to(train_nodes.device)]
    half = len(order) // 2
    return order[:half], order[half:]


def correct_and_smooth(probs: np.ndarray, labels: NodeLabels, known: np.ndarray,
                       graph: GeneGraph, correction_alpha: float,
                       smoothing_alpha: float) -> np.ndarray:
    """Correct & Smooth ``probs`` (``[num_genes, outputs]``) with the labels of the ``known``
    genes; a binary or multi-label task is smoothed task by task as two classes."""
    cs = CorrectAndSmooth(CS_LAYERS, correction_alpha, CS_LAYERS, smoothing_alpha)
    # normalised here: given edge weights, PyG's propagation uses them as they are
    ei, w = gcn_norm(graph.data.edge_index, graph.data.edge_weight, graph.num_genes,
                     add_self_loops=False)
    soft = torch.as_tensor(probs, dtype=torch.float32)
    known_t = torch.as_tensor(np.asarray(known, dtype=np.int64))
    y = torch.as_tensor(labels.y[known])
    if labels.task == "multiclass":
        true = y[:, 0].long()
        out = cs.smooth(cs.correct(soft, true, known_t, ei, w), true, known_t, ei, w)
        return out.clamp(0, 1).numpy().astype(np.float64)
    out = np.empty_like(probs)
    for t in range(probs.shape[1]):
        seen = ~torch.isnan(y[:, t])
        mask, true = known_t[seen], y[seen, t].long()
        two = torch.stack([1 - soft[:, t], soft[:, t]], 1)
        smoothed = cs.smooth(cs.correct(two, true, mask, ei, w), true, mask, ei, w)
        out[:, t] = smoothed[:, 1].clamp(0, 1).numpy()
    return out


def choose_correct_smooth(probs: np.ndarray, labels: NodeLabels, known: np.ndarray,
                          val: np.ndarray | None, graph: GeneGraph,
                          score) -> tuple[np.ndarray, dict[str, float]]:
    """Correct & Smooth with the :data:`CS_ALPHAS` pair that ``score(probs, val)`` (higher is
    better) likes best; the first pair without validation genes. Returns the smoothed
    probabilities and ``{"correction_alpha", "smoothing_alpha"}``."""
    best: tuple[float, np.ndarray, dict[str, float]] | None = None
    for correction, smoothing in CS_ALPHAS if val is not None and len(val) else CS_ALPHAS[:1]:
        out = correct_and_smooth(probs, labels, known, graph, correction, smoothing)
        value = score(out, val) if val is not None and len(val) else 0.0
        if best is None or value > best[0]:
            best = (value, out, {"correction_alpha": correction, "smoothing_alpha": smoothing})
    assert best is not None
    return best[1], best[2]
