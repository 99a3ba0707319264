"""A functional-class task for gene models: which of K biological processes a gene belongs to.

Picks K GO biological-process terms that annotate between ``--min-genes`` and ``--max-genes``
genes of the network and barely overlap (greedily, largest first, Jaccard below
``--max-jaccard`` with every term already picked), and labels each network gene annotated with
exactly one of them. With structural features only (no GO features, which would hold the
answer), the network is all a model has: the task where label propagation is strong and a GNN
on the features alone is weak. Writes ``gene,label`` CSV for ``molgraph genes train --labels``::

    python experiments/genes_function_labels.py --out experiments/out/function_labels.csv
    molgraph genes train --network ../shared/datasets/genes/ppnet/PPNet.txt.gz \\
        --format edgelist --structural --labels experiments/out/function_labels.csv \\
        --task multiclass --use-labels input --out runs/function_input
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "genes"


def network_genes(path: Path) -> set[str]:
    edges = pd.read_csv(path, sep="\t", header=None, dtype=str)
    return set(edges[0]) | set(edges[1])


def pick_terms(annotations: pd.DataFrame, k: int, min_genes: int, max_genes: int,
               max_jaccard: float) -> dict[str, set[str]]:
    """The ``k`` largest admissible terms that overlap no earlier pick by more than
    ``max_jaccard``."""
    members = annotations.groupby("go_id")["symbol"].apply(set)
    sizes = members.map(len)
    candidates = members[(sizes >= min_genes) & (sizes <= max_genes)]
    picked: dict[str, set[str]] = {}
    for term in sizes[candidates.index].sort_values(ascending=False, kind="stable").index:
        genes = candidates[term]
        if all(len(genes & g) / len(genes | g) < max_jaccard for g in picked.values()):
            picked[term] = genes
        if len(picked) == k:
            break
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", type=Path, default=SHARED / "ppnet" / "PPNet.txt.gz")
    parser.add_argument("--go", type=Path,
                        default=SHARED / "go" / "gene2go_orgHsEgDb_3.16.0.tsv.gz")
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--min-genes", type=int, default=150)
    parser.add_argument("--max-genes", type=int, default=600)
    parser.add_argument("--max-jaccard", type=float, default=0.02)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    genes = network_genes(args.network)
    go = pd.read_csv(args.go, sep="\t", dtype=str)
    go = go[(go["ontology"] == "BP") & (go["evidence"] != "ND") & go["symbol"].isin(genes)]
    go = go.drop_duplicates(["symbol", "go_id"])
    picked = pick_terms(go, args.classes, args.min_genes, args.max_genes, args.max_jaccard)
    counts = pd.Series([g for members in picked.values() for g in members]).value_counts()
    single = set(counts[counts == 1].index)
    rows = [(g, term) for term, members in picked.items() for g in sorted(members & single)]
    table = pd.DataFrame(rows, columns=["gene", "label"]).sort_values("gene")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(json.dumps({"terms": {t: len(m) for t, m in picked.items()},
                      "labelled": len(table),
                      "per_class": table["label"].value_counts().to_dict()}))


if __name__ == "__main__":
    main()
