"""``molgraph genes train|predict``: node classification on a gene network from the shell."""

from __future__ import annotations

import argparse
import json

FORMATS = ("string", "biogrid", "mitab", "sif", "edgelist", "graphml", "gml")
MODELS = ("gcn", "gat", "sage", "mlp")


def register(subparsers: argparse._SubParsersAction) -> None:
    genes = subparsers.add_parser(
        "genes", help="rank genes with a GNN on an interaction network",
        description="Train node classifiers on a gene/protein network and rank every gene.")
    verbs = genes.add_subparsers(dest="genes_command", required=True)
    _register_train(verbs)
    p = verbs.add_parser("predict", help="rank every gene with a trained model",
                         description="Write a CSV of every gene ranked by score (labelled or "
                         "not), with its known label and cross-validated score.")
    p.add_argument("--model", required=True, help="model directory written by 'genes train'")
    p.add_argument("--out", required=True, help="ranked CSV to write")
    p.add_argument("--task", help="task or class to rank by (default: the first task)")
    p.add_argument("--top", type=int, help="print the top N genes")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.set_defaults(func=run_predict)


def _register_train(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "train", help="cross-validate and train a node classifier",
        description="Cross-validate a node model on the labelled genes, train it on all of them "
        "and write DIR/metrics.json and the model to DIR.")
    p.add_argument("--network", required=True, help="interaction file (.gz allowed)")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--string-info", help="STRING protein.info file: map ids to gene symbols")
    p.add_argument("--min-score", type=int, default=0, help="STRING combined_score threshold")
    p.add_argument("--organism", type=int, help="taxon id to keep (string/biogrid/mitab)")
    p.add_argument("--id-type", help="biogrid: symbol|entrez|...; mitab: 'gene name'|uniprotkb|...")
    p.add_argument("--header", choices=("auto", "yes", "no"), default="auto",
                   help="edgelist: is the first row a header")
    p.add_argument("--largest-component", action="store_true")
    p.add_argument("--keep-self-loops", action="store_true")
    p.add_argument("--features", nargs="+", action="extend", default=[], metavar="FILE",
                   help="genes × features tables (CSV/TSV, gene id in the first column)")
    p.add_argument("--go", metavar="FILE", help="GO annotations (GAF, gene2go, or TSV with "
                   "gene and go_id columns) → multi-hot features of the informative terms")
    p.add_argument("--go-min-genes", type=int, default=10)
    p.add_argument("--go-max-fraction", type=float, default=0.05)
    p.add_argument("--structural", action="store_true",
                   help="add degree, clustering, core number and PageRank features")
    labels = p.add_mutually_exclusive_group(required=True)
    labels.add_argument("--labels", metavar="FILE", help="label table (gene, label columns)")
    labels.add_argument("--positives", metavar="FILE", help="positive gene list")
    p.add_argument("--negatives", metavar="FILE", help="negative gene list (with --positives)")
    p.add_argument("--gene-column", help="gene column of the label table (default: first)")
    p.add_argument("--label-column", nargs="+", action="extend", dest="label_columns",
                   help="label column(s) (default: 'label', else all but the gene column)")
    p.add_argument("--task", choices=("binary", "multiclass", "multilabel"),
                   help="default: inferred from the labels")
    p.add_argument("--id-map", metavar="FILE", help="id mapping table (one gene per row)")
    p.add_argument("--id-map-to", help="its column in the network's namespace (default: first)")
    p.add_argument("--splits", metavar="FILE",
                   help="given split assignments: gene, fold[, role] (replaces --folds)")
    p.add_argument("--groups", metavar="FILE", help="gene, group table: keep groups (families) "
                   "on one side of every fold")
    p.add_argument("--group-column", default="group")
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--patience", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--hidden", type=int, default=64, help="hidden channels")
    p.add_argument("--layers", type=int, default=2, help="message-passing layers")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--input-dropout", type=float, default=0.0,
                   help="dropout on the (sparse) input features")
    p.add_argument("--heads", type=int, default=4, help="attention heads (gat)")
    p.add_argument("--no-residual", action="store_true")
    p.add_argument("--class-weight", choices=("balanced", "none"), default="balanced")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_train)


def _network_options(args: argparse.Namespace) -> dict:
    options: dict = {}
    if args.format == "string":
        options.update(info=args.string_info, min_score=args.min_score, organism=args.organism)
    elif args.format in ("biogrid", "mitab"):
        options.update(organism=args.organism)
        if args.id_type:
            options["id_type"] = args.id_type
    elif args.format == "edgelist" and args.header != "auto":
        options["header"] = args.header == "yes"
    return options


def run_train(args: argparse.Namespace) -> int:
    from molgraph.genes.train import GeneTrainConfig
    from molgraph.genes.workflow import GeneDataConfig, train_genes

    if args.positives and not args.negatives:
        raise ValueError("--positives needs --negatives")
    data = GeneDataConfig(
        network=args.network, format=args.format, network_options=_network_options(args),
        self_loops="keep" if args.keep_self_loops else "drop",
        largest_component=args.largest_component, features=args.features, go=args.go,
        go_min_genes=args.go_min_genes, go_max_fraction=args.go_max_fraction,
        structural=args.structural, labels=args.labels, gene_column=args.gene_column,
        label_columns=args.label_columns, task=args.task, positives=args.positives,
        negatives=args.negatives, splits=args.splits, groups=args.groups,
        group_column=args.group_column, id_map=args.id_map, id_map_to=args.id_map_to,
    )
    train = GeneTrainConfig(
        model=args.model, hidden_channels=args.hidden, num_layers=args.layers,
        dropout=args.dropout, input_dropout=args.input_dropout, heads=args.heads,
        residual=not args.no_residual, lr=args.lr,
        weight_decay=args.weight_decay, epochs=args.epochs, patience=args.patience,
        class_weight=args.class_weight, folds=args.folds, seed=args.seed, device=args.device,
        threads=args.threads,
    )
    metrics = train_genes(data, train, args.out)
    cv = metrics["cv"]
    summary = {k: (cv["mean"].get(k), cv["std"].get(k)) for k in ("pr_auc", "roc_auc", "f1")}
    print(json.dumps({"out": args.out, "cv_mean_std": summary}, indent=2))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from molgraph.genes.workflow import rank_genes

    table = rank_genes(args.model, args.out, args.task, args.device)
    print(f"ranked {len(table)} genes ({int(table['labelled'].sum())} labelled) → {args.out}")
    if args.top:
        print(table.head(args.top).to_string(index=False))
    return 0
