"""``molgraph sweep``: search model and training settings with Optuna, keep the best model.

The data options are ``train``'s (one ``RunConfig``); a setting given as a flag is fixed and
left out of the search space. Running the same command again continues the same study in
``--out`` (``DIR/optuna.log``) up to ``--trials`` trials in all.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from molgraph.cli.options import add_config_options, given_values
from molgraph.cli.train import ALIASES, add_tracking_options, build_config, tracked
from molgraph.training.config import RunConfig

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="hyperparameter search (Optuna), keeping the best model",
        description="Search model and training settings on validation, and write DIR/best/ "
        "(the best trial's model, for predict and screen), DIR/best_config.json, "
        "DIR/sweep.json and the study DIR/optuna.log (run again to continue it).")
    p.add_argument("--config", metavar="JSON", help="run configuration to start from; flags "
                   "given override it (default: none)")
    add_config_options(p, RunConfig, aliases=ALIASES)
    add_sweep_options(p)
    scoring = p.add_argument_group("how a trial is scored (default: the run's validation part)")
    choice = scoring.add_mutually_exclusive_group()
    choice.add_argument("--cv", type=int, default=0, metavar="K", help="K-fold cross-"
                        "validation inside the training part (training + validation "
                        "molecules; scaffold groups kept whole with --split scaffold): a "
                        "trial's value is the folds' mean, less noisy than one validation "
                        "part; K times the cost (default: off)")
    choice.add_argument("--val-repeats", type=int, default=0, metavar="R", help="R validation "
                        "parts drawn again from the training part by --split with seeds "
                        "seed, seed+1, ...: the mean (default: off)")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep directory (required)")
    add_tracking_options(p)
    p.set_defaults(func=run)


def add_sweep_options(p: argparse.ArgumentParser) -> None:
    """The flags of a sweep, shared by ``sweep`` and ``genes sweep``."""
    s = p.add_argument_group("sweep")
    s.add_argument("--space", metavar="YAML", help="search space over dotted settings (see "
                   "experiments/sweep_space_default.yaml) (default: every model, width, depth, "
                   "dropout, readout (heads for GAT), learning rate, weight decay and batch "
                   "size; for genes also input dropout and residual connections)")
    s.add_argument("--trials", type=int, default=20, help="trials in the study in all, earlier "
                   "runs' included (default: 20)")
    s.add_argument("--timeout", type=float, metavar="SECONDS", help="start no trial after this "
                   "long (default: none)")
    s.add_argument("--jobs", type=int, default=1, help="worker processes on the study "
                   "(default: 1)")
    s.add_argument("--storage", metavar="URL", help="Optuna RDB URL (postgresql://..., "
                   "sqlite:///...) or journal file shared with other sweeps (default: "
                   "DIR/optuna.log)")
    s.add_argument("--study-name", metavar="NAME", help="study to create or join (default: "
                   "molgraph)")
    s.add_argument("--pruner", choices=("hyperband", "median", "none"), default="hyperband",
                   help="stop unpromising trials early (default: hyperband)")
    s.add_argument("--sampler", choices=("tpe", "random"), default="tpe",
                   help="how settings are proposed (default: tpe)")
    s.add_argument("--sampler-seed", type=int, metavar="N", help="seed of the sampler "
                   "(default: --seed)")
    s.add_argument("--keep-trials", choices=("all", "best"), default="all",
                   help="trial directories kept in DIR/trials/ (default: all)")
    s.add_argument("--seeds", type=int, nargs="+", metavar="N", help="at the end, retrain the "
                   "best and the default configuration on each seed's split and score each on "
                   "its test set once: mean ± std (default: no test score)")


def run(args: argparse.Namespace) -> int:
    from molgraph.sweep.molecules import MoleculeProblem

    config = build_config(args)
    tags = {"molgraph.data": config.data.path, "molgraph.task": config.task}
    problem = MoleculeProblem(config, cv=args.cv, val_repeats=args.val_repeats)
    return sweep_command(args, problem, tags)


#: What a sweep's parent MLflow run keeps of ``--out`` (not every trial's model).
PARENT_ARTIFACTS = ("sweep.json", "best_config.json", "evaluation.json", "plots", "best")


def sweep_command(args: argparse.Namespace, problem: Any, tags: dict[str, str]) -> int:
    """Run ``sweep`` or ``genes sweep`` for ``problem`` (``molgraph.sweep.molecules`` or
    ``.genes``): the study, then with ``--seeds`` the test evaluation, all logged to one MLflow
    parent run when tracking."""
    from molgraph.runtime.files import exclusive_lock
    from molgraph.sweep.evaluate import evaluate_seeds, table
    from molgraph.sweep.progress import TrialProgress
    from molgraph.sweep.report import shown_storage
    from molgraph.sweep.study import SWEEP_LOCK, run_sweep

    if not args.verbose:  # one line (or a bar) per trial from TrialProgress is enough
        logging.getLogger("optuna").setLevel(logging.WARNING)

    space = problem.space(args.space)
    fixed = sorted(set(given_values(args)) & set(space.names))
    if fixed:
        log.info("fixed by flags, not searched: %s", ", ".join(fixed))
        space = space.without(fixed)
    study = args.study_name or "molgraph"
    # one parent run per study: found again by these tags when the sweep starts again
    resume = {"optuna.study": study, "molgraph.sweep_dir": str(Path(args.out).resolve()),
              "optuna.storage": shown_storage(args.storage)}
    seed = problem.base.seed if args.sampler_seed is None else args.sampler_seed
    evaluation = None
    Path(args.out).mkdir(parents=True, exist_ok=True)
    # the embedded study's lock is held from here, so the parent run is only continued (and
    # its dead children closed) by the one process that owns the sweep directory
    with exclusive_lock(Path(args.out) / SWEEP_LOCK), \
            tracked(args, tags, PARENT_ARTIFACTS, resume) as parent:
        children = None
        if parent is not None:
            from molgraph.tracking.sweep_runs import ChildRuns, close_running_children

            if args.storage is None:
                closed = close_running_children(parent, "stale: its process ended while it ran")
                if closed:
                    log.warning("closed %d MLflow child run(s) left RUNNING by a stopped "
                                "sweep", len(closed))
            children = ChildRuns(parent.tracking_uri, args.experiment, parent.run_id)
            # params cannot change in MLflow: what may differ between runs of one sweep
            # (trials asked for, seeds) is a tag, and a resumed parent keeps its params
            if not parent.client.get_run(parent.run_id).data.params:
                parent.log_params({"sweep.space": space.to_dict(),
                                   "sweep.pruner": args.pruner, "sweep.sampler": args.sampler})
            parent.set_tags({"sweep.trials": args.trials, "sweep.seeds": args.seeds})
        direction = "maximize" if problem.higher_is_better else "minimize"
        with TrialProgress(args.trials, 0, f"val_{problem.metric}", direction) as progress:
            result = run_sweep(problem, args.out, space, trials=args.trials,
                               timeout=args.timeout, jobs=args.jobs, storage=args.storage,
                               study_name=args.study_name, sampler=args.sampler,
                               pruner=args.pruner, seed=seed, keep_trials=args.keep_trials,
                               tracker_factory=children, on_trial_end=[progress],
                               locked=True)
        if args.seeds and result["best_trial"] is not None:
            best = json.loads((Path(args.out) / "best_config.json").read_text())
            evaluation = evaluate_seeds(problem, best, args.seeds, args.out)
        if parent is not None and result["best_trial"] is not None:
            _log_parent(parent, result, evaluation, Path(args.out), problem)
    print(json.dumps({"states": result["states"], "trials_run": result["trials_run"],
                      "trials_per_hour": result["trials_per_hour"]}))
    if result["best_trial"] is None:
        print(f"no trial completed; see {args.out}/sweep.json for the failures")
        return 1
    print(json.dumps({"best_trial": result["best_trial"],
                      result["metric"]: round(result["best_value"], 4),
                      "params": result["best_params"]}))
    where = (f"{args.out}/best" if result["best_model"]
             else "(not in this directory: it ran elsewhere)")
    print(f"best model: {where}; its configuration: {args.out}/best_config.json")
    if evaluation is not None:
        main = [problem.metric, *(m for m in ("mae", "r2", "pr_auc", "roc_auc")
                                  if m != problem.metric and m in evaluation["best"])][:3]
        print(table(evaluation, main))
        print(f"evaluation runs and {args.out}/evaluation.json written")
    return 0


def _log_parent(parent: Any, result: dict[str, Any], evaluation: dict[str, Any] | None,
                out: Path, problem: Any) -> None:
    """The parent run's record: the best trial's settings (tags ``best.<setting>``: they change
    as a sweep goes on) and validation metric, the test
    evaluation (mean and std per configuration) and, for molecules, the best model as an
    MLflow pyfunc model (``mlflow.pyfunc.load_model(uri).predict(df)``, ``mlflow models
    serve``)."""
    parent.set_tags({f"best.{k}": v for k, v in result["best_params"].items()})
    metrics = {f"best_{result['metric']}": result["best_value"],
               "best_trial": result["best_trial"], "n_trials": result["n_trials"]}
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
        print(f"best model logged to MLflow as {uri} (mlflow.pyfunc.load_model)")
