"""``molgraph train``: train a model on a molecule file and write model, metrics, predictions.

The flags are the fields of :class:`~molgraph.training.config.RunConfig`, grouped, with their
defaults; ``--config run_config.json`` repeats an earlier run (flags given override it).
Everything else is ``molgraph.training.api.train_config``, which a notebook calls too.
"""

from __future__ import annotations

import argparse
import json

from molgraph.cli.options import (
    add_devices_option,
    add_key_option,
    add_run_options,
    add_tracking_options,
    join_processes,
    molecule_run_config,
    relaunched,
    tracking_config,
)
from molgraph.training.config import RunConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a GNN on labelled molecules",
        description="Train a GNN on a molecule file (blended with an SVM on ECFP4 when that "
        "wins on validation) and write DIR/model/, DIR/run_config.json, DIR/metrics.json, "
        "DIR/split.json, DIR/history.csv, DIR/test_predictions.csv and DIR/plots/.")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_run_options(p, RunConfig)
    add_tracking_options(p)
    add_key_option(p)
    add_devices_option(p, "train one model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, then print what was chosen and the scores, and one JSON line (for scripts)."""
    from molgraph.runtime import distributed
    from molgraph.training.api import train_config
    from molgraph.training.report import MAIN_METRICS

    code = relaunched(args)
    if code is not None:
        return code
    config = molecule_run_config(args)
    join_processes(config.train.device)
    result = train_config(config, args.out, tracking=tracking_config(args))
    distributed.close()  # after an error, torchrun stops the other processes
    if result is None:  # not rank 0: it reports and writes
        return 0
    print(result.summary())
    print(json.dumps({part: {k: round(result.metrics[part][k], 4)
                             for k in MAIN_METRICS[config.task]}
                      for part in ("val", "test")}))
    print(f"model, metrics and test predictions written to {args.out}")
    return 0
