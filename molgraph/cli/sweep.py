"""``molgraph sweep``: search model and training settings with Optuna, keep the best model.

The sweep's own flags are the fields of :class:`~molgraph.sweep.run.SweepConfig` (shown
first), the data and the fixed settings those of ``train`` (one ``RunConfig``); a setting given
as a flag is fixed and left out of the search space. Running the same command again continues
the same study in ``--out`` (``DIR/optuna.log``) up to ``--trials`` trials in all. Everything
else is ``molgraph.sweep.run.run_sweep``, which a notebook calls too.
"""

from __future__ import annotations

import argparse

from molgraph.cli.options import (
    add_config_options,
    add_key_option,
    add_run_options,
    add_tracking_options,
    given_values,
    molecule_run_config,
    tracking_config,
    verbose_optuna,
)
from molgraph.sweep.config import SweepConfig
from molgraph.training.config import RunConfig

#: Where the sweep's own settings go in the namespace, apart from the run's.
SWEEP = "sweep:"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="hyperparameter search (Optuna), keeping the best model",
        description="Search model and training settings on validation (or by cross-validation "
        "inside the training part, --cv), and write DIR/best/ (the best trial's model, for "
        "predict and screen), DIR/best_config.json, DIR/sweep.json and the study "
        "DIR/optuna.log (run again to continue it; optuna-dashboard DIR/optuna.log shows it).")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep directory")
    add_config_options(p, SweepConfig, title="sweep", store=SWEEP)
    add_run_options(p, RunConfig)
    add_tracking_options(p)
    add_key_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.sweep.run import run_sweep, sweep_report

    verbose_optuna(args)
    config = SweepConfig(**given_values(args, SWEEP))
    result = run_sweep(molecule_run_config(args), args.out, config, tracking_config(args),
                       fixed=list(given_values(args)))
    print(sweep_report(result, args.out))
    return 0 if result["best_trial"] is not None else 1
