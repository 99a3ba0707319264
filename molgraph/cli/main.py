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
from molgraph.cli.options import mark_required

#: Sub-command modules (``molgraph.cli.<name>``), imported when the parser is built, not when
#: this module is: worker processes started with ``forkserver`` re-import the main module, and
#: must not import torch through ``train``'s model choices.
VERBS = ("train", "sweep", "predict", "explain", "screen", "featurize", "genes", "active",
         "keygen", "audit", "federated", "distill", "pretrain", "fingerprint")


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
    mark_required(parser)
    return parser


def _verb_parser(parser: argparse.ArgumentParser,
                 args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub-)verb being run, e.g. ``genes train``'s, to report its errors."""
    while True:
        chosen = next((a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)), None)
        if chosen is None or getattr(args, chosen.dest, None) is None:
            return parser
        parser = chosen.choices[getattr(args, chosen.dest)]


def _said(err: Exception) -> str:
    """The error in one line; an ``OSError`` as Python words it ("[Errno 2] No such file or
    directory: 'x'") is said as the file and what is wrong with it."""
    if isinstance(err, OSError) and err.filename and str(err).startswith("[Errno"):
        what = {FileNotFoundError: "no such file; check the path",
                PermissionError: "permission denied"}.get(type(err), err.strerror or str(err))
        return f"{err.filename}: {what}"
    return str(err)


def main(argv: list[str] | None = None) -> int:
    """Run one verb; its return value is the exit code. A user's mistake (bad input, a file
    that cannot be read or written) ends with a one-line message naming it and exit code 2,
    never a traceback (``-v`` shows it)."""
    parser = build_parser(argv)
    args, unknown = parser.parse_known_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # a verb may relaunch itself
    if unknown:  # reported with the usage of the verb they were given to
        _verb_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    if not args.verbose:  # a line per epoch: the bar shows them
        logging.getLogger("molgraph.training.loop").setLevel(logging.WARNING)
    name = " ".join(v for v in (args.command, getattr(args, "genes_command", None)) if v)
    from molgraph.runtime.encryption import encryption_key

    try:
        with encryption_key(key_file=getattr(args, "key_file", None)):  # --key-file, if any
            return args.func(args)
    except (ValueError, OSError, ImportError) as err:
        if args.verbose:
            raise
        print(f"molgraph {name}: error: {_said(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"molgraph {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: say so plainly, the traceback is one flag away
        if args.verbose:
            raise
        print(f"molgraph {name}: internal error: {type(err).__name__}: {err} (run with -v for "
              "the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
