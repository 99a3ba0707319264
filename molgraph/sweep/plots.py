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
from molgraph.plots.figures import higher_is_better, wrap
from molgraph.plots.run import read_metrics, reference_scores

log = logging.getLogger(__name__)

_COMPLETE = (optuna.trial.TrialState.COMPLETE,)
#: Fewer complete trials than this: the importances picture says they are rough.
FEW_TRIALS = 5
#: More trials than this: the per-epoch picture has no legend (it would be taller than the plot).
LEGEND_TRIALS = 12


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


def _dressed(ax: Any, title: str, xlabel: str | None = None, ylabel: str | None = None,
             whole_x: bool = True, colour: str = "black") -> Any:
    """molgraph's look on an axes optuna drew: a white ground, a light grid, whole-number x
    ticks (trials, epochs: no 0.25 steps), labels named after the metric, the title wrapped
    over the whole figure (an axes title wider than its axes is cut by the figure's edge)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_facecolor("white")
    ax.grid(True, color="0.88", lw=0.8)
    if whole_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    for side in ("left", "center", "right"):  # a title over the whole figure, never wider
        ax.set_title("", loc=side)
    fig = ax.get_figure()
    fig.suptitle(wrap(title, fig.get_figwidth()), fontsize=11, color=colour)
    legend = ax.get_legend()
    for text in legend.get_texts() if legend is not None else ():
        if text.get_text() == "Best Value":
            text.set_text("best so far")
    return ax


def metric_name(study: optuna.Study, metric: str) -> str:
    """The study's name of its metric (``val_rmse``), as the dashboards show it."""
    names = getattr(study, "metric_names", None)
    return str(names[0]) if names else f"val_{metric}"


def _better(name: str) -> str:
    return "higher is better" if higher_is_better(name) else "lower is better"


def history_axes(study: optuna.Study, name: str) -> Any:
    """Every complete trial's value and the best so far, per trial number."""
    from optuna.visualization import matplotlib as optuna_plots

    ax = optuna_plots.plot_optimization_history(study, target_name=name)
    return _dressed(ax, f"{name} of each complete trial ({_better(name)})", "trial", name)


def importance_axes(study: optuna.Study, name: str, varied: list[str]) -> Any:
    """fANOVA importances (seeded) of the parameters that varied; with fewer than
    :data:`FEW_TRIALS` complete trials the title says they are rough."""
    from optuna.visualization import matplotlib as optuna_plots

    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    ax = optuna_plots.plot_param_importances(study, evaluator=evaluator, params=varied,
                                            target_name=name)
    n = len(study.get_trials(deepcopy=False, states=_COMPLETE))
    title = f"Parameter importances for {name} (fANOVA, {n} complete trials)"
    if n < FEW_TRIALS:
        title += f"\nonly {n} complete trials: too few for importances to mean much"
    return _dressed(ax, title, f"importance for {name}", "parameter", whole_x=False,
                    colour="tab:red" if n < FEW_TRIALS else "black")


def intermediate_axes(study: optuna.Study, name: str) -> Any:
    """Each trial's per-epoch validation value (pruned trials stop early)."""
    from optuna.visualization import matplotlib as optuna_plots

    ax = optuna_plots.plot_intermediate_values(study)
    lines = [line for line in ax.get_lines() if str(line.get_label()).startswith("Trial")]
    for line in lines:
        line.set_label(f"trial {str(line.get_label()).removeprefix('Trial')}")
    title = f"{name} per epoch of each trial ({_better(name)})"
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if 2 <= len(lines) <= LEGEND_TRIALS:
        ax.legend(handles=lines, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8,
                  frameon=False)
    elif len(lines) > LEGEND_TRIALS:
        title += f", {len(lines)} trials"
    return _dressed(ax, title, "epoch", name)


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
      from two complete trials on (called rough below :data:`FEW_TRIALS`);
    - ``best_learning_curves.png``: the best trial's ``out/trials/NNNN/history.csv``;
    - ``best_validation_parity.png`` (regression) or ``best_validation_roc_pr.png``: the best
      model on the validation set (``out/best/val_predictions.csv``, with the baseline's
      RMSE when ``best/metrics.json`` has it; the test set is only scored by ``--seeds``,
      whose runs have their own pictures);
    - ``intermediate_values.png``: every trial's per-epoch validation curve (pruned trials stop
      early), when any trial reported one.

    ``metric``: the monitored validation metric (``rmse``, ``roc_auc``...); the axes carry the
    study's name of it (``val_rmse``). Returns the files written.
    """
    out = Path(out)
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    name = metric_name(study, metric)
    trials = study.get_trials(deepcopy=False)
    complete = study.get_trials(deepcopy=False, states=_COMPLETE)
    written: list[Path | None] = []
    if not complete:
        log.info("no complete trial: no sweep pictures")
        return []

    written.append(_drawn("optimization history", plots / "optimization_history.png",
                          lambda: history_axes(study, name)))
    varied = _varied_params(complete)
    if len(complete) < 2 or not varied:
        log.info("parameter importances need two complete trials and a parameter that varied "
                 "(%d complete, varied: %s): not drawn", len(complete), varied or "none")
    else:
        written.append(_drawn("parameter importances", plots / "param_importances.png",
                              lambda: importance_axes(study, name, varied)))

    written.append(_best_learning_curves(study, out, plots, metric))
    best = out / "best"  # molecules: the best trial's validation predictions
    if (best / "val_predictions.csv").exists():
        task = "classification" if metric == "roc_auc" else "regression"
        written.extend(prediction_plots(best / "val_predictions.csv", plots, task,
                                        "best_validation_", "Best trial, validation set",
                                        reference_scores(read_metrics(best), "val")))

    if any(t.intermediate_values for t in trials):
        written.append(_drawn("intermediate values", plots / "intermediate_values.png",
                              lambda: intermediate_axes(study, name)))
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
