"""``molgraph keygen``: a new key for encrypted stores and model directories."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "keygen", help="make a key to encrypt stores and model directories",
        description="Write a new random key (32 bytes, base64) to FILE, readable by you only. "
        "Give it to train, featurize, predict, screen, ... as --key-file FILE, or its content "
        "as $MOLGRAPH_KEY: what they write is encrypted (AES-256-GCM) and can be read only "
        "with it. Keep a copy: encrypted files cannot be read without the key.")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="key file to create (an existing file is never overwritten)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.runtime.encryption import write_key_file

    path = write_key_file(args.out)
    print(f"new key written to {path} (mode 0600); use it with --key-file {path}")
    return 0
