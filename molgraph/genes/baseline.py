"""Classical baselines beside every gene run, on exactly the GNN's cross-validation folds.

On gene networks a linear model on the features, or label propagation on the network alone,
is often as good as a GNN (experiments/RESULTS_genes.md: PPNet drivers, best GNN and best
baseline tie at AUPRC 0.859), so ``genes train`` reports its own baselines and the difference.

- ``logreg``: scikit-learn logistic regression, balanced class weights, on the features
  standardised on the fold's training genes (sparse stays sparse), ``C`` ∈ {1, 0.001, 0.01,
  0.1, 10}. Standardising thousands of sparse GO terms blows up the rare ones, so strong
  regularisation is needed: on PPNet every fold picks 0.001 (test AUPRC 0.855 drivers, 0.735
  essentiality; with 0.01 as the smallest, 0.839 and 0.685).
- ``mlp``: scikit-learn MLP, one hidden layer of 64 or 256 units, 200 epochs of Adam, on the
  same standardised features, L2 ``alpha`` ∈ {1, 100}; no early stopping: the validation
  genes choose the width and the penalty (on PPNet drivers, with 64 units: test AUPRC 0.795
  at scikit-learn's default 1e-4, 0.807 at 1, 0.851 at 100).
- ``label_propagation``: Zhou et al. (2004), F ← α·S·F + (1 − α)·Y for 50 iterations, S the
  symmetrically normalised weighted adjacency, Y the training genes' labels only,
  α ∈ {0.9, 0.5, 0.99}. Each class's seeds sum to one (class mass normalisation, balanced
  like the class-weighted models). A gene's score is its margin F_c − max_{c' ≠ c} F_c',
  rescaled into [0, 1] with the argmax decision at 0.5.

Every setting is fitted on the fold's training genes and scored with
:func:`~molgraph.genes.train.evaluate`; the validation AUPRC picks the setting per fold (the
first setting is the default: it wins ties and folds without a finite validation score), and
the method with the best mean validation AUPRC is ``best``, so test genes choose nothing.
Binary and multi-label tasks get one binary model per label column, on the genes labelled for
it (missing labels masked, never imputed); multi-class gets one model over the classes.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from molgraph.genes.graph import GeneGraph
from molgraph.genes.labels import NodeLabels
from molgraph.genes.splits import Fold
from molgraph.genes.train import evaluate, summarise

log = logging.getLogger(__name__)

LOGREG_C = (1.0, 0.001, 0.01, 0.1, 10.0)
MLP_SETTINGS = tuple({"hidden": h, "alpha": a} for a in (1.0, 100.0) for h in (64, 256))
LP_ALPHA = (0.9, 0.5, 0.99)
LP_ITERATIONS = 50
#: the validation metric that picks each method's setting and the best method
SELECT = "pr_auc"

#: ``predict(setting, fold)`` → probabilities ``[num_genes, outputs]`` (NaN where not needed)
Predict = Callable[[dict[str, Any], Fold], np.ndarray]


def _classifier(method: str, setting: dict[str, Any], seed: int) -> Any:
    """A scikit-learn pipeline: scale on the training genes, then the classifier."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if method == "logreg":
        model = LogisticRegression(C=setting["C"], class_weight="balanced", max_iter=1000,
                                   random_state=seed)
    else:
        model = MLPClassifier(hidden_layer_sizes=(setting["hidden"],), alpha=setting["alpha"],
                              early_stopping=False, max_iter=200, random_state=seed)
    return make_pipeline(StandardScaler(with_mean=False), model)


