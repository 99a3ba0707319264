"""The figures: learning curves, parity plots and ROC / precision-recall curves.

Each function draws one PNG at ``path`` (parent folders are made) and returns the path. Arrays
are ``[n_molecules]`` or ``[n_molecules, n_targets]``; NaN marks a missing label (or a molecule
that could not be predicted) and is left out target by target, never imputed.
"""

from __future__ import annotations

import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Resolution of every PNG written here.
DPI = 120

#: Pretty names of the metrics molgraph computes.
METRIC_LABELS = {"rmse": "RMSE", "mae": "MAE", "r2": "R²", "roc_auc": "ROC-AUC",
                 "pr_auc": "PR-AUC", "f1": "F1", "auprc": "AUPRC", "auroc": "AUROC"}

_HIGHER_IS_BETTER = ("auc", "auprc", "auroc", "r2", "acc", "f1", "precision", "recall")

#: Words a target name may start with that an axis label puts in front of it itself
#: (ESOL's "measured log solubility in mols per litre").
_QUALIFIERS = ("measured", "observed", "experimental", "predicted", "true", "actual")

#: Characters of a label or title per inch of the width it spans (10-11 pt text).
CHARS_PER_INCH = 12


def metric_label(metric: str) -> str:
    name = metric.removeprefix("val_")
    return METRIC_LABELS.get(name, name)


def wrap(text: str, width_inches: float) -> str:
    """``text`` broken into lines that fit ``width_inches`` (matplotlib does not wrap, and
    constrained layout cannot shrink a label longer than its figure); its own line breaks
    stay."""
    width = max(12, int(width_inches * CHARS_PER_INCH))
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) or line
                     for line in str(text).split("\n"))


