"""The pictures of a training run directory, as ``molgraph train`` writes it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from molgraph.plots.figures import learning_curves, parity_plot, roc_pr_curves

log = logging.getLogger(__name__)

#: The validation column that picks the best epoch, by task; the first one found wins.
MONITORED = ("val_rmse", "val_roc_auc")


def monitored_column(history: pd.DataFrame) -> str | None:
    """``val_rmse`` (regression) or ``val_roc_auc`` (classification), else the first
    ``val_*`` column, else ``None``."""
    for column in MONITORED:
        if column in history:
            return column
    return next((c for c in history.columns if str(c).startswith("val_")), None)


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """``run_dir/metrics.json``, or ``{}`` (with a log line when it is unreadable)."""
    path = run_dir / "metrics.json"
    if not path.exists():
        return {}
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        log.warning("cannot read %s (%s): plots use defaults", path, err)
        return {}
    return metrics if isinstance(metrics, dict) else {}


def write_run_plots(run_dir: str | Path) -> list[Path]:
    """Write ``run_dir/plots/learning_curves.png`` (from ``history.csv``) and
    ``run_dir/plots/parity.png`` (regression) or ``run_dir/plots/roc_pr.png``
    (classification, from ``test_predictions.csv``); return the files written.

    A missing or unreadable input skips its picture with a log line; this never raises for
    a picture that cannot be drawn.
    """
    run_dir = Path(run_dir)
    out = run_dir / "plots"
    metrics = read_metrics(run_dir)
    written: list[Path] = []
    history = None
    task = metrics.get("task")

    if (run_dir / "history.csv").exists():
        try:
            history = pd.read_csv(run_dir / "history.csv")
            column = monitored_column(history)
            if column is None:
                raise ValueError("history.csv has no val_* column")
            best = metrics.get("best_epoch")
            best = int(best) if isinstance(best, (int, float)) and best >= 0 else None
            written.append(learning_curves(history, out / "learning_curves.png", column, best))
        except Exception as err:  # a picture never fails a run
            log.warning("learning curves of %s not drawn: %s: %s", run_dir,
                        type(err).__name__, err)
    else:
        log.info("no %s: no learning curves", run_dir / "history.csv")

    if task is None and history is not None:
        task = "classification" if "val_roc_auc" in history else "regression"
    title = "Test set" + (" (GNN blended with the ECFP4 SVM)" if metrics.get("blend") else "")
    written.extend(prediction_plots(run_dir / "test_predictions.csv", out, task, title=title,
                                    references=reference_scores(metrics, "test")))
    return written


def reference_scores(metrics: dict[str, Any], split: str) -> dict[str, dict[str, float]]:
    """The scores on ``split`` of the other models ``metrics.json`` holds, by label: the ECFP4
    baseline the run fitted and, for a blended run, its GNN alone."""
    found: dict[str, dict[str, float]] = {}
    baseline = metrics.get("baseline")
    if isinstance(baseline, dict) and isinstance(baseline.get(split), dict):
        best = baseline.get("best")
        found[f"baseline ({str(best).upper()}, ECFP4)" if best else "ECFP4 baseline"] = (
            baseline[split])
    gnn = metrics.get("blend", {}).get("gnn") if isinstance(metrics.get("blend"), dict) else None
    if isinstance(gnn, dict) and isinstance(gnn.get(split), dict):
        found["GNN alone"] = gnn[split]
    return found


def _per_target(scores: dict[str, float], metric: str, n: int) -> list[float | None]:
    """``metric`` per target from a scores dict (``rmse_0``, ``rmse_1``... or ``rmse`` for
    one target)."""
    values = [scores.get(f"{metric}_{j}") for j in range(n)]
    if n == 1 and values[0] is None:
        values = [scores.get(metric)]
    return [float(v) if isinstance(v, (int, float)) else None for v in values]


def prediction_plots(predictions: str | Path, out: str | Path, task: str | None,
                     stem: str = "", title: str = "Test set",
                     references: dict[str, dict[str, float]] | None = None) -> list[Path]:
    """``out/<stem>parity.png`` (regression) or ``out/<stem>roc_pr.png`` (classification)
    from a predictions CSV as molgraph writes them (``row``, ``smiles``, then ``<name>`` and
    ``<name>_pred`` per target); ``[]`` with a log line when it cannot be drawn.
    ``references``: other models' scores on the same molecules (:func:`reference_scores`),
    whose RMSE the parity plot shows beside the model's."""
    predictions, out = Path(predictions), Path(out)
    if not predictions.exists():
        log.info("no %s: no prediction pictures", predictions)
        return []
    try:
        frame = pd.read_csv(predictions)
        names = [c for c in frame.columns
                 if c not in ("row", "smiles") and f"{c}_pred" in frame.columns]
        if not names:
            raise ValueError(f"{predictions.name} has no <name>, <name>_pred column pairs")
        labels = frame[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        preds = frame[[f"{n}_pred" for n in names]].apply(
            pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        if task == "classification":
            path = roc_pr_curves(labels, preds, names, out / f"{stem}roc_pr.png", title=title)
            return [] if path is None else [path]
        rmse = {label: _per_target(scores, "rmse", len(names))
                for label, scores in (references or {}).items()}
        return [parity_plot(labels, preds, names, out / f"{stem}parity.png",
                            title=f"{title}: predicted vs measured", references=rmse)]
    except Exception as err:
        log.warning("pictures of %s not drawn: %s: %s", predictions, type(err).__name__, err)
        return []
