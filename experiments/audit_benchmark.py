"""How much do molgraph's models leak their training molecules? The membership-inference audit
(``molgraph audit``: LiRA and RMIA, online, shadow models trained by molgraph with each run's
own settings) on BBBP, for one or more trained runs side by side: each run's model as saved,
its network alone (a blended model) and its ECFP baseline.

The issue's evidence: AUC and TPR at FPR 0.1 % for the default GNN, the ECFP baseline and the
ε = 8 model on BBBP (scaffold split, as each run made it). Markdown on stdout, each run's
``audit.json`` and ``roc.png`` and a ``table.json`` in ``--out``::

    # train the default model first (into runs/bbbp_default), then audit it with 16 shadows
    python experiments/audit_benchmark.py --train runs/bbbp_default --shadows 16 \\
        --out runs/audit_bbbp
    # several runs, labelled
    python experiments/audit_benchmark.py --model default=runs/bbbp_default \\
        --model dp8=runs/bbbp_dp8 --out runs/audit_bbbp

A BBBP run's training part is 80 % of 2,039 molecules, so the non-members are about 400 (the
validation and test parts): a TPR at FPR 0.1 % is then the TPR at FPR 0 (members above every
non-member), as the table's resolution column says.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
BBBP = SHARED / "molecules" / "bbbp" / "bbbp.csv"


def train_default(out: Path, epochs: int | None, seed: int, threads: int) -> Path:
    """The default model (``molgraph train``'s settings) on BBBP, scaffold split, unless
    ``out`` already holds a run."""
    import molgraph

    if not (out / "run_config.json").exists():
        molgraph.train(str(BBBP), ["p_np"], task="classification", out=out, seed=seed,
                       epochs=epochs, train_options={"threads": threads}, progress=False)
    return out


def table(results: dict[str, dict]) -> str:
    """One markdown row per run, audited part and attack."""
    lines = ["| run | audited | attack | AUC | TPR@0.1% | TPR@1% | exposed at FPR 0 (actives) "
             "| members / non-members | shadows × epochs |", "|" + "---|" * 9]
    for label, audit in results.items():
        s = audit["settings"]
        for attack, parts in audit["figures"].items():
            for part, f in parts.items():
                lines.append(
                    f"| {label} | {part} | {attack} | {f['auc']:.3f} | "
                    f"{f['tpr_at_fpr']['0.001']:.4f} | {f['tpr_at_fpr']['0.01']:.4f} | "
                    f"{f['exposed_at_fpr0']} ({f['exposed_actives_at_fpr0']}) | "
                    f"{f['members']} / {f['non_members']} | "
                    f"{s['shadows']} × {s['shadow_epochs']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=DIR",
                        help="a run directory to audit (repeat for several)")
    parser.add_argument("--train", type=Path, metavar="DIR",
                        help="train the default model on BBBP into DIR (if absent) and audit it")
    parser.add_argument("--train-epochs", type=int, help="epochs of that run (default: 50)")
    parser.add_argument("--data", type=Path, default=BBBP, help="the runs' data file")
    parser.add_argument("--shadows", type=int, default=8)
    parser.add_argument("--epochs", type=int, help="shadow epochs (default: each run's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.nice(5)
    import molgraph

    runs = dict(m.split("=", 1) for m in args.model)
    if args.train is not None:
        runs["default"] = str(train_default(args.train, args.train_epochs, args.seed,
                                            args.threads))
    if not runs:
        parser.error("give --model LABEL=DIR or --train DIR")
    results, started = {}, time.perf_counter()
    for label, directory in runs.items():
        result = molgraph.audit_model(directory, args.data, args.out / label,
                                      shadows=args.shadows, epochs=args.epochs, seed=args.seed,
                                      threads=args.threads)
        results[label] = result.to_dict()
        for entry in result.stored:
            print(f"{label}: {entry['says']}")
    text = table(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text + "\n")
    (args.out / "table.json").write_text(json.dumps(
        {"runs": runs, "results": results, "seconds": round(time.perf_counter() - started, 1)},
        indent=2))


if __name__ == "__main__":
    main()