def qualified(prefix: str, name: str) -> str:
    """``prefix name`` without doubling a word: ``qualified("predicted", "measured logS")`` is
    ``predicted logS``, ``qualified("measured", "measured logS")`` is ``measured logS``."""
    first, _, rest = str(name).partition(" ")
    core = rest if first.lower() in _QUALIFIERS and rest else str(name)
    own = core.lower() == prefix.lower() or core.lower().startswith(f"{prefix.lower()} ")
    return core if own else f"{prefix} {core}"


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` (``rmse``, ``val_roc_auc``...) is better."""
    name = metric.removeprefix("val_").lower()
    return any(key in name for key in _HIGHER_IS_BETTER)


def _figure(nrows: int, ncols: int, panel: tuple[float, float], **kwargs: Any):
    """A bare Agg figure (no pyplot: nothing global to close) and its ``[nrows, ncols]`` axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI)
    finally:
        fig.clear()  # drop the artists now rather than at the next garbage collection
    return path


def _as_2d(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array.reshape(-1, 1) if array.ndim == 1 else array


def _names(names: str | Sequence[str], n: int) -> list[str]:
    names = [names] if isinstance(names, str) else [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"{len(names)} names for {n} targets")
    return names


def learning_curves(history: pd.DataFrame | Sequence[dict[str, float]], path: str | Path,
                    metric: str, best_epoch: int | None = None,
                    title: str | None = None) -> Path:
    """Training loss (top) and the validation ``metric`` (bottom) per epoch, the kept (best)
    epoch marked in both.

    ``history``: one row per epoch with ``epoch``, ``train_loss`` and ``val_<metric>`` columns
    (``history.csv`` of a run); epochs are shown as that column holds them. ``metric``: ``rmse``
    or ``val_rmse`` alike. ``best_epoch``: the value of the ``epoch`` column that was kept
    (``metrics.json``'s ``best_epoch``, taken as is); by default the best value of the metric.
    """
    return _save(learning_figure(history, metric, best_epoch, title), path)


def learning_figure(history: pd.DataFrame | Sequence[dict[str, float]], metric: str,
                    best_epoch: int | None = None, title: str | None = None):
    """The figure :func:`learning_curves` saves."""
    from matplotlib.ticker import MaxNLocator

    history = pd.DataFrame(history)
    column = metric if metric in history else f"val_{metric}"
    if column not in history:
        raise ValueError(f"history has no column {column!r} (it has {list(history.columns)})")
    if history.empty:
        raise ValueError("history has no epochs")
    epochs = (history["epoch"] if "epoch" in history else pd.Series(range(len(history))))
    epochs = epochs.to_numpy(dtype=float)
    values = history[column].to_numpy(dtype=float)
    higher = higher_is_better(column)
    if best_epoch is None and np.isfinite(values).any():
        best_epoch = int(epochs[np.nanargmax(values) if higher else np.nanargmin(values)])
    at_best = np.flatnonzero(epochs == best_epoch) if best_epoch is not None else []
    label = metric_label(column)

    has_loss = "train_loss" in history and np.isfinite(history["train_loss"]).any()
    fig, axes = _figure(2 if has_loss else 1, 1, (6.4, 2.7), sharex=True)
    marker = "o" if len(epochs) <= 60 else None
    if has_loss:
        loss_ax = axes[0, 0]
        loss = history["train_loss"].to_numpy(dtype=float)
        loss_ax.plot(epochs, loss, color="tab:blue", marker=marker, ms=3, lw=1.5)
        finite = loss[np.isfinite(loss)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 30:
            loss_ax.set_yscale("log")
        loss_ax.set_ylabel("training loss")
    metric_ax = axes[-1, 0]
    metric_ax.plot(epochs, values, color="tab:orange", marker=marker, ms=3, lw=1.5,
                   label=f"validation {label}")
    metric_ax.set_ylabel(f"validation {label}")
    metric_ax.set_xlabel("epoch")
    heading = title or "Learning curves"
    if len(at_best):
        best_value = values[at_best[0]]
        for ax in axes[:, 0]:
            ax.axvline(best_epoch, color="tab:green", ls="--", lw=1)
        metric_ax.plot([best_epoch], [best_value], marker="*", ms=13, color="tab:green",
                       ls="none", label=f"kept: epoch {best_epoch} ({label} {best_value:.3g})")
        metric_ax.legend(loc="best", fontsize=8)
        heading += f": best epoch {best_epoch}, validation {label} = {best_value:.3g}"
        heading += " (higher is better)" if higher else " (lower is better)"
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
    if len(epochs) <= 12:  # whole epochs, not 0.5 steps
        metric_ax.set_xticks(epochs)
    else:
        metric_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(wrap(heading, 6.4), fontsize=10)
    return fig


def _regression_scores(yt: np.ndarray, yp: np.ndarray) -> tuple[float, float, float]:
    """RMSE, MAE and R² (NaN when undefined) of the finite pairs."""
    if len(yt) == 0:
        return math.nan, math.nan, math.nan
    err = yp - yt
    rmse, mae = float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)))
    total = float(np.sum((yt - yt.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err ** 2)) / total if len(yt) > 1 and total > 0 else math.nan
    return rmse, mae, r2


def _fmt(value: float, spec: str = ".3g") -> str:
    return "n/a" if not math.isfinite(value) else format(value, spec)


def parity_plot(y_true: Any, y_pred: Any, names: str | Sequence[str], path: str | Path,
                title: str = "Test set: predicted vs measured", max_panels: int = 4,
                references: Mapping[str, Sequence[float]] | None = None) -> Path:
    """Predicted against measured values, one panel per target (the first ``max_panels``),
    with the y = x line and the panel's RMSE, MAE, R² and number of molecules.

    Pairs with a NaN label or prediction are left out of that target's panel and scores.
    ``references``: other models' RMSE on the same molecules, one per target, by label
    (``{"ECFP4 baseline (RF)": [0.70]}``), written under the panel's scores.
    """
    return _save(parity_figure(y_true, y_pred, names, title, max_panels, references), path)


def parity_figure(y_true: Any, y_pred: Any, names: str | Sequence[str],
                  title: str = "Test set: predicted vs measured", max_panels: int = 4,
                  references: Mapping[str, Sequence[float]] | None = None):
    """The figure :func:`parity_plot` saves."""
    y_true, y_pred = _as_2d(y_true), _as_2d(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} differ")
    names = _names(names, y_true.shape[1])
    shown = max(1, min(len(names), max_panels))
    ncols = shown if shown <= 3 else 2
    nrows = math.ceil(shown / ncols)
    panel = (4.4, 4.3)
    fig, axes = _figure(nrows, ncols, panel)
    for j in range(nrows * ncols):
        ax = axes.flat[j]
        if j >= shown:
            ax.set_axis_off()
            continue
        name, yt, yp = names[j], y_true[:, j], y_pred[:, j]
        keep = np.isfinite(yt) & np.isfinite(yp)
        yt, yp = yt[keep], yp[keep]
        ax.set_xlabel(wrap(qualified("measured", name), 0.75 * panel[0]))
        ax.set_ylabel(wrap(qualified("predicted", name), 0.75 * panel[1]))
        ax.set_title(wrap(name, 0.9 * panel[0]), fontsize=10)
        if len(yt) == 0:
            ax.text(0.5, 0.5, "no labelled molecules", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        big = len(yt) > 500
        ax.scatter(yt, yp, s=6 if big else 16, alpha=0.35 if big else 0.65,
                   color="tab:blue", edgecolors="none")
        lo, hi = float(min(yt.min(), yp.min())), float(max(yt.max(), yp.max()))
        pad = 0.05 * (hi - lo) or 0.5
        lo, hi = lo - pad, hi + pad
        ax.plot([lo, hi], [lo, hi], color="black", ls="--", lw=1, label="y = x")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        ax.grid(alpha=0.3)
        rmse, mae, r2 = _regression_scores(yt, yp)
        left_out = int((~keep).sum())
        text = (f"RMSE {_fmt(rmse)}\nMAE {_fmt(mae)}\nR² {_fmt(r2, '.3f')}\n"
                f"n = {len(yt)}" + (f" ({left_out} missing)" if left_out else ""))
        box = {"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"}
        ax.text(0.04, 0.96, text, transform=ax.transAxes, va="top", ha="left", fontsize=8.5,
                bbox=box)
        others = [f"{label}: RMSE {_fmt(float(scores[j]))}"
                  for label, scores in (references or {}).items()
                  if j < len(scores) and scores[j] is not None and math.isfinite(scores[j])]
        if others:  # the corner a parity plot leaves empty: measured high, predicted low
            ax.text(0.96, 0.04, "same molecules:\n" + "\n".join(others), transform=ax.transAxes,
                    va="bottom", ha="right", fontsize=8, bbox=box)
    if len(names) > shown:
        title += f" (first {shown} of {len(names)} targets)"
    fig.suptitle(wrap(title, panel[0] * ncols), fontsize=11)
    return fig


def roc_pr_curves(y_true: Any, y_score: Any, names: str | Sequence[str], path: str | Path,
                  title: str = "Test set", thin_above: int = 6) -> Path | None:
    """ROC (left) and precision-recall (right) curves per task, ROC-AUC and average precision
    (PR-AUC, as molgraph scores it) in the legend and their means over tasks in the titles.

    Molecules with a NaN label or score are masked task by task; a task whose labelled
    molecules hold one class only has no curve and is named in the title as left out. More
    than ``thin_above`` tasks (Tox21's 12) are drawn thin with one shared legend. Returns
    ``None`` (and writes nothing) when no task has both classes.
    """
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    if y_true.shape != y_score.shape:
        raise ValueError(f"labels {y_true.shape} and scores {y_score.shape} differ")
    names = _names(names, y_true.shape[1])
    many = len(names) > thin_above
    fig, axes = _figure(1, 2, (4.6, 4.4))
    roc_ax, pr_ax = axes[0]
    cmap = _colormap("tab20" if len(names) > 10 else "tab10")
    aucs, aps, skipped, handles = [], [], [], []
    for j, name in enumerate(names):
        keep = np.isfinite(y_true[:, j]) & np.isfinite(y_score[:, j])
        yt, ys = y_true[keep, j], y_score[keep, j]
        if len(np.unique(yt)) < 2:
            skipped.append(name)
            continue
        auc, ap = float(roc_auc_score(yt, ys)), float(average_precision_score(yt, ys))
        aucs.append(auc)
        aps.append(ap)
        fpr, tpr, _ = roc_curve(yt, ys)
        precision, recall, _ = precision_recall_curve(yt, ys)
        style = {"lw": 0.9 if many else 1.8, "alpha": 0.7 if many else 0.95,
                 "color": cmap(j % cmap.N)}
        (line,) = roc_ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.2f})", **style)
        pr_ax.step(recall, precision, where="post", label=f"{name} (AP {ap:.2f})", **style)
        if not many:  # what a random ranking scores: the share of actives
            pr_ax.axhline(float(yt.mean()), color=style["color"], ls=":", lw=1)
        handles.append((line, f"{name}: AUC {auc:.2f}, AP {ap:.2f} (n = {len(yt)})"))
    if not aucs:
        log.warning("no ROC/PR curves for %s: no task has both classes among its labels", path)
        fig.clear()
        return None
    roc_ax.plot([0, 1], [0, 1], color="black", ls="--", lw=1, label="chance")
    for ax, (xlabel, ylabel) in ((roc_ax, ("false positive rate", "true positive rate")),
                                 (pr_ax, ("recall", "precision"))):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.02)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    over = f" (mean of {len(aucs)} tasks)" if len(aucs) > 1 else ""
    roc_ax.set_title(f"ROC: AUC {np.mean(aucs):.3f}{over}", fontsize=10)
    pr_ax.set_title(f"Precision-recall: AP {np.mean(aps):.3f}{over}", fontsize=10)
    if many:
        fig.legend([h for h, _ in handles], [text for _, text in handles],
                   loc="outside lower center", ncol=min(3, len(handles)), fontsize=7,
                   frameon=False)
    else:
        roc_ax.legend(loc="lower right", fontsize=7.5)
        pr_ax.legend(loc="upper right", fontsize=7.5)
    if skipped:
        listed = ", ".join(skipped[:6]) + (f" and {len(skipped) - 6} more" if len(skipped) > 6
                                           else "")
        title += f"\nleft out (one class only among the labels): {listed}"
    fig.suptitle(wrap(title, 9.2), fontsize=10)
    return _save(fig, path)


def _colormap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]
