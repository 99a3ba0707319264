"""The audit's picture: each attack's ROC curve on log-log axes, where the low false-positive
rates that matter for privacy (Carlini et al. 2022) are visible, with the diagonal of a
guess."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from molgraph.plots.figures import _figure, _save


def roc_picture(curves: dict[str, tuple[np.ndarray, np.ndarray, float, str]],
                path: str | Path, least_fpr: float, title: str) -> Path:
    """Write ``path`` (PNG): one curve per ``label → (fpr, tpr, auc, linestyle)`` (arrays of
    the ROC's points), both axes logarithmic from half of ``least_fpr`` (the smallest FPR the
    non-members resolve) to 1."""
    fig, axes = _figure(1, 1, (5.5, 5.0))
    ax = axes[0, 0]
    floor = least_fpr / 2
    colours = {}
    for label, (fpr, tpr, auc, style) in curves.items():
        colour = colours.setdefault(label.split(",")[0], f"C{len(colours)}")
        ax.plot(np.maximum(fpr, floor), np.maximum(tpr, floor), color=colour, linestyle=style,
                label=f"{label} (AUC {auc:.3f})")
    ax.plot([floor, 1], [floor, 1], color="grey", linestyle="--", label="guessing")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1.05)
    ax.set_xlabel("false-positive rate (non-members called members)")
    ax.set_ylabel("true-positive rate (members found)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)