def _fit_predict(method: str, setting: dict[str, Any], seed: int, x: sp.csr_matrix,
                 y: np.ndarray, x_eval: sp.csr_matrix, classes: int) -> np.ndarray:
    """``[len(x_eval), classes]`` class probabilities of one model fitted on ``(x, y)``.

    Classes absent from ``y`` get probability 0; with a single class present there is
    nothing to fit and every gene gets that class.
    """
    out = np.zeros((x_eval.shape[0], classes))
    present = np.unique(y).astype(int)
    if len(present) < 2:
        out[:, present] = 1.0
        return out
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():  # the validation genes judge an unconverged fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _classifier(method, setting, seed).fit(x, y)
    out[:, model.classes_.astype(int)] = model.predict_proba(x_eval)
    return out


def feature_predictor(method: str, x: sp.csr_matrix, labels: NodeLabels, seed: int) -> Predict:
    """``logreg`` or ``mlp`` on the features ``x`` ``[num_genes, n_features]``, scored on
    each fold's validation and test genes."""
    x = sp.csr_matrix(x, dtype=np.float64)

    def predict(setting: dict[str, Any], fold: Fold) -> np.ndarray:
        probs = np.full(labels.y.shape[:1] + (labels.num_outputs,), np.nan)
        scored = np.concatenate([fold.val, fold.test])
        if labels.task == "multiclass":
            y = labels.y[fold.train, 0]
            probs[scored] = _fit_predict(method, setting, seed, x[fold.train], y, x[scored],
                                         labels.num_outputs)
            return probs
        for t in range(labels.num_outputs):
            rows = fold.train[~np.isnan(labels.y[fold.train, t])]
            probs[scored, t] = _fit_predict(method, setting, seed, x[rows], labels.y[rows, t],
                                            x[scored], 2)[:, 1]
        return probs

    return predict


def propagation_matrix(graph: GeneGraph) -> sp.csr_matrix:
    """S = D^-½ W D^-½ ``[num_genes, num_genes]`` from the weighted, symmetric adjacency W
    (an isolated gene's row is zero)."""
    ei = graph.data.edge_index.numpy()
    w = graph.data.edge_weight.numpy().astype(np.float64)
    n = graph.num_genes
    adjacency = sp.csr_matrix((w, (ei[1], ei[0])), shape=(n, n))  # duplicates are summed
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros(n), where=degree > 0)
    return sp.csr_matrix(sp.diags(scale) @ adjacency @ sp.diags(scale))


def _seeds(labels: NodeLabels, train: np.ndarray) -> np.ndarray:
    """Y ``[num_genes, 2 · tasks]`` (negative, positive per task) or ``[num_genes, classes]``:
    the training genes' labels, each column summing to one."""
    y = labels.y[train]
    if labels.task == "multiclass":
        columns = [y[:, 0] == c for c in range(labels.num_outputs)]
    else:
        columns = [y[:, t] == v for t in range(labels.num_outputs) for v in (0, 1)]
    seeds = np.zeros((labels.y.shape[0], len(columns)))
    for j, column in enumerate(columns):
        seeds[train[column], j] = 1.0 / max(column.sum(), 1)
    return seeds


def _propagate(s: sp.csr_matrix, seeds: np.ndarray, alpha: float) -> np.ndarray:
    f = seeds
    for _ in range(LP_ITERATIONS):
        f = alpha * (s @ f) + (1 - alpha) * seeds
    return f


def _margins(f: np.ndarray) -> np.ndarray:
    """Each class's mass minus the largest other class's, over the last axis: positive for
    the class Zhou et al.'s rule (argmax) picks, negative for the others."""
    top2 = np.sort(f, axis=-1)[..., -2:]
    other = np.where(f == top2[..., 1:], top2[..., :1], top2[..., 1:])
    return f - other


def _class_scores(f: np.ndarray, labels: NodeLabels) -> np.ndarray:
    """Propagated mass ``[num_genes, seeds]`` → scores ``[num_genes, outputs]`` in [0, 1].

    The score is 0.5 + the class's margin scaled by its largest magnitude over the genes: it
    ranks genes by the margin (a gene's total mass counts, so closeness to many positives
    does), and 0.5 is the argmax decision, so F1 and accuracy score Zhou's classification.
    A gene no label reached scores 0.5.
    """
    groups = f.shape[1] if labels.task == "multiclass" else 2
    margin = _margins(f.reshape(len(f), -1, groups))
    margin = margin[:, 0, :] if labels.task == "multiclass" else margin[:, :, 1]
    scale = np.abs(margin).max(axis=0)
    return 0.5 + 0.5 * np.divide(margin, scale, out=np.zeros_like(margin), where=scale > 0)


