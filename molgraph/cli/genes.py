"""``molgraph genes train|sweep|predict|explain``: node classification on a gene network.

``genes train`` and ``genes sweep`` have one flag per
:class:`~molgraph.genes.config.GeneRunConfig` field (the older spellings stay as aliases), plus
the format-specific network reader options; ``--config DIR/run_config.json`` repeats an earlier
run (the flags given override it); ``--tracking-uri`` logs to MLflow as ``molgraph train``
does. Each verb calls one library function (``train_genes``, ``run_sweep``, ``rank_genes``,
``explain_genes``). torch is imported only to run.
"""

from __future__ import annotations

import argparse
import json

from molgraph.cli.options import (
    PREFIX,
    add_config_options,
    add_tracking_options,
    given_values,
    tracking_config,
    verbose_optuna,
)
from molgraph.genes.config import (
    GeneDataConfig,
    GeneRunConfig,
    load_gene_config,
    network_options,
)
from molgraph.runtime.configs import with_values
from molgraph.sweep.config import SweepConfig

#: Dotted name → flags (the first is shown in ``--help``); other fields get ``--field-name``.
ALIASES = {
    "model.name": ["--model"],
    "model.hidden_channels": ["--hidden-channels", "--hidden"],
    "model.num_layers": ["--num-layers", "--layers"],
    "data.label_columns": ["--label-column", "--label-columns"],
}
#: The inputs a run needs, unless ``--config`` names them.
REQUIRED = {"data.network": "--network", "data.format": "--format"}
NETWORK_FLAGS = ("string_info", "min_score", "organism", "id_type", "header")
#: Where the sweep's own settings go in the namespace, apart from the run's.
SWEEP = "sweep:"


def register(subparsers: argparse._SubParsersAction) -> None:
    genes = subparsers.add_parser(
        "genes", help="rank genes with a GNN on an interaction network",
        description="Train node classifiers on a gene/protein network and rank every gene.")
    verbs = genes.add_subparsers(dest="genes_command", required=True)
    _register_train(verbs)
    _register_sweep(verbs)
    p = verbs.add_parser("predict", help="rank every gene with a trained model",
                         description="Write a CSV of every gene ranked by score (labelled or "
                         "not), with its known label and cross-validated score.")
    p.add_argument("--model", required=True, help="model directory written by 'genes train'")
    p.add_argument("--out", required=True, help="ranked CSV to write")
    p.add_argument("--task", help="task or class to rank by (default: the first task)")
    p.add_argument("--top", type=int, help="print the top N genes (default: none)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present), cpu, cuda[:N] (default: auto)")
    p.set_defaults(func=run_predict)
    _register_explain(verbs)


def _register_explain(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "explain", help="which neighbours and features drive genes' scores",
        description="Attribute each gene's logit to the genes around it and to the input "
        "features (Captum Integrated Gradients on the model's receptive field) and write "
        "genes.csv, neighbours.csv, features.csv and subgraph_<gene>.png to DIR.")
    p.add_argument("--model", required=True, help="model directory written by 'genes train'")
    p.add_argument("--genes", required=True, nargs="+", metavar="G", help="genes to explain")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--task", help="task or class to explain (default: as 'genes predict')")
    p.add_argument("--method", default="integrated_gradients",
                   choices=("integrated_gradients", "input_x_gradient"),
                   help="attribution method (default: integrated_gradients)")
    p.add_argument("--top", type=int, default=20,
                   help="neighbours and features kept per gene (default: 20)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present), cpu, cuda[:N] (default: auto)")
    p.set_defaults(func=run_explain)


def _register_train(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "train", help="cross-validate and train a node classifier",
        description="Cross-validate a node model on the labelled genes, train it on all of them "
        "and write the model, run_config.json and metrics.json to DIR. Labels come from "
        "--labels or from --positives with --negatives.")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    _add_run_options(p)
    add_tracking_options(p)
    p.set_defaults(func=run_train, error=p.error)


