"""``molgraph.run_sweep``: a whole sweep in one call, as ``molgraph sweep`` runs it.

The study (``study.run_study``), then with ``seeds`` the honest test evaluation of the best and
the default configuration (``evaluate``), all logged, with ``tracking``, to one MLflow parent
run with a child run per trial and the best model as an MLflow pyfunc model.

Example (in a notebook)::

    import molgraph
    result = molgraph.run_sweep(molgraph.run_config("delaney.csv", ["logS"]), "runs/esol-sweep",
                            molgraph.SweepConfig(trials=40, cv=5, seeds=[0, 1, 2]),
                            tracking=molgraph.TrackingConfig("sqlite:///runs/mlflow.db"))
    result["best_params"], result["evaluation"]["best"]["rmse"]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from molgraph.genes.config import GeneRunConfig
from molgraph.runtime.files import exclusive_lock
from molgraph.sweep.config import SweepConfig
from molgraph.sweep.evaluate import evaluate_seeds, table
from molgraph.sweep.molecules import MoleculeProblem
from molgraph.sweep.optuna_logs import optuna_logs
from molgraph.sweep.problems import Problem
from molgraph.sweep.progress import TrialProgress
from molgraph.sweep.report import whereabouts
from molgraph.sweep.storage import shown_storage
from molgraph.sweep.study import SWEEP_LOCK, as_problem, open_study, prepare, run_trials
from molgraph.tracking.config import TrackingConfig, tracked_run
from molgraph.training.config import RunConfig

log = logging.getLogger(__name__)
#: What a sweep's parent MLflow run keeps of its directory (not every trial's model).
PARENT_ARTIFACTS = ("sweep.json", "best_config.json", "evaluation.json", "plots", "best")


def _problem(base: RunConfig | GeneRunConfig | Problem, config: SweepConfig) -> Problem:
    """The problem to sweep; the scoring (``cv``, ``val_repeats``) applies to molecules."""
    if isinstance(base, RunConfig):
        return MoleculeProblem(base, cv=config.cv, val_repeats=config.val_repeats)
    if config.cv or config.val_repeats:
        raise ValueError("cv and val_repeats score molecule sweeps; a gene sweep is scored on "
                         "its folds (--folds)")
    return as_problem(base)


def run_sweep(base: RunConfig | GeneRunConfig | Problem, out: str | Path,
          config: SweepConfig | None = None, tracking: TrackingConfig | None = None,
          fixed: Sequence[str] = (), progress: bool | None = None) -> dict[str, Any]:
    """Search settings of ``base`` (a molecule ``RunConfig``, a ``GeneRunConfig`` or a
    problem) on validation, keep the best model in ``out/best/``, and with ``config.seeds``
    score the best and the default configuration on each seed's test set.

    ``fixed``: dotted settings taken from ``base`` as they are, left out of the search space.
    Returns the summary ``sweep.json`` holds (``best_trial``, ``best_value``, ``best_params``,
    ``states``, ``trials_run``, ...) with ``"evaluation"`` (``evaluation.json``, or ``None``).
    """
    config = config or SweepConfig()
    problem, space = prepare(_problem(base, config), config.space)
    fixed = sorted(set(fixed) & set(space.names))
    if fixed:
        log.info("fixed, not searched: %s", ", ".join(fixed))
        space = space.without(fixed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seed = problem.base.seed if config.sampler_seed is None else config.sampler_seed
    # one parent run per study: found again by these tags when the sweep starts again
    resume = {"optuna.study": config.study_name, "molgraph.sweep_dir": str(out.resolve()),
              "optuna.storage": shown_storage(config.storage)}
    data = getattr(problem.base.data, "path", None) or getattr(problem.base.data, "network", "")
    tags = {"molgraph.data": data, "molgraph.task": getattr(problem.base, "task", "genes")}
    evaluation = None
    # the lock is held from here, so the parent run is only continued (and its dead children
    # closed) by the one process that owns the sweep directory; the study is opened and
    # checked first, so a refused resume leaves the parent run as it was
    with exclusive_lock(out / SWEEP_LOCK), optuna_logs(logging.getLogger("optuna").level):
        study = open_study(problem, out, space, config.storage, config.study_name)
        with tracked_run(tracking, out, tags, PARENT_ARTIFACTS, resume,
                         name=f"sweep {config.study_name} on {Path(data).stem}") as parent:
            children = None if parent is None else _open_children(parent, tracking, space,
                                                                  config, study)
            direction = "maximize" if problem.higher_is_better else "minimize"
            heard: list[Any] = [] if parent is None else [SearchHistory(parent, problem.metric)]
            with TrialProgress(config.trials, 0, f"val_{problem.metric}", direction,
                               enabled=progress) as shown:
                result = run_trials(problem, out, space, study, config.trials, config.timeout,
                                    config.jobs, config.storage, config.pruner, seed, children,
                                    [shown, *heard], config.sampler, config.keep_trials)
            if config.seeds and result["best_trial"] is not None:
                best = json.loads((out / "best_config.json").read_text())
                evaluation = evaluate_seeds(problem, best, config.seeds, out)
            if parent is not None and result["best_trial"] is not None:
                log_parent(parent, result, evaluation, out, problem)
            if parent is not None and result["best_trial"] is None:
                parent.set_tags({"molgraph.error": no_result(result, out)})
                parent.finish("FAILED")
    return {**result, "evaluation": evaluation}


class SearchHistory:
    """An Optuna trial callback that logs the search to the parent run, one step per trial
    number: each completed trial's ``trial_val_<metric>`` and ``best_val_<metric>`` so far,
    which MLflow draws as the optimisation history (line charts, not single bars)."""

    def __init__(self, parent: Any, metric: str) -> None:
        self.parent, self.metric = parent, metric

    def __call__(self, study: Any, trial: Any) -> None:
        if trial.state.name != "COMPLETE":
            return
        self.parent.log_metrics({f"trial_val_{self.metric}": trial.value,
                                 f"best_val_{self.metric}": study.best_value},
                                step=trial.number)


def _open_children(parent: Any, tracking: TrackingConfig, space: Any, config: SweepConfig,
                   study: Any) -> Any:
    """The per-trial MLflow child runs of ``parent``; children left RUNNING by a process that
    died are closed first (their Optuna trial has ended: ``open_study`` failed it, or another
    process did; with the embedded study every trial has), and the parent's settings logged
    once."""
    from molgraph.tracking.sweep_runs import ChildRuns, close_running_children

    ended = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    embedded = config.storage is None  # no other process runs its trials: untagged ones too
    closed = close_running_children(parent, "stale: its process ended while it ran",
                                    lambda n: n in ended if n is not None else embedded)
    if closed:
        log.warning("closed %d MLflow child run(s) left RUNNING by a stopped sweep",
                    len(closed))
    # params cannot change in MLflow: what may differ between runs of one sweep (trials
    # asked for, seeds) is a tag, and a resumed parent keeps its params
    if not parent.client.get_run(parent.run_id).data.params:
        parent.log_params({"sweep.space": space.to_dict(), "sweep.pruner": config.pruner,
                           "sweep.sampler": config.sampler, "sweep.cv": config.cv,
                           "sweep.val_repeats": config.val_repeats})
    parent.set_tags({"sweep.trials": config.trials, "sweep.seeds": config.seeds})
    return ChildRuns(parent.tracking_uri, tracking.experiment, parent.run_id)


def log_parent(parent: Any, result: dict[str, Any], evaluation: dict[str, Any] | None,
               out: Path, problem: Problem) -> None:
    """The parent run's record: the best trial's settings (tags ``best.<setting>``: they
    change as a sweep goes on) and validation metric, the test evaluation (mean and std per
    configuration) and, for molecules, the best model as an MLflow pyfunc model
    (``mlflow.pyfunc.load_model(uri).predict(df)``, ``mlflow models serve``)."""
    parent.set_tags({f"best.{k}": v for k, v in result["best_params"].items()})
    # best_val_<metric> itself is a line over the trials (SearchHistory), whose last point
    # is the best value
    metrics = {"best_trial": result["best_trial"], "n_trials": result["n_trials"]}
    if evaluation is not None:
        for label in ("best", "default", "baseline"):
            for name, cell in evaluation.get(label, {}).items():
                if cell["mean"] is not None:
                    metrics[f"{label}_test_{name}_mean"] = cell["mean"]
                    metrics[f"{label}_test_{name}_std"] = cell["std"]
    parent.log_metrics(metrics, step=0)
    if problem.kind == "molecules" and result["best_model"]:
        from molgraph.inference.mlflow_model import log_pyfunc_model

        uri = log_pyfunc_model(out / "best", parent.tracking_uri, parent.run_id)
        parent.set_tags({"molgraph.best_model_uri": uri})
        log.info("best model logged to MLflow as %s (mlflow.pyfunc.load_model)", uri)


def sweep_report(result: dict[str, Any], out: str | Path) -> str:
    """What ``molgraph sweep`` prints of :func:`run_sweep`'s ``result``: the trials' states,
    the best trial and where its model is, and the evaluation table (with ``seeds``)."""
    lines = [json.dumps({"states": result["states"], "trials_run": result["trials_run"],
                         "trials_per_hour": result["trials_per_hour"]})]
    if result["best_trial"] is None:
        return "\n".join([*lines, no_result(result, out)])
    lines.append(json.dumps({"best_trial": result["best_trial"],
                             result["metric"]: round(result["best_value"], 4),
                             "params": result["best_params"]}))
    lines.append(f"best model: {_best_model(result, out)}; its configuration: "
                 f"{out}/best_config.json")
    evaluation = result["evaluation"]
    if evaluation is not None:
        metric = evaluation["metric"].removeprefix("test_")
        main = [metric, *(m for m in ("mae", "r2", "pr_auc", "roc_auc")
                          if m != metric and m in evaluation["best"])][:3]
        lines += [table(evaluation, main), f"evaluation runs and {out}/evaluation.json written"]
    return "\n".join(lines)


def _best_model(result: dict[str, Any], out: str | Path) -> str:
    """Where the best trial's model is: ``DIR/best``, or the directory it ran in."""
    if result["best_model"]:
        return f"{out}/best"
    number = result["best_trial"]
    return f"not in this directory: trial {number} " + \
        whereabouts(Path(out), number, result.get("best_ran_in"))


def no_result(summary: dict[str, Any], out: str | Path) -> str:
    """What happened in a sweep without a completed trial, in one line (printed, and the
    MLflow parent run's error): no trial ran, and why, or how the trials ended."""
    states, total = summary["states"], summary["n_trials"]
    if not total:
        timeout = summary.get("timeout")
        return "no trial ran" + ("" if timeout is None else
                                 f": the time limit (--timeout {timeout:g} s) ran out before "
                                 "the first trial started")
    failed, pruned = states.get("FAIL", 0), states.get("PRUNED", 0)
    if failed:
        first = summary["failures"][0]
        also = f" and {pruned} were pruned" if pruned else ""
        return (f"no trial completed: {failed} failed{also}, e.g. trial {first['trial']}: "
                f"{first['reason']} (every failure: {Path(out) / 'sweep.json'})")
    if pruned == total:
        return (f"no trial completed: every one of the {total} trials was pruned (stopped "
                "early by the pruner; --pruner none turns it off)")
    shown = ", ".join(f"{n} {state.lower()}" for state, n in sorted(states.items()))
    return f"no trial completed yet: {shown}"
