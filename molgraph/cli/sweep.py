"""``molgraph sweep``: search model and training settings with Optuna, keep the best model.

The data options are ``train``'s (one ``RunConfig``); a setting given as a flag is fixed and
left out of the search space. Running the same command again continues the same study in
``--out`` (``DIR/optuna.log``) up to ``--trials`` trials in all.
"""

from __future__ import annotations

import argparse
import json

from molgraph.cli.options import add_config_options, given_values
from molgraph.cli.train import ALIASES, add_tracking_options, build_config, tracked
from molgraph.training.config import RunConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="hyperparameter search (Optuna), keeping the best model",
        description="Search model and training settings on validation, and write DIR/best/ "
        "(the best trial's model, for predict and screen), DIR/best_config.json, "
        "DIR/sweep.json and the study DIR/optuna.log (run again to continue it).")
    p.add_argument("--config", metavar="JSON", help="run configuration to start from; flags "
                   "given override it (default: none)")
    add_config_options(p, RunConfig, aliases=ALIASES)
    s = p.add_argument_group("sweep")
    s.add_argument("--space", metavar="YAML", help="search space over dotted settings (see "
                   "experiments/sweep_space_default.yaml) (default: every model, width, depth, "
                   "dropout, readout, learning rate, weight decay and batch size)")
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
    p.add_argument("--out", required=True, metavar="DIR", help="sweep directory (required)")
    add_tracking_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from molgraph.sweep.space import default_space, load_space
    from molgraph.sweep.study import run_sweep

    config = build_config(args)
    space = load_space(args.space) if args.space else default_space()
    fixed = sorted(set(given_values(args)) & set(space.names))
    if fixed:
        logging.getLogger(__name__).info("fixed by flags, not searched: %s", ", ".join(fixed))
        space = space.without(fixed)
    tags = {"molgraph.data": config.data.path, "molgraph.task": config.task,
            "optuna.study": args.study_name or "molgraph"}
    with tracked(args, tags) as parent:  # one MLflow parent run; each trial a child run
        children = None
        if parent is not None:
            from molgraph.tracking.mlflow_runs import ChildRuns

            children = ChildRuns(parent.tracking_uri, args.experiment, parent.run_id)
            parent.log_params({"sweep.space": space.to_dict(), "sweep.trials": args.trials,
                               "sweep.pruner": args.pruner, "sweep.sampler": args.sampler})
        result = run_sweep(config, args.out, space, trials=args.trials, timeout=args.timeout,
                           jobs=args.jobs, storage=args.storage, study_name=args.study_name,
                           sampler=args.sampler, pruner=args.pruner,
                           seed=config.seed if args.sampler_seed is None else args.sampler_seed,
                           keep_trials=args.keep_trials, tracker_factory=children)
        if parent is not None and result["best_trial"] is not None:
            parent.log_params({f"best.{k}": v for k, v in result["best_params"].items()})
            parent.log_metrics({f"best_{result['metric']}": result["best_value"],
                                "best_trial": result["best_trial"]}, step=0)
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
    return 0