def _register_sweep(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "sweep", help="hyperparameter search for a node model (Optuna)",
        description="Search node-model and optimisation settings on the folds' validation "
        "genes (mean best validation AUPRC), then train the best configuration into DIR/best/ "
        "(as 'genes train' does). DIR/optuna.log holds the study: run again to continue it.")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep directory")
    add_config_options(p, SweepConfig, title="sweep", store=SWEEP)
    _add_run_options(p)
    add_tracking_options(p)
    p.set_defaults(func=run_sweep, error=p.error)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """One flag per ``GeneRunConfig`` field, and the network readers' own options."""
    p.add_argument("--config", metavar="FILE", help="run_config.json of an earlier run (or its "
                   "directory); the flags given override it (default: none)")
    add_config_options(p, GeneRunConfig, aliases=ALIASES, require_missing=False, title="run")
    p.add_argument("--dp-epsilon", type=float, metavar="EPS", help="refused: differential "
                   "privacy does not hold on a gene network yet (default: none)")
    p.add_argument("--keep-self-loops", dest=PREFIX + "data.self_loops", action="store_const",
                   const="keep", default=argparse.SUPPRESS,
                   help="same as --self-loops keep (default: drop)")
    net = p.add_argument_group("network reader options")
    net.add_argument("--string-info", metavar="FILE",
                     help="string: protein.info file mapping ids to gene symbols (default: none)")
    net.add_argument("--min-score", type=int,
                     help="string: combined_score threshold (default: 0)")
    net.add_argument("--organism", type=int,
                     help="string/biogrid/mitab: taxon id to keep (default: all)")
    net.add_argument("--id-type", help="biogrid: symbol|entrez|...; mitab: 'gene name'|"
                     "uniprotkb|... (default: the reader's)")
    net.add_argument("--header", choices=("auto", "yes", "no"),
                     help="edgelist: is the first row a header (default: auto)")


#: Why --dp-epsilon is refused for gene networks (molecules: ``molgraph train --dp-epsilon``).
GENE_DP_REFUSAL = (
    "differential privacy is not available for gene networks: a gene's features and label "
    "reach its neighbours' predictions through message passing, so clipping each gene's "
    "gradient does not bound one gene's influence on the model (node-level privacy needs "
    "bounded-degree sampling and per-layer noise); train without --dp-epsilon")


def gene_run_config(args: argparse.Namespace) -> GeneRunConfig:
    """The run configuration: ``--config``'s file if given, overridden by the flags given."""
    values = given_values(args)
    if args.dp_epsilon is not None:
        raise ValueError(GENE_DP_REFUSAL)
    if args.config:
        base = load_gene_config(args.config)
    else:
        missing = [flag for name, flag in REQUIRED.items() if name not in values]
        if missing:
            args.error(f"the following arguments are required: {', '.join(missing)} "
                       "(or --config)")
        base = GeneRunConfig(GeneDataConfig(values["data.network"], values["data.format"]))
    if (not args.config or "data.format" in values
            or any(getattr(args, name) is not None for name in NETWORK_FLAGS)):
        format = values.get("data.format", base.data.format)
        header = None if args.header in (None, "auto") else args.header == "yes"
        values["data.network_options"] = network_options(
            format, args.string_info, args.min_score, args.organism, args.id_type, header)
    config = with_values(base, values)
    data = config.data
    if not (data.labels or data.positives):
        args.error("one of the arguments --labels --positives is required")
    if data.labels and data.positives:
        args.error("argument --positives: not allowed with argument --labels")
    if data.positives and not data.negatives:
        raise ValueError("--positives needs --negatives")
    return config


def run_train(args: argparse.Namespace) -> int:
    """Train, then print the CV table (GNN, baselines, difference) and a JSON summary."""
    from molgraph.genes.report import cv_table, main_metrics
    from molgraph.genes.workflow import train_genes

    metrics = train_genes(gene_run_config(args), args.out, tracking=tracking_config(args))
    cv = metrics["cv"]
    summary = {k: (cv["mean"].get(k), cv["std"].get(k)) for k in main_metrics(metrics["task"])}
    print(cv_table(metrics))
    print(json.dumps({"out": args.out, "cv_mean_std": summary,
                      "baseline": metrics.get("baseline", {}).get("best")}, indent=2))
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from molgraph.sweep.run import run_sweep, sweep_report

    verbose_optuna(args)
    result = run_sweep(gene_run_config(args), args.out, SweepConfig(**given_values(args, SWEEP)),
                       tracking_config(args), fixed=list(given_values(args)))
    print(sweep_report(result, args.out))
    return 0 if result["best_trial"] is not None else 1


def run_predict(args: argparse.Namespace) -> int:
    from molgraph.genes.workflow import rank_genes

    table = rank_genes(args.model, args.out, args.task, args.device)
    print(f"ranked {len(table)} genes ({int(table['labelled'].sum())} labelled) → {args.out}")
    if args.top:
        print(table.head(args.top).to_string(index=False))
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from molgraph.genes.explain import explain_genes

    result = explain_genes(args.model, args.genes, args.task, args.method, args.top,
                           args.device)
    out = result.write(args.out)
    table = result.genes
    failed = table[table["error"] != ""]
    print(f"explained {len(table) - len(failed)} of {len(table)} genes ({result.task}) → {out}")
    for gene, error in zip(failed["gene"], failed["error"]):
        print(f"  {gene}: {error}")
    return 0
