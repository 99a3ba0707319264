"""``molgraph screen``: score compound libraries with trained models and keep the best.

The flags are the fields of :class:`~molgraph.screening.screen.ScreenConfig`, with their
defaults shown in ``--help``.
"""

from __future__ import annotations

import argparse

from molgraph.cli.options import add_config_options, add_key_option, given_values
from molgraph.screening.screen import ScreenConfig

ALIASES = {"models": ["--model"], "libraries": ["--library"], "filters": ["--filter"]}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "screen", help="virtual screening of compound libraries",
        description="Score every molecule of one or more libraries (streamed in shards, "
        "featurized in worker processes, scored in batches) and write every row, or the best "
        "with --top-k/--threshold. Each row keeps its row number and a status (ok, invalid, "
        "filtered) with the reason; OUT's stem.summary.json has the counts and "
        "stem.invalid.csv every row that is not ok. Several --model directories make an "
        "ensemble: <target>_mean and <target>_std columns.")
    add_config_options(p, ScreenConfig, aliases=ALIASES)
    add_key_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.screening.screen import run_screen

    config = ScreenConfig(**given_values(args))
    summary = run_screen(config)
    print(f"{summary['rows']:,} rows screened: {summary['ok']:,} ok, {summary['invalid']:,} "
          f"invalid, {summary['filtered']:,} filtered; {summary['written']:,} written to "
          f"{summary['output']} ({summary['molecules_per_s']:,.0f} molecules/s)")
    if summary.get("out_of_domain") is not None:
        print(f"{summary['out_of_domain']:,} of them outside the applicability domain (nearest "
              f"training molecule's Tanimoto similarity below {config.domain_threshold})")
    if config.top_k is not None or config.threshold is not None:
        _print_top(summary["output"], summary["rank_by"])
    return 0


def _print_top(path: str, rank: str, n: int = 10) -> None:
    import pandas as pd

    frame = (pd.read_parquet(path) if path.endswith((".parquet", ".pq"))
             else pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",", nrows=n,
                              keep_default_na=False))
    columns = [c for c in ("rank", "library", "row", "id", "smiles", rank, "train_similarity",
                           "in_domain") if c in frame.columns
               and (c != "id" or frame[c].astype(str).str.len().gt(0).any())]
    if len(frame):
        print(frame.head(n)[columns].to_string(index=False))
