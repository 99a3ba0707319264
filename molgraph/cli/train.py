"""``molgraph train``: train a model on a molecule file and write model, metrics, predictions."""

from __future__ import annotations

import argparse
import json

from molgraph.models import MODELS, POOLINGS
from molgraph.split import SPLITS
from molgraph.train import TASKS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a GNN on labelled molecules",
                              description="Train a GNN on a molecule file and write DIR/model/, "
                              "DIR/metrics.json and DIR/test_predictions.csv.")
    p.add_argument("--data", required=True,
                   help="CSV/TSV/SMI/SDF (optionally .gz), or moleculeace:NAME")
    p.add_argument("--smiles-column", help="SMILES column (default: smiles, SMILES or mol)")
    p.add_argument("--target-columns", nargs="+", required=True,
                   help="label columns (CSV) or SD properties (SDF)")
    p.add_argument("--task", choices=TASKS, default="regression")
    p.add_argument("--model", choices=sorted(MODELS), default="dmpnn")
    p.add_argument("--split", choices=SPLITS, default="scaffold")
    p.add_argument("--split-sizes", nargs=3, type=float, default=(0.8, 0.1, 0.1),
                   metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=20,
                   help="epochs without validation improvement before stopping (0: never)")
    p.add_argument("--hidden", type=int, default=300, help="hidden channels")
    p.add_argument("--layers", type=int, default=3, help="message-passing layers")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--pooling", choices=sorted(POOLINGS), default="mean",
                   help="graph readout; norm = sum / 100 (Chemprop's default) keeps molecular "
                   "size: better on ESOL, worse on FreeSolv and BACE (experiments/RESULTS.md)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (gat)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: half the CPUs, max 4)")
    p.add_argument("--no-cache", action="store_true", help="do not cache featurized graphs")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from molgraph.dataset import load_dataset
    from molgraph.workflow import train_on_dataset, write_run

    dataset = load_dataset(args.data, args.smiles_column, args.target_columns,
                           cache_dir=not args.no_cache)
    run_ = train_on_dataset(
        dataset, args.task, args.model, args.split, args.seed, args.epochs,
        sizes=args.split_sizes,
        model_options={"hidden_channels": args.hidden, "num_layers": args.layers,
                       "dropout": args.dropout, "pooling": args.pooling, "heads": args.heads},
        train_options={"batch_size": args.batch_size, "lr": args.lr, "patience": args.patience,
                       "device": args.device, "threads": args.threads},
    )
    write_run(run_, dataset, args.out, {"data": str(args.data), "model": args.model,
                                        "split": args.split, "seed": args.seed,
                                        "task": args.task})
    main_metrics = ("rmse", "mae", "r2") if args.task == "regression" else ("roc_auc", "pr_auc")
    print(json.dumps({part: {k: round(run_.metrics[part][k], 4) for k in main_metrics}
                      for part in ("val", "test")}))
    print(f"model, metrics and test predictions written to {args.out}")
    return 0
