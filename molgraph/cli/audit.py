"""``molgraph audit``: a membership-inference audit of a trained model before it is shared."""

from __future__ import annotations

import argparse

from molgraph.cli.options import add_key_option

ATTACK_CHOICES = {"lira": ("lira",), "rmia": ("rmia",), "both": ("lira", "rmia")}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="test a trained model for training-molecule leakage",
        description="Membership inference (LiRA, RMIA) with shadow models trained by molgraph "
        "with the run's own settings, on the model, its network alone and the ECFP baseline; "
        "writes OUT/audit.json and OUT/roc.png.")
    p.add_argument("--model", required=True, help="run directory from `molgraph train --out`")
    p.add_argument("--data", required=True,
                   help="labelled molecules like the training ones: the run's own data file, "
                   "or another one with --members")
    p.add_argument("--members", help="molecule file of the model's training molecules (needed "
                   "when --data is not the run's own file; default: split.json's training rows)")
    p.add_argument("--out", required=True, help="directory for audit.json and roc.png")
    p.add_argument("--shadows", type=int, default=8,
                   help="shadow models, each trained on half the molecules (default: 8)")
    p.add_argument("--epochs", type=int,
                   help="shadow training epochs (default: the run's; fewer are cheaper and "
                   "less faithful, and are recorded)")
    p.add_argument("--attack", choices=tuple(ATTACK_CHOICES), default="both",
                   help="LiRA, RMIA or both (default: both)")
    p.add_argument("--seed", type=int, default=0,
                   help="fixes the halves and shadow seeds (default: 0)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    add_key_option(p)  # an encrypted run directory is read with its key
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.privacy.audit import audit_model

    result = audit_model(args.model, args.data, args.out, members=args.members,
                         shadows=args.shadows, epochs=args.epochs,
                         attacks=ATTACK_CHOICES[args.attack], seed=args.seed,
                         threads=args.threads)
    print(result.summary())
    print(f"audit written to {args.out} (audit.json, roc.png)")
    return 0
