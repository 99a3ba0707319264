"""Gene benchmark: GNNs vs non-graph baselines and label propagation, same features, same folds.

Tasks (data in ``../shared/datasets/genes``, see its SOURCES.md):

* drivers: PPNet (11,395 genes) with the 796 driver / 2,187 non-driver lists (EMOGI/MTGCN label
  set); stratified 5-fold CV over the 1,742 labelled PPNet genes.
* essential: the same network with DepMap essentiality labels (8,300 PPNet genes) and DepMap's
  family-aware 5-fold split assignments (train / validation / test roles as given).

Features for every model: multi-hot GO terms annotating ≥ ``--go-min-genes`` and ≤
``--go-max-fraction`` of the network's genes, plus five standardised structural features (degree,
weighted degree, clustering, core number, PageRank). Each fold's validation genes pick the
epoch (neural models), ``C`` (logistic regression) or ``alpha`` (label propagation); metrics are
on the fold's test genes. Run from the repository root::

    nice -n 10 python experiments/genes_benchmark.py --out experiments/out/genes
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch_geometric.nn.models import LabelPropagation

from molgraph.genes import (
    GeneModelConfig,
    GeneTrainConfig,
    IdMap,
    go_features,
    kfold_splits,
    labels_from_lists,
    read_label_table,
    read_network,
    read_split_assignments,
    stack_features,
    structural_features,
)
from molgraph.genes.train import fit_node_model, graph_tensors, probabilities
from molgraph.training.metrics import classification_metrics

log = logging.getLogger("genes_benchmark")
ROOT = Path(__file__).resolve().parents[1]
LR_C = (0.01, 0.03, 0.1, 0.3, 1.0)
LP_ALPHA = (0.1, 0.3, 0.5, 0.7, 0.9, 0.99)


def load_tasks(shared: Path, seed: int) -> tuple:
    """The network, both label sets and their folds."""
    graph = read_network(shared / "ppnet" / "PPNet.txt.gz", "edgelist")
    drivers = labels_from_lists(graph, shared / "ppnet" / "796_drivers.txt",
                                shared / "ppnet" / "2187_nondrivers.txt", name="driver")
    depmap = shared / "depmap_essential"
    essential = read_label_table(depmap / "depmap_labels.csv.gz", graph,
                                 gene_column="gene_symbol", label_columns=["label"])
    key_to_symbol = IdMap.from_table(depmap / "depmap_labels.csv.gz", to="gene_symbol",
                                     columns=["gene_key"])
    essential_folds, _ = read_split_assignments(
        depmap / "depmap_split_assignments.csv.gz", graph, essential, id_map=key_to_symbol)
    tasks = {
        "drivers": (drivers, kfold_splits(drivers, folds=5, seed=seed)),
        "essential": (essential, essential_folds),
    }
    return graph, tasks


def _score(labels, probs: np.ndarray, nodes: np.ndarray) -> dict[str, float]:
    metrics = classification_metrics(labels.y[nodes], probs[nodes])
    return {k: metrics[k] for k in ("pr_auc", "roc_auc", "f1")}


def run_neural(graph, x, labels, fold, model: GeneModelConfig, train: GeneTrainConfig,
               seed: int) -> tuple[np.ndarray, dict]:
    x_t, adj_t = graph_tensors(graph, x, torch.device(train.device))
    fit = fit_node_model(x_t, adj_t, labels, fold.train, fold.val, model, train, seed=seed)
    with torch.no_grad():
        return probabilities(fit.model(x_t, adj_t), labels.task)[:, 0], {"epoch": fit.best_epoch}


def run_logistic(graph, x, labels, fold, seed) -> tuple[np.ndarray, dict]:
    y = labels.y[:, 0]
    best = (-1.0, None, None)
    for c in LR_C:
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
        model.fit(x[fold.train], y[fold.train])
        probs = model.predict_proba(x)[:, 1]
        val = _score(labels, probs[:, None], fold.val)["pr_auc"]
        if val > best[0]:
            best = (val, c, probs)
    return best[2], {"C": best[1]}


def run_label_propagation(graph, labels, fold) -> tuple[np.ndarray, dict]:
    y = torch.as_tensor(np.nan_to_num(labels.y[:, 0]), dtype=torch.long)
    mask = torch.zeros(graph.num_genes, dtype=torch.bool)
    mask[fold.train] = True
    best = (-1.0, None, None)
    for alpha in LP_ALPHA:
        out = LabelPropagation(num_layers=50, alpha=alpha)(y, graph.data.edge_index, mask)
        probs = out[:, 1].numpy().astype(np.float64)
        val = _score(labels, probs[:, None], fold.val)["pr_auc"]
        if val > best[0]:
            best = (val, alpha, probs)
    return best[2], {"alpha": best[1]}


def benchmark(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    graph, tasks = load_tasks(args.shared, args.seed)
    go = go_features(graph, args.shared / "go" / "gene2go_orgHsEgDb_3.16.0.tsv.gz",
                     args.go_min_genes, args.go_max_fraction)
    x, names = stack_features([go, structural_features(graph)], graph.num_genes)
    setup = time.perf_counter() - start
    log.info("graph %d genes, %d edges; %d features (%d GO terms); setup %.0f s",
             graph.num_genes, graph.num_edges, x.shape[1], len(go.columns), setup)
    results: dict = {"setup_seconds": setup, "features": x.shape[1], "go_terms": len(go.columns),
                     "tasks": {}}
    for task, (labels, folds) in tasks.items():
        per_model: dict = {}
        for model in args.models:
            rows, t0, cpu0 = [], time.perf_counter(), time.process_time()
            for i, fold in enumerate(folds):
                if model == "logreg":
                    probs, info = run_logistic(graph, x, labels, fold, args.seed)
                elif model == "labelprop":
                    probs, info = run_label_propagation(graph, labels, fold)
                else:
                    train = GeneTrainConfig(epochs=args.epochs, patience=args.patience,
                                            device=args.device)
                    probs, info = run_neural(graph, x, labels, fold,
                                             GeneModelConfig(name=model, heads=args.heads),
                                             train, args.seed)
                rows.append({**_score(labels, probs[:, None], fold.test), **info})
                log.info("%s %s fold %d: AUPRC %.3f AUROC %.3f %s", task, model, i,
                         rows[-1]["pr_auc"], rows[-1]["roc_auc"], info)
            per_model[model] = {
                "folds": rows, "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - cpu0,
                **{f"{k}_{s}": float(f(np.array([r[k] for r in rows])))
                   for k in ("pr_auc", "roc_auc", "f1") for s, f in (("mean", np.mean),
                                                                     ("std", np.std))},
            }
        n_pos = int(np.nansum(labels.y[:, 0] == 1))
        results["tasks"][task] = {"labelled": int(labels.labelled.sum()), "positives": n_pos,
                                  "folds": [[len(f.train), len(f.val), len(f.test)]
                                            for f in folds],
                                  "models": per_model}
    results["seconds"] = time.perf_counter() - start
    results["cpu_seconds"] = time.process_time()
    return results


GRAPH_MODELS = {"gcn", "sage", "gat"}


def markdown(results: dict, command: str, args: argparse.Namespace) -> str:
    lines = ["## Gene benchmark: node classification on PPNet", "",
             f"Command: `{command}`  ", f"Seed {args.seed}; torch threads {args.threads}; "
             f"{platform.processor() or platform.machine()}, CPU only; total wall time "
             f"{results['seconds'] / 60:.1f} min, CPU time {results['cpu_seconds'] / 60:.1f} min "
             f"(setup {results['setup_seconds']:.0f} s wall). "
             f"Features: {results['go_terms']} GO terms + 5 structural = {results['features']}.",
             ""]
    for task, data in results["tasks"].items():
        lines += [f"### {task}: {data['labelled']} labelled genes, {data['positives']} positive; "
                  f"folds (train/val/test) {data['folds']}", "",
                  "| model | graph | AUPRC | AUROC | F1 | wall s | CPU s |",
                  "|---|---|---|---|---|---|---|"]
        for model, r in data["models"].items():
            # label propagation scores are not probabilities: F1 at 0.5 means nothing there
            f1 = "–" if model == "labelprop" else f"{r['f1_mean']:.3f} ± {r['f1_std']:.3f}"
            lines.append(f"| {model} | {'yes' if model in GRAPH_MODELS | {'labelprop'} else 'no'} "
                         f"| {r['pr_auc_mean']:.3f} ± {r['pr_auc_std']:.3f} "
                         f"| {r['roc_auc_mean']:.3f} ± {r['roc_auc_std']:.3f} "
                         f"| {f1} | {r['seconds']:.0f} | {r['cpu_seconds']:.0f} |")
        gnn = max((r["pr_auc_mean"], m) for m, r in data["models"].items() if m in GRAPH_MODELS)
        base = max((r["pr_auc_mean"], m) for m, r in data["models"].items()
                   if m not in GRAPH_MODELS)
        lines += ["", f"Best GNN {gnn[1]} {gnn[0]:.3f} vs best baseline {base[1]} {base[0]:.3f}: "
                  f"{gnn[0] - base[0]:+.3f} AUPRC (target +0.05).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared/datasets/genes")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/out/genes")
    parser.add_argument("--models", nargs="+",
                        default=["logreg", "mlp", "labelprop", "gcn", "sage"])
    parser.add_argument("--go-min-genes", type=int, default=10)
    parser.add_argument("--go-max-fraction", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=30)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--append-results", type=Path,
                        help="append the markdown section to this file (RESULTS_genes.md)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not args.shared.exists():
        raise SystemExit(f"{args.shared} not found: the benchmark needs ../shared/datasets/genes")
    import sys

    command = "python " + " ".join(sys.argv)
    results = benchmark(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    text = markdown(results, command, args)
    (args.out / "results.md").write_text(text + "\n")
    if args.append_results:
        with open(args.append_results, "a") as handle:
            handle.write("\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
