"""``molgraph pretrain``: pretrain an encoder on an unlabelled library's RDKit descriptors.

The flags are the fields of :class:`~molgraph.pretrain.config.PretrainConfig`; everything else
is ``molgraph.pretrain.pretrain``, which a notebook calls too.
"""

from __future__ import annotations

import argparse

from molgraph.cli.options import (
    RUN_ALIASES,
    add_config_options,
    add_devices_option,
    add_tracking_options,
    given_values,
    join_processes,
    relaunched,
    tracking_config,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    from molgraph.pretrain.config import PretrainConfig

    p = subparsers.add_parser(
        "pretrain", help="pretrain an encoder on unlabelled molecules",
        description="Train a D-MPNN encoder to predict standardised RDKit descriptors of a "
        "library (a random 15%% of the targets hidden at each step, CheMeleon's recipe); "
        "writes DIR/encoder.pt, encoder.json, MODEL_CARD.md, history.csv and checkpoint.pt. "
        "Run again with the same flags (more --epochs allowed) to continue. Fine-tune with "
        "molgraph train --init-from DIR.")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_config_options(p, PretrainConfig, aliases={**RUN_ALIASES, "data": ["--data"]},
                       title="pretraining")
    add_devices_option(p, "pretrain one encoder")
    add_tracking_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.pretrain import PretrainConfig, pretrain_encoder
    from molgraph.runtime import distributed

    code = relaunched(args)
    if code is not None:
        return code
    config = PretrainConfig().with_values(given_values(args))
    join_processes(config.train.device)
    result = pretrain_encoder(config, args.out, tracking=tracking_config(args))
    distributed.close()  # after an error, torchrun stops the other processes
    if result is None:
        return 0
    print(f"pretrained on {result.n_molecules:,} molecules, {len(result.descriptors)} "
          f"descriptors, {len(result.history)} epochs; best validation loss "
          f"{result.best_val_loss:.4f} (epoch {result.best_epoch}) → {args.out}/encoder.pt")
    return 0
