"""Pictures of a sweep, in ``DIR/plots/``: the optimization history, the hyperparameter
importances, the best trial's learning curves and every trial's validation curve.

Every picture is optional: one that cannot be drawn (too few trials, nothing varied, a trial
directory not kept...) is skipped with a log line, never an error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna

from molgraph.plots import DPI, learning_curves, prediction_plots

log = logging.getLogger(__name__)

_COMPLETE = (optuna.trial.TrialState.COMPLETE,)


@contextlib.contextmanager
def _pyplot() -> Iterator[Any]:
    """pyplot on the Agg backend (when nothing chose one before), with optuna's style changes
    (``plt.style.use("ggplot")``) undone on leaving and its ExperimentalWarning silenced."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield plt


def _save_axes(plt: Any, axes: Any, path: Path) -> Path:
    """Save the figure of the axes optuna returned (one Axes or an array of them), and close
    it."""
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    fig = first.get_figure()
    try:
        fig.set_layout_engine("constrained")
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)
    return path


def _drawn(name: str, path: Path, draw: Callable[[], Any]) -> Path | None:
    try:
        with _pyplot() as plt:
            return _save_axes(plt, draw(), path)
    except Exception as err:  # a picture never fails a sweep
        log.warning("sweep picture %s not drawn: %s: %s", name, type(err).__name__, err)
        return None


def _labelled(ax: Any, xlabel: str, ylabel: str) -> Any:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def _varied_params(trials: list[optuna.trial.FrozenTrial]) -> list[str]:
    """The parameters that took more than one value among ``trials``."""
    values: dict[str, set[str]] = {}
    for trial in trials:
        for name, value in trial.params.items():
            values.setdefault(name, set()).add(repr(value))
    return sorted(name for name, seen in values.items() if len(seen) > 1)


def _best_epoch(directory: Path, trial: optuna.trial.FrozenTrial) -> int | None:
    try:
        best = json.loads((directory / "metrics.json").read_text()).get("best_epoch")
    except (OSError, ValueError, AttributeError):
        best = trial.user_attrs.get("best_epoch")
    return int(best) if isinstance(best, (int, float)) and best >= 0 else None


def write_sweep_plots(study: optuna.Study, out: str | Path, metric: str) -> list[Path]:
    """Write into ``out/plots/``, each when it can be drawn:

    - ``optimization_history.png``: every complete trial's validation ``metric`` and the best
      so far;
    - ``param_importances.png``: fANOVA importances (seeded) of the parameters that varied,
      from two complete trials on;
    - ``best_learning_curves.png``: the best trial's ``out/trials/NNNN/history.csv``;
    - ``best_validation_parity.png`` (regression) or ``best_validation_roc_pr.png``: the best
      model on the validation set (``out/best/val_predictions.csv``; the test set is only
      scored by ``--seeds``, whose runs have their own pictures);
    - ``intermediate_values.png``: every trial's per-epoch validation curve (pruned trials stop
      early), when any trial reported one.

    ``metric``: the monitored validation metric (``rmse``, ``roc_auc``...). Returns the files
    written.
    """
    out = Path(out)
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    from optuna.visualization import matplotlib as optuna_plots

    target = f"validation {metric}"
    trials = study.get_trials(deepcopy=False)
    complete = study.get_trials(deepcopy=False, states=_COMPLETE)
    written: list[Path | None] = []
    if not complete:
        log.info("no complete trial: no sweep pictures")
        return []

    written.append(_drawn("optimization history", plots / "optimization_history.png",
                          lambda: optuna_plots.plot_optimization_history(
                              study, target_name=target)))

    varied = _varied_params(complete)
    if len(complete) < 2 or not varied:
        log.info("parameter importances need two complete trials and a parameter that varied "
                 "(%d complete, varied: %s): not drawn", len(complete), varied or "none")
    else:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        written.append(_drawn("parameter importances", plots / "param_importances.png",
                              lambda: optuna_plots.plot_param_importances(
                                  study, evaluator=evaluator, params=varied,
                                  target_name=target)))

    written.append(_best_learning_curves(study, out, plots, metric))
    best = out / "best"  # molecules: the best trial's validation predictions
    if (best / "val_predictions.csv").exists():
        task = "classification" if metric == "roc_auc" else "regression"
        written.extend(prediction_plots(best / "val_predictions.csv", plots, task,
                                        "best_validation_", "Best trial, validation set"))

    if any(t.intermediate_values for t in trials):
        written.append(_drawn("intermediate values", plots / "intermediate_values.png",
                              lambda: _labelled(optuna_plots.plot_intermediate_values(study),
                                            "epoch", target)))
    else:
        log.info("no trial reported per-epoch values: no intermediate-values picture")
    return [path for path in written if path is not None]


def _best_learning_curves(study: optuna.Study, out: Path, plots: Path,
                          metric: str) -> Path | None:
    try:
        best = study.best_trial
        directory = out / "trials" / f"{best.number:04d}"
        history_csv = directory / "history.csv"
        if not history_csv.exists():
            log.info("no %s: no learning curves of the best trial", history_csv)
            return None
        import pandas as pd

        return learning_curves(pd.read_csv(history_csv), plots / "best_learning_curves.png",
                               metric, _best_epoch(directory, best),
                               title=f"Best trial {best.number}")
    except Exception as err:  # a picture never fails a sweep
        log.warning("best trial's learning curves not drawn: %s: %s", type(err).__name__, err)
        return None
