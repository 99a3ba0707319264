"""``molgraph active``: a screening campaign (active learning) over a compound library.

The flags are the fields of :class:`~molgraph.campaign.config.CampaignConfig`; everything else is
``molgraph.campaign.loop.run_campaign``, which a notebook calls too (with a Python function as
the oracle, if it likes).
"""

from __future__ import annotations

import argparse

from molgraph.campaign.config import CampaignConfig
from molgraph.cli.options import (
    add_config_options,
    add_key_option,
    add_tracking_options,
    given_values,
    tracking_config,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "active", help="screening campaign: active learning with an oracle",
        description="Acquire molecules of a library batch by batch: the oracle (lookup:FILE, "
        "command:\"CMD\", or the lab without --oracle) gives them values, a surrogate trained "
        "on all values so far predicts the rest of the pool, and the acquisition function "
        "chooses the next batch. DIR/acquired.csv has every acquired molecule and its value, "
        "DIR/rounds/NNN/ each round (batch, answers, model, scored pool, metrics), "
        "DIR/plots/ the progress. A killed campaign continues with --resume, as does one "
        "waiting for the lab's values.")
    add_config_options(p, CampaignConfig, title="campaign")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: on a terminal), else log lines")
    add_tracking_options(p)
    add_key_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.campaign.loop import run_campaign

    result = run_campaign(CampaignConfig(**given_values(args)), tracking=tracking_config(args),
                          progress=args.progress)
    for record in result.rounds:
        found = record.get("found_scores")
        print(f"round {record['iteration']}: {record['acquired']:,} acquired, best "
              f"{_shown(record['best'])}, top-{record['k']} average "
              f"{_shown(record['top_k_average'])}"
              + ("" if found is None else f", {found:.0%} of the true top-{record['k']} scores "
                 f"and {record['found_smiles']:.0%} of its molecules found"))
    if result.status == "waiting":
        print(f"waiting for the lab: {result.reason}")
    else:
        print(f"campaign {result.status}: {result.reason}; acquired molecules in "
              f"{result.out / 'acquired.csv'}")
    return 0


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
