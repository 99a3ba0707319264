"""Metrics for regression and (multi-task) classification with missing labels.

Missing labels are NaN in ``y_true``; they are left out task by task, never imputed. A task whose
split holds a single class has no ROC-AUC: it is reported as NaN and left out of the average,
which is what MoleculeNet and Chemprop do.
"""

from __future__ import annotations

import math

import numpy as np

# sklearn is imported where it is used: it takes ~1 s, which a run that only loads a model
# (or a CLI that only builds its parser) should not pay.

REGRESSION_METRICS = ("rmse", "mae", "r2")
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc")


def _per_task(y_true: np.ndarray, y_pred: np.ndarray, task: int) -> tuple[np.ndarray, np.ndarray]:
    keep = ~np.isnan(y_true[:, task])
    return y_true[keep, task], y_pred[keep, task]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² per task (``rmse_<i>``) and averaged over tasks (``rmse``).

    Shapes: ``y_true`` and ``y_pred`` are ``[n_molecules, n_tasks]``; NaN in ``y_true`` = missing.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true, y_pred = np.atleast_2d(y_true.T).T, np.atleast_2d(y_pred.T).T
    out: dict[str, float] = {}
    for t in range(y_true.shape[1]):
        yt, yp = _per_task(y_true, y_pred, t)
        if len(yt) == 0:
            values = (math.nan,) * 3
        else:
            r2 = r2_score(yt, yp) if len(yt) > 1 else math.nan
            values = (math.sqrt(mean_squared_error(yt, yp)), mean_absolute_error(yt, yp), r2)
        for name, value in zip(REGRESSION_METRICS, values):
            out[f"{name}_{t}"] = float(value)
    return _with_means(out, REGRESSION_METRICS, y_true.shape[1])


def classification_metrics(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision) and F1 per task and averaged over tasks.

    Shapes: ``y_true`` (0/1, NaN = missing) and ``y_score`` (probabilities) are
    ``[n_items, n_tasks]``. F1 uses ``threshold`` on the probabilities.
    """
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    y_true, y_score = np.atleast_2d(y_true.T).T, np.atleast_2d(y_score.T).T
    names = (*CLASSIFICATION_METRICS, "f1")
    out: dict[str, float] = {}
    for t in range(y_true.shape[1]):
        yt, ys = _per_task(y_true, y_score, t)
        if len(np.unique(yt)) < 2:
            values = (math.nan,) * 3
        else:
            values = (
                roc_auc_score(yt, ys),
                average_precision_score(yt, ys),
                f1_score(yt, ys >= threshold, zero_division=0),
            )
        for name, value in zip(names, values):
            out[f"{name}_{t}"] = float(value)
    return _with_means(out, names, y_true.shape[1])


def _with_means(per_task: dict[str, float], names: tuple[str, ...],
                n_tasks: int) -> dict[str, float]:
    means = {}
    for name in names:
        values = [per_task[f"{name}_{t}"] for t in range(n_tasks)]
        finite = [v for v in values if not math.isnan(v)]
        means[name] = float(np.mean(finite)) if finite else math.nan
    return {**means, **per_task}


def compute_metrics(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Dispatch on ``task`` ("regression" or "classification")."""
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    return classification_metrics(y_true, y_pred)


def monitored_metric(task: str) -> tuple[str, bool]:
    """The validation metric that picks the best epoch, and whether higher is better."""
    return ("rmse", False) if task == "regression" else ("roc_auc", True)
