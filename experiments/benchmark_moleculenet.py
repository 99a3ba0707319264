"""MoleculeNet benchmark: scaffold split, several seeds, six data sets, molgraph models.

Reads ``../shared/datasets/molecules/`` (see its SOURCES.md). Each (data set, model, seed) job
runs in its own process with one torch thread; ``--jobs`` processes run at once. Each finished
run is appended to ``experiments/out/moleculenet.jsonl`` at once (a restarted benchmark skips
runs already there); the summary table goes to stdout (pasted into ``experiments/RESULTS.md``).

    python experiments/benchmark_moleculenet.py --models dmpnn --seeds 0 1 2 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "molecules"
TOX21 = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD",
         "NR-PPAR-gamma", "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]
DATASETS = {
    "esol": ("esol/delaney-processed.csv", ["measured log solubility in mols per litre"],
             "regression"),
    "freesolv": ("freesolv/SAMPL.csv", ["expt"], "regression"),
    "lipophilicity": ("lipophilicity/lipo.csv", ["lipo"], "regression"),
    "bbbp": ("bbbp/bbbp.csv", ["p_np"], "classification"),
    "bace": ("bace/bace.csv", ["Class"], "classification"),
    "tox21": ("tox21/tox21.csv.gz", TOX21, "classification"),
}
# Published or measured references (scaffold splits): Chemprop v2 default D-MPNN measured on
# this machine (ESOL only); DGL-LifeSci's published scaffold-split GCN.
#: the order jobs start in, so that no core waits alone on Tox21 at the end (its ECFP random
#: forests, 12 tasks, take most of its half hour on one thread)
LONGEST_FIRST = ("tox21", "lipophilicity", "bbbp", "bace", "esol", "freesolv")
#: each run's split and GNN predictions (for blends and paired comparisons after the fact)
PREDICTIONS = ROOT / "experiments" / "out" / "moleculenet_predictions"
REFERENCES = {"esol": {"chemprop_v2": 0.80, "dgllife_gcn": 0.86},
              "lipophilicity": {"dgllife_gcn": 0.76}, "bbbp": {"dgllife_gcn": 0.63},
              "tox21": {"dgllife_gcn": 0.77}}


def run_one(job: tuple[str, str, int, int, str, str, str]) -> dict:
    name, model, seed, epochs, pooling, features, device = job
    import torch

    torch.set_num_threads(1)
    from molgraph.data.dataset import load_dataset
    from molgraph.training.api import run_config
    from molgraph.training.job import add_baseline, train_on_dataset

    path, targets, task = DATASETS[name]
    dataset = load_dataset(SHARED / path, target_columns=targets, cache_dir=None, workers=1)
    config = run_config(SHARED / path, targets, task, model, "scaffold", seed, epochs,
                        model_options={"pooling": pooling, "molecule_features": features},
                        train_options={"device": device, "threads": 1}, blend=True)
    run = train_on_dataset(dataset, config)
    if features == "none":  # the baseline does not depend on the GNN's options: once per split
        add_baseline(run, dataset)
    predictions = PREDICTIONS / f"{name}-{model}-{pooling}-{features}-{seed}.npz"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(predictions, train=run.split[0], val=run.split[1], test=run.split[2],
                        blend_val=run.val_predictions, blend_test=run.test_predictions,
                        svm_val=run.svm.val, svm_test=run.svm.test,
                        weights=list(run.blend["weights"].values()))
    return {"dataset": name, "model": model, "seed": seed, "task": task, "epochs": epochs,
            "pooling": pooling, "molecule_features": features,
            "load_after": os.getloadavg(),
            "n_molecules": len(dataset.graphs), "n_invalid": len(dataset.errors),
            "best_epoch": run.fit.best_epoch, "epochs_run": len(run.fit.history),
            "seconds": round(run.seconds, 1),
            "val": run.blend["gnn"]["val"], "test": run.blend["gnn"]["test"],
            "blend": {"weights": run.blend["weights"], "val": run.metrics["val"],
                      "test": run.metrics["test"]},
            **({"baseline": {k: run.baseline[k] for k in ("best", "val", "test", "seconds")}}
               if run.baseline is not None else {})}


def refit_baseline(record: dict) -> dict:
    """The record's ECFP baseline fitted again, as ``add_baseline`` does now, on the split its
    run saved (after a change to the baseline's settings; the GNN is not retrained)."""
    import torch

    torch.set_num_threads(1)
    from molgraph.data.dataset import load_dataset
    from molgraph.training.baseline import fit_baselines

    path, targets, task = DATASETS[record["dataset"]]
    dataset = load_dataset(SHARED / path, target_columns=targets, cache_dir=None, workers=1)
    saved = np.load(PREDICTIONS / (f"{record['dataset']}-{record['model']}-"
                                   f"{record.get('pooling', 'mean')}-none-{record['seed']}.npz"))
    split = (saved["train"], saved["val"], saved["test"])
    # the file's labels are the run's: run_one keeps every duplicate row (policy "keep")
    base = fit_baselines(dataset.smiles, dataset.y, split, task, record["seed"], threads=1)
    return {**record, "baseline": {k: base[k] for k in ("best", "val", "test", "seconds")}}


def summarise(results: list[dict]) -> str:
    lines = ["| data set | metric | model | test mean ± std (n seeds) | in-run ECFP baseline | "
             "seconds / run | references |", "|---|---|---|---|---|---|---|"]

    def key(r: dict) -> tuple[str, str, str, str]:
        return (r["dataset"], r["model"], r.get("pooling", "mean"),
                r.get("molecule_features", "none"))

    for group in sorted({key(r) for r in results},
                        key=lambda k: (list(DATASETS).index(k[0]), *k[1:])):
        name, model, pooling, features = group
        runs = [r for r in results if key(r) == group]
        metric = "rmse" if runs[0]["task"] == "regression" else "roc_auc"
        values = np.array([r["test"][metric] for r in runs])
        base = np.array([r["baseline"]["test"][metric] for r in runs if "baseline" in r])
        base_text = f"{base.mean():.3f} ± {base.std():.3f}" if len(base) else ""
        seconds = np.mean([r["seconds"] for r in runs])
        refs = ", ".join(f"{k} {v}" for k, v in REFERENCES.get(name, {}).items())
        lines.append(f"| {name} | {metric} | {model} ({pooling} pooling, features {features}) "
                     f"| {values.mean():.3f} ± {values.std():.3f} (n={len(values)}) | "
                     f"{base_text} | {seconds:.0f} | {refs} |")
    return "\n".join(lines)


#: Chemprop 2.3.1's default D-MPNN on exactly these splits (seeds 0, 1, 2), measured on this
#: machine by benchmark_chemprop.py on 2026-11-22 (experiments/RESULTS.md); the splits are
#: checked to be the same (split_indices unchanged since).
CHEMPROP = {"esol": (0.831, 0.823, 1.026), "freesolv": (1.862, 2.641, 1.583),
            "lipophilicity": (0.634, 0.535, 0.631), "bbbp": (0.933, 0.893, 0.964),
            "bace": (0.792, 0.852, 0.845), "tox21": (0.796, 0.785, 0.830)}


def _candidates(runs: list[dict], metric: str) -> dict[tuple[str, int], dict]:
    """``(candidate, seed) → {"val", "test"}``: each feature option alone and blended."""
    out = {}
    for r in runs:
        out[(r["molecule_features"], r["seed"])] = {"val": r["val"][metric],
                                                    "test": r["test"][metric]}
        if "blend" in r:
            out[(r["molecule_features"] + " + svm blend", r["seed"])] = {
                "val": r["blend"]["val"][metric], "test": r["blend"]["test"][metric]}
    return out


def _chosen(cand: dict[tuple[str, int], dict], seeds: tuple[int, ...], sign: float,
            n_options: int, with_blends: bool) -> list[float]:
    """Per seed with every candidate run, the test score of the one with the best validation
    score (ties: the shorter name, i.e. the simpler candidate)."""
    picked = []
    for seed in seeds:
        pool = {c: v for (c, s), v in cand.items()
                if s == seed and (with_blends or "blend" not in c)}
        if len(pool) == n_options * (1 + with_blends):
            best = max(pool, key=lambda c: (sign * pool[c]["val"], -len(c)))
            picked.append(pool[best]["test"])
    return picked


def comparison(results: list[dict], seeds: tuple[int, ...] = (0, 1, 2)) -> str:
    """Per data set, test mean ± std over ``seeds``: the default D-MPNN, each feature option,
    the candidate chosen per seed on validation (the GNN alone, and all candidates including
    the SVM blends), the in-run ECFP baseline and Chemprop on the same splits."""
    options = sorted({r["molecule_features"] for r in results if "blend" in r},
                     key=lambda f: (f != "none", f))
    head = ["data set", "metric", *[f"D-MPNN {o}" for o in options], "GNN chosen on val",
            "chosen on val (with blends)", "ECFP baseline", "Chemprop v2", "chosen − Chemprop"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    wins = 0
    for name in DATASETS:
        runs = [r for r in results if r["dataset"] == name and "blend" in r
                and r["seed"] in seeds and r.get("pooling", "mean") == "mean"]
        if not runs:
            continue
        metric = "rmse" if runs[0]["task"] == "regression" else "roc_auc"
        sign = -1.0 if metric == "rmse" else 1.0  # larger sign * value is better
        cand = _candidates(runs, metric)

        def stat(values: list[float]) -> str:
            return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else ""

        cells = [stat([cand[(o, s)]["test"] for s in seeds if (o, s) in cand]) for o in options]
        n_options = len({r["molecule_features"] for r in runs})
        gnn, every = (_chosen(cand, seeds, sign, n_options, blends) for blends in (False, True))
        base = [r["baseline"]["test"][metric] for r in runs if r["molecule_features"] == "none"]
        chemprop = list(CHEMPROP.get(name, ()))
        diff = np.mean(every) - np.mean(chemprop) if every and chemprop else np.nan
        wins += bool(np.isfinite(diff) and sign * diff > 0)
        lines.append(f"| {name} | {metric} | " + " | ".join(
            [*cells, stat(gnn), stat(every), stat(base), stat(chemprop), f"{diff:+.3f}"]) + " |")
    lines.append(f"\nchosen on validation (with blends) better than Chemprop on {wins} sets")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=["dmpnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--pooling", default="mean")
    parser.add_argument("--molecule-features", default="none",
                        help="none, morgan, rdkit2d or morgan+rdkit2d "
                        "(concatenated at the readout)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "out" /
                        "moleculenet.jsonl")
    parser.add_argument("--summary-only", action="store_true", help="print the table and exit")
    parser.add_argument("--refit-baselines", nargs="+", default=[], metavar="DATASET",
                        help="fit these sets' baselines again on the saved splits (graph-only "
                        "runs), rewrite --out and exit")
    args = parser.parse_args()
    done = ([json.loads(line) for line in args.out.read_text().splitlines()]
            if args.out.exists() else [])
    if args.refit_baselines:
        jobs = [i for i, r in enumerate(done) if r["dataset"] in args.refit_baselines
                and "baseline" in r]
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            for i, record in zip(jobs, pool.map(refit_baseline, [done[i] for i in jobs])):
                done[i] = record
                print(json.dumps({k: record[k] for k in ("dataset", "seed")} |
                                 {"baseline_seconds": record["baseline"]["seconds"]}), flush=True)
        args.out.write_text("".join(json.dumps(r) + "\n" for r in done))
        return
    if args.summary_only:
        print(summarise(done))
        print(comparison(done))
        return
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} not found: this benchmark needs ../shared/datasets")
    finished = {(r["dataset"], r["model"], r["seed"], r["epochs"], r.get("pooling", "mean"),
                 r.get("molecule_features", "none")) for r in done}
    jobs = [(d, m, s, args.epochs, args.pooling, args.molecule_features, args.device)
            for d in sorted(args.datasets, key=LONGEST_FIRST.index)
            for m in args.models for s in args.seeds
            if (d, m, s, args.epochs, args.pooling, args.molecule_features) not in finished]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "jobs": args.jobs,
                      "load_before": os.getloadavg(), "to_run": len(jobs)}), flush=True)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(run_one, job) for job in jobs]):
            result = future.result()
            done.append(result)
            with args.out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
            print(json.dumps({k: result[k] for k in ("dataset", "model", "seed", "seconds")}),
                  flush=True)
    print(summarise([r for r in done if r["epochs"] == args.epochs]))
    print(comparison([r for r in done if r["epochs"] == args.epochs]))


if __name__ == "__main__":
    main()
