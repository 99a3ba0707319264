"""Full-batch training of node models: class weighting, early stopping, seeding, CV folds.

Gene networks (10⁴ nodes, 10⁵–10⁶ edges) fit in memory whole, so every epoch is one pass over
the full graph; unlabelled genes take part in message passing but not in the loss.

Each epoch's metrics go to the callbacks and tracker (:mod:`molgraph.tracking`) as
``{prefix}train_loss`` and, with validation genes, ``{prefix}val_loss`` and
``{prefix}val_pr_auc`` (NaN when the validation genes hold one class), at step = epoch
(1-based). :func:`cross_validate` uses the prefix ``fold{i}_``; the final model of
:func:`~molgraph.genes.workflow.train_genes` uses ``final_``.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from molgraph.genes.config import GeneModelConfig, GeneTrainConfig
from molgraph.genes.graph import GeneGraph
from molgraph.genes.label_use import (
    choose_correct_smooth,
    label_channels,
    label_inputs,
    split_shown,
)
from molgraph.genes.labels import NodeLabels
from molgraph.genes.models import NodeGNN, build_node_model
from molgraph.genes.splits import Fold
from molgraph.runtime.system import resolve_device, seed_everything
from molgraph.tracking.contracts import Callback, Tracker, notify
from molgraph.training.metrics import classification_metrics

log = logging.getLogger(__name__)


def graph_tensors(
    graph: GeneGraph, x: sp.csr_matrix, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Sparse CSR feature matrix and weighted adjacency (row = target) on ``device``.

    Shapes: ``x`` ``[num_genes, n_features]``, ``adj_t`` ``[num_genes, num_genes]``.
    """
    x = sp.csr_matrix(x, dtype=np.float32)
    ei, w = graph.data.edge_index, graph.data.edge_weight
    n = graph.num_genes
    with warnings.catch_warnings():  # "sparse CSR support is in beta": said once per call
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        x_t = torch.sparse_csr_tensor(
            torch.as_tensor(x.indptr, dtype=torch.int64),
            torch.as_tensor(x.indices, dtype=torch.int64), torch.as_tensor(x.data),
            size=x.shape, check_invariants=False,
        )
        adj_t = torch.sparse_coo_tensor(ei.flip(0), w, (n, n), check_invariants=False)
        adj_t = adj_t.coalesce().to_sparse_csr()
    return x_t.to(device), adj_t.to(device)


def _loss(logits: Tensor, y: Tensor, task: str, weight: Tensor | None) -> Tensor:
    if task == "multiclass":
        return F.cross_entropy(logits, y[:, 0].long(), weight=weight)
    known = ~torch.isnan(y)
    losses = F.binary_cross_entropy_with_logits(
        logits, torch.nan_to_num(y), pos_weight=weight, reduction="none"
    )
    return losses[known].mean()


def class_weights(labels: NodeLabels, nodes: np.ndarray, mode: str) -> Tensor | None:
    """``"balanced"``: BCE ``pos_weight`` = negatives / positives per task, or CE weights
    ``n / (k · n_c)`` per class; ``"none"``: no weighting."""
    if mode == "none":
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be 'balanced' or 'none', not {mode!r}")
    y = labels.y[nodes]
    if labels.task == "multiclass":
        counts = np.bincount(y[:, 0].astype(int), minlength=labels.num_outputs).astype(float)
        weight = len(y) / (labels.num_outputs * np.maximum(counts, 1))
    else:
        pos, neg = np.nansum(y == 1, axis=0), np.nansum(y == 0, axis=0)
        weight = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    return torch.as_tensor(weight, dtype=torch.float32)


def probabilities(logits: Tensor, task: str) -> np.ndarray:
    """Logits → per-class (softmax) or per-task (sigmoid) probabilities, ``[N, outputs]``."""
    probs = logits.softmax(-1) if task == "multiclass" else torch.sigmoid(logits)
    return probs.detach().cpu().numpy().astype(np.float64)


