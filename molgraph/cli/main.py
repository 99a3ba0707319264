"""``molgraph`` command line: one sub-command per job, each in its own module.

The CLI only turns arguments into library calls; ``main(argv)`` returns an exit code so tests
run every verb in-process.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from molgraph import __version__

#: Sub-command modules (``molgraph.cli.<name>``), imported when the parser is built, not when
#: this module is: worker processes started with ``forkserver`` re-import the main module, and
#: must not import torch through ``train``'s model choices.
VERBS = ("train", "predict", "screen", "featurize", "genes")


def _verbs_to_register(argv: list[str]) -> tuple[str, ...]:
    """Only the verb being run (the first argument not an option), when there is one: building
    ``train``'s parser imports torch and PyG (~3 s), which ``molgraph screen`` would wait on.
    ``molgraph --help`` and unknown verbs get every verb, for the full usage."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return (first,) if first in VERBS else VERBS


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molgraph", description="Graph neural networks for molecules and gene networks.")
    parser.add_argument("--version", action="version", version=f"molgraph {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _verbs_to_register(sys.argv[1:] if argv is None else argv):
        importlib.import_module(f"molgraph.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    if not args.verbose:
        logging.getLogger("molgraph.training.loop").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"molgraph {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
