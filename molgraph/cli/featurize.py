"""``molgraph featurize``: featurize compound libraries once into a store to screen again."""

from __future__ import annotations

import argparse

from molgraph.cli.options import add_key_option
from molgraph.screening.library import SHARD_ROWS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "featurize", help="featurize libraries into a store for fast re-screening",
        description="Featurize one or more libraries into the store directory STORE; "
        "`molgraph screen --library STORE` then scores it with any model without RDKit work.")
    p.add_argument("--library", nargs="+", action="extend", required=True, dest="libraries",
                   metavar="FILE", help=".smi, CSV/TSV or SDF (optionally .gz)")
    p.add_argument("--out", required=True, metavar="STORE", help="store directory")
    p.add_argument("--smiles-column", help="SMILES column (default: smiles, SMILES or mol)")
    p.add_argument("--id-column", help="id column (default: id, name, zinc_id, ...)")
    p.add_argument("--delimiter", metavar="CHAR",
                   help="CSV/TSV field delimiter: ',', ';' (ChEMBL exports), '|' or tab "
                   "(default: found from the file's first lines)")
    p.add_argument("--druglike", action="store_true",
                   help="store Lipinski/Veber descriptors and PAINS alerts too "
                   "(slow; default: off)")
    p.add_argument("--workers", type=int,
                   help="processes (default: one per CPU; 0: all in this process)")
    p.add_argument("--chunk-size", type=int, default=SHARD_ROWS,
                   help=f"rows per shard (default: {SHARD_ROWS})")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (default: off)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="a progress bar (default: only when stderr is a terminal)")
    add_key_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.screening.store_build import build_store

    info = build_store(args.libraries, args.out, args.chunk_size, args.workers,
                       args.smiles_column, args.id_column, args.druglike, args.resume,
                       args.progress, args.delimiter)
    rows = sum(lib["rows"] for lib in info["libraries"])
    bad = sum(lib["invalid"] for lib in info["libraries"])
    print(f"{rows:,} rows featurized ({bad:,} invalid, kept with their reason) → {args.out}")
    return 0