def node_probabilities(model: NodeGNN, x: Tensor, adj_t: Tensor, labels: NodeLabels,
                       shown: np.ndarray) -> np.ndarray:
    """``[num_genes, outputs]`` probabilities of an eval-mode model; a label-input model sees
    the labels of the ``shown`` genes (the training genes)."""
    labels_in = label_inputs(labels, shown, x.device) if model.label_input is not None else None
    with torch.no_grad():
        return probabilities(model(x, adj_t, labels_in), labels.task)


def evaluate(labels: NodeLabels, probs: np.ndarray, nodes: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC and F1 at 0.5 on ``nodes``, macro over classes/tasks (``probs`` is
    ``[num_genes, outputs]``).

    Multi-class adds what a single-label prediction is judged by: ``accuracy`` and ``macro_f1``
    of the argmax class (``f1`` there is one-vs-rest at 0.5, which a softmax seldom reaches).
    """
    from sklearn.metrics import f1_score

    y = labels.y[nodes]
    if labels.task != "multiclass":
        return classification_metrics(y, probs[nodes])
    onehot = np.eye(labels.num_outputs)[y[:, 0].astype(int)]
    out = classification_metrics(onehot, probs[nodes])
    if len(nodes) == 0:
        return {**out, "accuracy": np.nan, "macro_f1": np.nan}
    predicted, true = probs[nodes].argmax(1), y[:, 0].astype(int)
    out["accuracy"] = float((predicted == true).mean())
    out["macro_f1"] = float(f1_score(true, predicted, average="macro", zero_division=0))
    return out


def summarise(folds: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and std over folds of each metric; a fold's NaN (one class in it) is left out."""
    names = folds[0].keys() if folds else []
    with warnings.catch_warnings():  # a metric NaN in every fold stays NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = {k: float(np.nanmean([f[k] for f in folds])) for k in names}
        std = {k: float(np.nanstd([f[k] for f in folds])) for k in names}
    return mean, std


@dataclass
class FitResult:
    """A trained model, the epoch it was taken from and its validation history."""

    model: NodeGNN
    best_epoch: int
    best_score: float
    history: list[float] = field(default_factory=list)


def fit_node_model(
    x: Tensor, adj_t: Tensor, labels: NodeLabels, train_nodes: np.ndarray,
    val_nodes: np.ndarray | None, model_config: GeneModelConfig, train_config: GeneTrainConfig,
    *, seed: int = 0, epochs: int | None = None, callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None, prefix: str = "",
) -> FitResult:
    """Train on ``train_nodes``; keep the weights with the best validation AUPRC.

    With no ``val_nodes``, train exactly ``epochs`` (default ``train_config.epochs``) epochs.
    With ``model_config.label_input`` each epoch shows the labels of a random half of
    ``train_nodes`` and takes the loss on the other half; validation sees all of them. A
    callback raising :class:`~molgraph.tracking.contracts.StopTraining` ends training early,
    keeping the best weights so far; ``prefix`` starts every reported metric name.
    """
    seed_everything(seed)
    device = x.device
    label_input = model_config.label_input
    model = build_node_model(model_config.name, x.shape[1], labels.num_outputs,
                             label_channels=label_channels(labels) if label_input else 0,
                             **model_config.options()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr,
                                 weight_decay=train_config.weight_decay)
    y = torch.as_tensor(labels.y, dtype=torch.float32, device=device)
    weight = class_weights(labels, train_nodes, train_config.class_weight)
    weight = weight.to(device) if weight is not None else None
    train_t = torch.as_tensor(train_nodes, device=device)
    use_val = val_nodes is not None and len(val_nodes) > 0
    val_t = torch.as_tensor(val_nodes if use_val else train_nodes[:0], device=device)
    shown_all = label_inputs(labels, train_nodes, device) if label_input else None
    halves = torch.Generator().manual_seed(seed)
    best = FitResult(model, 0, -np.inf)
    best_state, best_loss, epoch = None, np.inf, 0
    for epoch in range(1, (epochs or train_config.epochs) + 1):
        model.train()
        optimizer.zero_grad()
        target, labels_in = train_t, None
        if label_input:
            shown, target = split_shown(train_t, halves)
            labels_in = label_inputs(labels, shown.cpu().numpy(), device)
        loss = _loss(model(x, adj_t, labels_in)[target], y[target], labels.task, weight)
        loss.backward()
        optimizer.step()
        metrics = {f"{prefix}train_loss": float(loss.detach())}
        patience_over = False
        if use_val:
            model.eval()
            with torch.no_grad():
                logits = model(x, adj_t, shown_all)
                val_loss = float(_loss(logits[val_t], y[val_t], labels.task, weight))
            pr_auc = evaluate(labels, probabilities(logits, labels.task), val_nodes)["pr_auc"]
            metrics.update({f"{prefix}val_loss": val_loss, f"{prefix}val_pr_auc": pr_auc})
            score = -val_loss if np.isnan(pr_auc) else pr_auc
            best.history.append(score)
            # ties (common on small validation sets) go to the lower validation loss
            if score > best.best_score or (score == best.best_score and val_loss < best_loss):
                best.best_score, best.best_epoch, best_loss = score, epoch, val_loss
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                patience_over = epoch - best.best_epoch >= train_config.patience
        if not notify(callbacks, tracker, epoch, metrics) or patience_over:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best.best_epoch = epoch
    model.eval()
    return best


@dataclass
class CVResult:
    """Per-fold test metrics, their mean and std, and out-of-fold probabilities.

    ``correct_smooth``: each fold's Correct & Smooth setting (empty when it is off).
    """

    folds: list[dict[str, float]]
    mean: dict[str, float]
    std: dict[str, float]
    oof: np.ndarray
    best_epochs: list[int]
    seconds: float
    correct_smooth: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = asdict(self)
        del out["oof"]
        return out


def cross_validate(
    graph: GeneGraph, x: sp.csr_matrix, labels: NodeLabels, folds: list[Fold],
    model_config: GeneModelConfig, train_config: GeneTrainConfig, *, seed: int = 0,
    callbacks: Sequence[Callback] = (), tracker: Tracker | None = None,
) -> CVResult:
    """Train one model per fold and score it on that fold's test genes.

    Fold ``i`` reports its epochs' metrics with the prefix ``fold{i}_``. With
    ``model_config.correct_smooth`` the fold's outputs are corrected and smoothed with its
    training labels, the setting chosen on its validation AUPRC.
    Shapes: ``oof`` is ``[num_genes, outputs]``, NaN for genes never in a test set.
    """
    start = time.perf_counter()
    x_t, adj_t = graph_tensors(graph, x, resolve_device(train_config.device))
    oof = np.full((graph.num_genes, labels.num_outputs), np.nan)
    results, epochs, smoothing = [], [], []
    for i, fold in enumerate(folds):
        fit = fit_node_model(x_t, adj_t, labels, fold.train, fold.val, model_config,
                             train_config, seed=seed, callbacks=callbacks, tracker=tracker,
                             prefix=f"fold{i}_")
        probs = node_probabilities(fit.model, x_t, adj_t, labels, fold.train)
        if model_config.correct_smooth:
            probs, setting = choose_correct_smooth(
                probs, labels, fold.train, fold.val, graph,
                lambda p, nodes: evaluate(labels, p, nodes)["pr_auc"])
            smoothing.append(setting)
        oof[fold.test] = probs[fold.test]
        metrics = evaluate(labels, probs, fold.test)
        results.append(metrics)
        epochs.append(fit.best_epoch)
        log.info("fold %d: AUPRC %.3f AUROC %.3f (epoch %d)", i, metrics["pr_auc"],
                 metrics["roc_auc"], fit.best_epoch)
    mean, std = summarise(results)
    return CVResult(results, mean, std, oof, epochs, time.perf_counter() - start, smoothing)
