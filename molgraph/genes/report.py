"""What a gene run reports: the cross-validation table ``molgraph genes train`` prints, and the
CV scores an MLflow run records (one value each, the task as a tag)."""

from __future__ import annotations

from typing import Any

from molgraph.training.report import metrics_table


def main_metrics(task: str) -> tuple[str, ...]:
    """The columns of the printed table: argmax accuracy and macro-F1 lead for multi-class."""
    if task == "multiclass":
        return ("accuracy", "macro_f1", "roc_auc", "pr_auc")
    return ("pr_auc", "roc_auc", "f1")


def cv_table(metrics: dict) -> str:
    """Mean CV test metrics of the GNN, each baseline, and GNN − the baseline chosen on
    validation (marked ``*``), one row each."""
    columns = main_metrics(metrics["task"])
    gnn = metrics["cv"]["mean"]
    rows = {metrics["model"]: gnn}
    baseline = metrics.get("baseline")
    if baseline is not None:
        best = baseline["best"]
        rows.update({name + ("*" if name == best else ""): block["mean"]
                     for name, block in baseline.items() if name != "best"})
        rows[f"{metrics['model']} − {best}"] = {k: gnn[k] - baseline[best]["mean"][k]
                                                for k in columns}
    return metrics_table(rows, columns, tuple(rows))


def log_cv(tracker: Any, metrics: dict) -> None:
    """The task (known once the labels are read) as a tag, the CV means and SDs and the
    chosen baseline's means as metrics."""
    cv = metrics["cv"]
    tracker.set_tags({"molgraph.task": f"genes/{metrics['task']}"})
    values = {**{f"cv_{k}_mean": v for k, v in cv["mean"].items()},
              **{f"cv_{k}_std": v for k, v in cv["std"].items()},
              "final_epochs": metrics["final_epochs"]}
    if "baseline" in metrics:
        best = metrics["baseline"]["best"]
        tracker.set_tags({"molgraph.baseline": best})
        values.update({f"baseline_{k}_mean": v
                       for k, v in metrics["baseline"][best]["mean"].items()})
    tracker.log_metrics(values, step=0)
