"""``molgraph train``: train a model on a molecule file and write model, metrics, predictions.

Every flag comes from the run configuration (``molgraph.training.config.RunConfig``), with its
default shown in ``--help``; ``--config run_config.json`` repeats an earlier run, and flags
given beside it override its settings.
"""

from __future__ import annotations

import argparse
import json

from molgraph.cli.options import add_config_options, given_values
from molgraph.training.config import RunConfig

#: Flags that keep their older, shorter spellings (the first one is shown in --help).
ALIASES = {
    "data.path": ["--data"],
    "data.cache": ["--cache"],
    "model.name": ["--model"],
    "model.hidden_channels": ["--hidden-channels", "--hidden"],
    "model.num_layers": ["--num-layers", "--layers"],
    "train.lr": ["--lr"],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a GNN on labelled molecules",
        description="Train a GNN on a molecule file and write DIR/model/, DIR/run_config.json, "
        "DIR/metrics.json, DIR/history.csv and DIR/test_predictions.csv.")
    p.add_argument("--config", metavar="JSON", help="run configuration to start from (e.g. "
                   "DIR/run_config.json of an earlier run); flags given override it "
                   "(default: none)")
    add_config_options(p, RunConfig, aliases=ALIASES)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    """The run configuration: ``--config`` (or the defaults) with the given flags applied."""
    base = RunConfig.load(args.config) if args.config else RunConfig()
    config = base.with_values(given_values(args))
    config.check_data()
    return config


def run(args: argparse.Namespace) -> int:
    from molgraph.training.job import train

    config = build_config(args)
    run_ = train(config, args.out)
    main_metrics = ("rmse", "mae", "r2") if config.task == "regression" else ("roc_auc", "pr_auc")
    print(json.dumps({part: {k: round(run_.metrics[part][k], 4) for k in main_metrics}
                      for part in ("val", "test")}))
    print(f"model, metrics and test predictions written to {args.out}")
    return 0
