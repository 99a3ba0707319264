"""``molgraph distill``: pool several owners' annotations of one public library into the labels
a student model trains on (``molgraph.privacy.distill``); no owner shares molecules or weights.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "distill", help="pool owners' annotations of a public library for a student model",
        description="Each owner annotates the same public library with its own model "
        "(`molgraph predict --model OWNER --data LIBRARY --out OWNER.csv`); this pools the "
        "annotations (classification: the majority of the owners sure of the class, by their "
        "conformal sets; regression: the mean weighted by each owner's interval width) into "
        "OUT, a molecule file to train the student on with `molgraph train`.")
    p.add_argument("--annotations", nargs="+", required=True, metavar="CSV",
                   help="one `molgraph predict` output per owner, on the same library")
    p.add_argument("--out", required=True, metavar="CSV", help="the pooled labels")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.privacy.distill import pool_annotations

    pooled = pool_annotations(args.annotations)
    pooled.table.to_csv(args.out, index=False)
    print(pooled.summary())
    kinds = set(pooled.tasks.values())
    task = kinds.pop() if len(kinds) == 1 else None
    print(f"pooled labels written to {args.out}; train the student with:")
    print(f"  molgraph train --data {args.out} --target-columns {' '.join(pooled.tasks)}"
          + (f" --task {task}" if task else "") + " --out STUDENT_DIR")
    return 0
