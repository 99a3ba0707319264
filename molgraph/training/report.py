"""What a training run prints: what was chosen and why, then an aligned table of the scores.

``molgraph train`` prints :func:`run_summary`; a notebook gets the same text from
``print(run.summary())``. Scores are printed with fixed decimals so that columns line up, and
the comparison with the in-run baseline is said in words (better or worse), not left to the
sign of a difference whose meaning flips between RMSE and R².
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from molgraph.training.metrics import monitored_metric

#: the columns printed per task
MAIN_METRICS = {"regression": ("rmse", "mae", "r2"),
                "classification": ("roc_auc", "pr_auc", "f1")}


def _cell(value: Any) -> str:
    """A score with 4 decimals (``n/a`` for a missing one)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if math.isnan(number) else f"{number:.4f}"


def metrics_table(metrics: dict[str, dict[str, float]], columns: Sequence[str],
                  rows: Sequence[str] = ("val", "test")) -> str:
    """An aligned table of ``metrics[row][column]``, 4 decimals::

                rmse     mae      r2
        val   1.0320  0.8123  0.6411
        test  1.1040  0.8502  0.5980
    """
    cells = [["", *columns]]
    cells += [[row, *(_cell(metrics.get(row, {}).get(c, math.nan)) for c in columns)]
              for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join([line[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(line[1:], widths[1:])])
        .rstrip() for line in cells)


def _better(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def chosen_model(run: Any) -> str:
    """One line on the model the run kept and why, e.g. ``model: 0.6 × dmpnn + 0.4 × SVM
    (ECFP4), weight chosen on validation: rmse 0.701 (dmpnn alone 0.760, SVM alone 0.735)``."""
    name = run.config.model.name
    if run.config.ensemble_size > 1:
        name = f"an ensemble of {run.config.ensemble_size} {name} models"
    metric, _ = monitored_metric(run.config.task)
    privacy = getattr(getattr(run, "fit", None), "privacy", None)
    if privacy is not None:
        return (f"model: {name} alone, differentially private: ε {privacy['epsilon_spent']:.2f} "
                f"spent of {privacy['epsilon_target']:g} at δ {privacy['delta']:.2g} (clipping "
                f"norm {privacy['max_grad_norm']:g}, noise multiplier "
                f"{privacy['noise_multiplier']:.2f}; not blended)")
    if run.blend is None:
        why = "--no-blend" if not run.config.blend else "not blended"
        return f"model: {name} alone ({why})"
    weights = run.blend["weights"]
    gnn, svm = run.blend["gnn"]["val"], run.blend["svm"]["val"]
    scores = (f"validation {metric} {_cell(run.metrics['val'].get(metric))} ({name} alone "
              f"{_cell(gnn.get(metric))}, SVM alone {_cell(svm.get(metric))})")
    if len(weights) > 1:
        shares = ", ".join(f"{t} {w:.1f}" for t, w in weights.items())
        return f"model: {name} blended with an SVM on ECFP4, {name}'s share per target " \
            f"chosen on validation: {shares}; {scores}"
    w = next(iter(weights.values()))
    if w >= 1.0:
        return f"model: {name} alone, chosen on validation over any blend with the ECFP4 " \
            f"SVM: {scores}"
    if w <= 0.0:
        return f"model: the ECFP4 SVM alone, chosen on validation over {name} and every " \
            f"blend: {scores}"
    return f"model: {w:.1f} × {name} + {1 - w:.1f} × SVM (ECFP4), the share chosen on " \
        f"validation: {scores}"


def baseline_verdict(run: Any) -> str | None:
    """One line comparing the kept model with the in-run ECFP baseline on test."""
    if run.baseline is None or "test" not in run.metrics:
        return None
    metric, higher = monitored_metric(run.config.task)
    ours, theirs = run.metrics["test"].get(metric), run.baseline["test"].get(metric)
    if ours is None or theirs is None or math.isnan(ours) or math.isnan(theirs):
        return None
    verdict = "better than" if _better(ours, theirs, higher) else \
        "no better than" if ours == theirs else "worse than"
    return f"on test the model is {verdict} the ECFP4 baseline ({run.baseline['best']}): " \
        f"{metric} {_cell(ours)} vs {_cell(theirs)}"


def run_summary(run: Any) -> str:
    """What was chosen and why, the scores table (validation, test, each part of a blend
    alone, the baseline) and the verdict against the baseline."""
    columns = MAIN_METRICS[run.config.task]
    rows = {part: run.metrics[part] for part in ("val", "test") if part in run.metrics}
    if run.blend is not None and "test" in run.blend["gnn"]:
        rows[f"{run.config.model.name} alone test"] = run.blend["gnn"]["test"]
        rows["svm (train+val) alone test"] = run.blend["svm"]["test"]
    if run.baseline is not None:
        rows[f"baseline {run.baseline['best']} test"] = run.baseline["test"]
    lines = [chosen_model(run), metrics_table(rows, columns, tuple(rows))]
    verdict = baseline_verdict(run)
    return "\n".join(lines + ([verdict] if verdict else []))
