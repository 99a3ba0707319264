"""``molgraph predict``: predictions for every row of a molecule file, in input order."""

from __future__ import annotations

import argparse

from molgraph.cli.options import add_key_option
from molgraph.inference.domain import DEFAULT_THRESHOLD, IN_DOMAIN


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="predict with a trained model",
                              description="Write one output row per input row; invalid rows get "
                              "empty predictions and an error message.")
    p.add_argument("--model", required=True, help="model directory from `molgraph train`")
    p.add_argument("--data", required=True, help="CSV/TSV/SMI/SDF (optionally .gz)")
    p.add_argument("--smiles-column", help="SMILES column (default: smiles, SMILES or mol)")
    p.add_argument("--id-column", help="id column to carry over (default: id, name, ...)")
    p.add_argument("--delimiter", metavar="CHAR",
                   help="CSV/TSV field delimiter: ',', ';' (ChEMBL exports), '|' or tab "
                   "(default: found from the file's first lines)")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present), cpu, cuda[:N] (default: auto)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="molecules per forward pass (default: 256)")
    p.add_argument("--domain-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="SIM",
                   help="the least Tanimoto similarity (ECFP4) to the nearest training molecule "
                   f"that is in_domain (default: {DEFAULT_THRESHOLD})")
    add_key_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.inference.predict import predict_file

    frame = predict_file(args.model, args.data, args.out, args.smiles_column, args.id_column,
                         args.device, args.batch_size, args.delimiter, args.domain_threshold)
    n_bad = int((frame["error"] != "").sum())
    known = frame[IN_DOMAIN].notna()  # missing: no domain (withheld or older) or invalid
    n_out = int((~frame[IN_DOMAIN][known].astype(bool)).sum())
    invalid = f"{n_bad} invalid, kept with their error" if n_bad else "none invalid"
    domain = (f"{n_out} outside the applicability domain" if known.any()
              else "the model keeps no applicability domain")
    print(f"{len(frame)} rows predicted ({invalid}; {domain}) → {args.out}")
    return 0
