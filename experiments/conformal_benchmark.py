"""Conformal coverage of molgraph's default model, and Chemprop's conformal regression beside it.

For ESOL, Lipophilicity (regression) and BBBP (classification), scaffold split 80/10/10, seeds
0-2: ``molgraph train``'s default model (D-MPNN blended with the ECFP4 SVM) is trained, its
conformal calibration fitted on the validation split (``molgraph.training.calibrate``), and the
test coverage and mean interval width (mean set size) at ``--alpha`` read from its
``metrics.json`` ``"uncertainty"``. An uncertainty (``--uncertainty ensemble``: 3 members;
``dropout``: MC dropout, dropout 0.1, 10 passes; ``mve``: a mean-variance head) adds the locally
adaptive intervals and the uncertainty's Spearman correlation with the error and its
miscalibration area.

Chemprop (its own virtualenv, never a molgraph dependency) runs on exactly the same split: a
quantile-regression D-MPNN (``-t regression-quantile --alpha``), calibrated on the same
validation molecules by ``chemprop predict --calibration-method conformal-regression`` (CQR):
its interval is ``prediction ± <target>_unc``::

    python3 -m venv /tmp/cp && /tmp/cp/bin/pip install torch==2.13.0 chemprop==2.3.1
    python experiments/conformal_benchmark.py --part molgraph &
    python experiments/conformal_benchmark.py --part chemprop --chemprop /tmp/cp/bin/chemprop
    python experiments/conformal_benchmark.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from benchmark_moleculenet import DATASETS, SHARED

OUT = Path(__file__).parent / "out"
NAMES = ("esol", "lipophilicity", "bbbp")


def load(name: str):
    """The data set ``name`` featurized (cached between runs), and its task."""
    from molgraph.data.dataset import load_dataset

    path, targets, task = DATASETS[name]
    return load_dataset(SHARED / path, target_columns=targets, cache_dir=True, workers=1), task


#: uncertainty → (model label, run settings)
UNCERTAINTIES = {
    "none": ("molgraph", {}),
    "ensemble": ("molgraph (ensemble 3)", {"ensemble_size": 3}),
    "dropout": ("molgraph (MC dropout 10)",
                {"model_options": {"dropout": 0.1, "mc_samples": 10}}),
    "mve": ("molgraph (MVE)", {"model_options": {"mve": True}}),
}


def config_for(name: str, seed: int, epochs: int, alpha: float, uncertainty: str = "none"):
    from molgraph.training.api import run_config

    path, targets, task = DATASETS[name]
    return run_config(SHARED / path, targets, task, split="scaffold", seed=seed, epochs=epochs,
                      train_options={"threads": 1, "device": "cpu"}, baseline=False,
                      conformal_alpha=alpha, **UNCERTAINTIES[uncertainty][1])


def molgraph_run(name: str, seed: int, epochs: int, alpha: float, uncertainty: str) -> dict:
    """Train the default model on one scaffold split; its test coverage and widths."""
    import torch

    from molgraph.training.job import train_on_dataset

    torch.set_num_threads(1)
    dataset, task = load(name)
    started = time.perf_counter()
    run = train_on_dataset(dataset, config_for(name, seed, epochs, alpha, uncertainty))
    metric = "rmse" if task == "regression" else "roc_auc"
    return {"dataset": name, "model": UNCERTAINTIES[uncertainty][0], "seed": seed,
            "task": task, metric: run.metrics["test"][metric],
            "seconds": round(time.perf_counter() - started, 1), **run.uncertainty}


def chemprop_run(chemprop: str, name: str, seed: int, epochs: int, alpha: float,
                 workdir: Path) -> dict:
    """Chemprop's CQR on the split molgraph makes for ``seed``: train a quantile model,
    calibrate on validation, score the test intervals."""
    from molgraph.training.job import run_split

    dataset, task = load(name)
    train, val, test = run_split(dataset, config_for(name, seed, epochs, alpha))
    target = "y"
    frame = pd.DataFrame({"smiles": dataset.smiles, target: dataset.y[:, 0]})
    csv, splits, out = (workdir / f"{name}.csv", workdir / f"{name}-{seed}.json",
                        workdir / f"{name}-{seed}")
    frame.to_csv(csv, index=False)
    frame.iloc[val].to_csv(workdir / f"{name}-{seed}-val.csv", index=False)
    frame.iloc[test][["smiles"]].to_csv(workdir / f"{name}-{seed}-test.csv", index=False)
    splits.write_text(json.dumps([{"train": train.tolist(), "val": val.tolist(),
                                   "test": test.tolist()}]))
    common = ["--accelerator", "cpu", "--devices", "1", "-n", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    subprocess.run([chemprop, "train", "-i", str(csv), "-s", "smiles", "--target-columns",
                    target, "-t", "regression-quantile", "--alpha", str(alpha),
                    "--splits-file", str(splits), "--epochs", str(epochs), "--pytorch-seed",
                    str(seed), "-o", str(out), *common], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    predicted = workdir / f"{name}-{seed}-pred.csv"
    subprocess.run([chemprop, "predict", "-i", str(workdir / f"{name}-{seed}-test.csv"),
                    "-s", "smiles", "--model-paths", str(next(out.rglob("best*.pt"))),
                    "--cal-path", str(workdir / f"{name}-{seed}-val.csv"),
                    "--uncertainty-method", "quantile-regression",
                    "--calibration-method", "conformal-regression",
                    "--conformal-alpha", str(alpha), "-o", str(predicted), *common],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = pd.read_csv(predicted)
    column = next(c for c in result.columns if c != "smiles" and not c.endswith("_unc"))
    pred, half = result[column].to_numpy(), result[f"{column}_unc"].to_numpy()
    y = dataset.y[test, 0]
    return {"dataset": name, "model": "chemprop CQR", "seed": seed, "task": task,
            "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
            "seconds": round(time.perf_counter() - started, 1),
            "conformal": {"alpha": alpha, "test": {
                "coverage": float(np.mean(np.abs(y - pred) <= half)),
                "mean_width": float(np.mean(2 * half))}}}


def table(paths: list[Path]) -> str:
    """The results as a markdown table: mean ± SD over seeds per data set and model."""
    runs = [r for p in paths if p.exists() for r in json.loads(p.read_text())]
    rows = []
    for (name, model), group in pd.DataFrame(runs).groupby(["dataset", "model"], sort=False):
        test = pd.DataFrame([g["test"] for g in group["conformal"]])
        size = "mean_width" if "mean_width" in test else "mean_set_size"
        spread = (pd.DataFrame([s["test"] for s in group["spread"]])
                  if "spread" in group and group["spread"].notna().all() else None)
        score = "rmse" if "rmse" in group and group["rmse"].notna().all() else "roc_auc"

        def cell(values: pd.Series) -> str:
            return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"

        rows.append([name, model, str(len(group)), f"{score} {cell(group[score])}",
                     cell(test["coverage"]), f"{size.replace('mean_', '')} {cell(test[size])}",
                     "" if spread is None else cell(spread["spearman"]),
                     "" if spread is None or "miscalibration_area" not in spread
                     else cell(spread["miscalibration_area"])])
    head = ["data set", "model", "seeds", "test score", "coverage (target 0.90)",
            "mean width / set size", "Spearman σ~|error|", "miscalibration area"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("molgraph", "chemprop"))
    parser.add_argument("--table", action="store_true", help="print the results table")
    parser.add_argument("--datasets", nargs="+", default=list(NAMES), choices=list(NAMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--uncertainty", choices=list(UNCERTAINTIES), default="none")
    parser.add_argument("--chemprop", default="/tmp/cp/bin/chemprop")
    args = parser.parse_args()
    files = sorted(OUT.glob("conformal_*.json"))
    if args.table:
        print(table(files))
        return
    suffix = "" if args.uncertainty == "none" else f"_{args.uncertainty}"
    out = OUT / f"conformal_{args.part}{suffix}.json"
    results = json.loads(out.read_text()) if out.exists() else []
    done = {(r["dataset"], r["seed"]) for r in results}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            if args.part == "chemprop" and DATASETS[name][2] != "regression":
                continue  # Chemprop's conformal regression only
            for seed in [s for s in args.seeds if (name, s) not in done]:
                result = (molgraph_run(name, seed, args.epochs, args.alpha, args.uncertainty)
                          if args.part == "molgraph" else
                          chemprop_run(args.chemprop, name, seed, args.epochs, args.alpha,
                                       Path(tmp)))
                results.append(result)
                print(json.dumps({k: result[k] for k in ("dataset", "model", "seed", "seconds")}
                                 | result["conformal"]["test"]), flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