def propagation_predictor(graph: GeneGraph, labels: NodeLabels) -> Predict:
    """Label propagation over ``graph`` from each fold's training genes."""
    s = propagation_matrix(graph)

    def predict(setting: dict[str, Any], fold: Fold) -> np.ndarray:
        f = _propagate(s, _seeds(labels, fold.train), setting["alpha"])
        return _class_scores(f, labels)

    return predict


def _score(labels: NodeLabels, probs: np.ndarray, nodes: np.ndarray) -> float:
    return evaluate(labels, probs, nodes)[SELECT] if len(nodes) else math.nan


def _first_best(scores: list[float]) -> int:
    """Index of the highest finite score; the first on ties or when none is finite."""
    finite = [s if math.isfinite(s) else -math.inf for s in scores]
    return int(np.argmax(finite)) if any(math.isfinite(s) for s in scores) else 0


def cross_validate_baseline(predict: Predict, settings: list[dict[str, Any]],
                            labels: NodeLabels, folds: list[Fold]) -> dict[str, Any]:
    """One method over the folds: per fold, the setting with the best validation score,
    scored on the fold's test genes.

    Returns ``{"mean", "std", "folds"}`` of the test metrics (as the GNN's ``cv``), the chosen
    ``settings`` and their validation scores (``val_<SELECT>``) per fold, and ``seconds``.
    """
    start = time.perf_counter()
    results, chosen, val_scores = [], [], []
    for fold in folds:
        probs = [predict(setting, fold) for setting in settings]
        scores = [_score(labels, p, fold.val) for p in probs]
        best = _first_best(scores)
        results.append(evaluate(labels, probs[best], fold.test))
        chosen.append(settings[best])
        val_scores.append(scores[best])
    mean, std = summarise(results)
    return {"mean": mean, "std": std, "folds": results, "settings": chosen,
            f"val_{SELECT}": val_scores, "seconds": round(time.perf_counter() - start, 2)}


def fit_gene_baselines(graph: GeneGraph, x: sp.csr_matrix, labels: NodeLabels,
                       folds: list[Fold], seed: int = 0) -> dict[str, Any]:
    """Logistic regression, MLP and label propagation cross-validated on ``folds``.

    Shapes: ``x`` ``[num_genes, n_features]``. Returns ``{method: cross_validate_baseline's
    dict, ..., "best": the method with the highest mean validation score}``.
    """
    methods: dict[str, tuple[Predict, list[dict[str, Any]]]] = {
        "logreg": (feature_predictor("logreg", x, labels, seed), [{"C": c} for c in LOGREG_C]),
        "mlp": (feature_predictor("mlp", x, labels, seed), list(MLP_SETTINGS)),
        "label_propagation": (propagation_predictor(graph, labels),
                              [{"alpha": a} for a in LP_ALPHA]),
    }
    out: dict[str, Any] = {}
    for name, (predict, settings) in methods.items():
        out[name] = cross_validate_baseline(predict, settings, labels, folds)
        log.info("baseline %s: CV AUPRC %.3f ± %.3f, AUROC %.3f ± %.3f (%.1f s)", name,
                 out[name]["mean"]["pr_auc"], out[name]["std"]["pr_auc"],
                 out[name]["mean"]["roc_auc"], out[name]["std"]["roc_auc"], out[name]["seconds"])
    val = [_mean(out[name][f"val_{SELECT}"]) for name in methods]
    out["best"] = list(methods)[_first_best(val)]
    return out


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan
