"""Are molgraph's atom attributions right? Ground-truth tasks on real MOSES molecules, after
Sanchez-Lengeling et al. (NeurIPS 2020): a label defined by two substructures A and B (SMARTS),
whose true atoms are the atoms the groups match.

- ``and``: A and B (true atoms: both groups), negatives half with exactly one of them;
- ``or``: A or B (true atoms: the groups present);
- ``andnot``: A and not B (true atoms: A), negatives half with both.

Each task: balanced molecules drawn from MOSES, the default model (``molgraph train``'s
defaults) trained on a scaffold split, held-out test positives explained by each method; the
score is the mean per-molecule atom-level ROC AUC of the attributions against the true atoms
(random attributions for reference), and a deletion curve: the fall of the logit when the k
top-attributed atoms are masked against k random atoms. Markdown on stdout, JSON and figures in
``--out``::

    python experiments/attribution_benchmark.py --out runs/attribution
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
MOSES = SHARED / "libraries" / "moses_test.csv.gz"
#: A = sulfonyl (10 % of MOSES), B = pyridine ring (19 %).
GROUPS = {"A": ("sulfonyl", "S(=O)(=O)"), "B": ("pyridine", "n1ccccc1")}
TASKS = ("and", "or", "andnot")
METHODS = ("integrated_gradients", "saliency", "input_x_gradient")
#: Sanchez-Lengeling et al. 2020, best attribution AUROC of any method/model on their tasks.
REFERENCE = {"single group": 0.99, "two-to-three-group logic": "0.78, 0.76"}


def matches(smiles: list[str]) -> tuple[np.ndarray, list[dict[str, set[int]]]]:
    """``has [n, 2]`` (A, B present) and per molecule the atoms each group matches."""
    from rdkit import Chem

    patterns = {k: Chem.MolFromSmarts(s) for k, (_, s) in GROUPS.items()}
    has, atoms = np.zeros((len(smiles), 2), dtype=bool), []
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        found = {}
        for g, (key, pattern) in enumerate(patterns.items()):
            hits = mol.GetSubstructMatches(pattern) if mol is not None else ()
            found[key] = {a for hit in hits for a in hit}
            has[i, g] = bool(hits)
        atoms.append(found)
    return has, atoms


def task_data(task: str, smiles: list[str], has: np.ndarray, n: int, seed: int
              ) -> pd.DataFrame:
    """``n`` positives and ``n`` negatives, half of the negatives the hard ones."""
    a, b = has[:, 0], has[:, 1]
    label = {"and": a & b, "or": a | b, "andnot": a & ~b}[task]
    hard = {"and": a ^ b, "or": np.zeros_like(a), "andnot": a & b}[task]
    rng = np.random.default_rng(seed)
    pos = rng.choice(np.flatnonzero(label), size=n, replace=False)
    hard_idx = np.flatnonzero(hard & ~label)
    n_hard = min(len(hard_idx), n // 2) if task != "or" else 0
    easy = rng.choice(np.flatnonzero(~label & ~hard), size=n - n_hard, replace=False)
    neg = np.concatenate([rng.choice(hard_idx, size=n_hard, replace=False), easy])
    index = rng.permutation(np.concatenate([pos, neg]))
    return pd.DataFrame({"smiles": [smiles[i] for i in index], "label": label[index].astype(int),
                         "source": index})


def true_atoms(task: str, found: dict[str, set[int]]) -> set[int]:
    if task == "andnot":
        return found["A"]
    return found["A"] | found["B"]


def attribution_auroc(atoms: pd.DataFrame, truth: dict[int, set[int]]) -> list[float]:
    """Per molecule: ROC AUC of the atom attributions against its true atoms."""
    from sklearn.metrics import roc_auc_score

    scores = []
    for row, part in atoms.groupby("row"):
        y = np.isin(part["atom"].to_numpy(), sorted(truth[row]))
        if 0 < y.sum() < len(y):
            scores.append(float(roc_auc_score(y, part["attribution"].to_numpy())))
    return scores


def run_task(task: str, frame: pd.DataFrame, found: list, out: Path, epochs: int,
             n_explain: int, seed: int) -> dict:
    import molgraph
    from molgraph.explain import deletion_curve, explain_molecules

    path = out / task / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    started = time.perf_counter()
    # the network alone: its attributions are what is benchmarked
    run = molgraph.train(path, ["label"], task="classification", split="scaffold",
                         seed=seed, epochs=epochs, out=out / task / "model", blend=False,
                         train_options={"threads": 1})
    train_s = time.perf_counter() - started
    test = frame.iloc[run.split[2]]
    positives = test[test["label"] == 1].head(n_explain)
    rows = list(range(1, len(positives) + 1))
    truth = {r: true_atoms(task, found[s]) for r, s in zip(rows, positives["source"])}
    result = {"task": task, "molecules": len(frame), "train_s": round(train_s, 1),
              "test_roc_auc": run.metrics["test"]["roc_auc"],
              "baseline_roc_auc": (run.baseline or {}).get("test", {}).get("roc_auc"),
              "explained": len(positives), "methods": {}}
    rng = np.random.default_rng(seed)
    for method in METHODS:
        started = time.perf_counter()
        explanation = explain_molecules(run.model, positives["smiles"].tolist(), method=method)
        seconds = time.perf_counter() - started
        scores = attribution_auroc(explanation.atoms, truth)
        result["methods"][method] = {"auroc": float(np.mean(scores)), "n": len(scores),
                                     "seconds": round(seconds, 2)}
        if method == "integrated_gradients":
            random = explanation.atoms.assign(attribution=rng.random(len(explanation.atoms)))
            result["methods"]["random"] = {"auroc": float(np.mean(attribution_auroc(
                random, truth))), "n": len(scores), "seconds": 0.0}
            curve = deletion_curve(run.model, explanation, ks=(1, 2, 3, 4, 5, 6))
            result["deletion"] = (curve.groupby("k")[["top_drop", "random_drop"]].mean()
                                  .round(4).reset_index().to_dict("records"))
            explanation.write(out / task / "explain", draw_limit=12)
    return result


def deletion_figure(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.2), squeeze=False)
    for ax, result in zip(axes[0], results):
        curve = pd.DataFrame(result["deletion"])
        ax.plot(curve["k"], curve["top_drop"], "o-", label="top-k by integrated gradients")
        ax.plot(curve["k"], curve["random_drop"], "s--", label="k random atoms")
        ax.set_title(f"{result['task']}: {GROUPS['A'][0]} / {GROUPS['B'][0]}", fontsize=10)
        ax.set_xlabel("atoms masked")
        ax.set_ylabel("fall of the logit")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/attribution"))
    parser.add_argument("--per-class", type=int, default=2000, help="positives (= negatives)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--explain", type=int, default=200, help="test positives explained")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not MOSES.exists():
        raise SystemExit(f"{MOSES} not found: this benchmark needs ../shared/datasets")
    args.out.mkdir(parents=True, exist_ok=True)
    smiles = pd.read_csv(MOSES)["SMILES"].tolist()
    has, found = matches(smiles)
    results = []
    for task in args.tasks:
        frame = task_data(task, smiles, has, args.per_class, args.seed)
        results.append(run_task(task, frame, found, args.out, args.epochs, args.explain,
                                args.seed))
        print(json.dumps(results[-1]), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    deletion_figure(results, args.out / "deletion.png")
    names = [*METHODS, "random"]
    print("\n| task | test ROC-AUC (ECFP RF) | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for r in results:
        base = f" ({r['baseline_roc_auc']:.3f})" if r["baseline_roc_auc"] is not None else ""
        print(f"| {r['task']} | {r['test_roc_auc']:.3f}{base} | "
              + " | ".join(f"{r['methods'][m]['auroc']:.3f}" for m in names) + " |")


if __name__ == "__main__":
    main()
