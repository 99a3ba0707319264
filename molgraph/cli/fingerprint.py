"""``molgraph fingerprint``: write a model's learned molecule vectors for other tools."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fingerprint", help="write learned molecule vectors (CSV or Parquet)",
        description="One row per input row: row, (id), smiles, fp_0 ... fp_{h-1} (the model's "
        "readout before its head) and error.")
    p.add_argument("--model", required=True,
                   help="model directory from `molgraph train`, or an encoder directory from "
                   "`molgraph pretrain`")
    p.add_argument("--data", required=True, help="CSV/TSV/SMI/SDF (optionally .gz)")
    p.add_argument("--smiles-column", help="SMILES column (default: smiles, SMILES or mol)")
    p.add_argument("--out", required=True, help="output file: .csv, or .parquet (required)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present), cpu, cuda[:N] (default: auto)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="molecules per forward pass (default: 256)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.inference.fingerprint import PREFIX, fingerprint

    frame = fingerprint(args.model, args.data, args.out, args.smiles_column, args.device,
                        args.batch_size)
    width = sum(c.startswith(PREFIX) for c in frame.columns)
    bad = int((frame["error"] != "").sum())
    print(f"{len(frame)} rows, {width} values each ({bad} invalid, kept with their error) → "
          f"{args.out}")
    return 0
