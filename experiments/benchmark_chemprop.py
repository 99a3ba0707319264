"""Chemprop v2 on exactly molgraph's scaffold splits: the peer for benchmark_moleculenet.py.

For each data set and seed, the valid molecules and molgraph's split indices are written out,
``chemprop train`` runs with its defaults (D-MPNN, 50 epochs) and ``--splits-file``, and its
test predictions are scored with molgraph's metrics. Chemprop lives in its own virtualenv
(never a molgraph dependency)::

    python3 -m venv /tmp/cp && /tmp/cp/bin/pip install torch==2.13.0 chemprop==2.3.1
    python experiments/benchmark_chemprop.py --chemprop /tmp/cp/bin/chemprop --datasets esol
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

from molgraph.data.dataset import load_dataset
from molgraph.data.split import split_indices
from molgraph.training.metrics import compute_metrics


def run_chemprop(chemprop: str, name: str, seed: int, epochs: int, workdir: Path) -> dict:
    path, targets, task = DATASETS[name]
    dataset = load_dataset(SHARED / path, target_columns=targets, cache_dir=None, workers=1)
    frame = pd.DataFrame(dataset.y, columns=targets)
    frame.insert(0, "smiles", dataset.smiles)
    csv = workdir / f"{name}.csv"
    frame.to_csv(csv, index=False)
    train, val, test = split_indices(dataset.smiles, "scaffold", seed=seed, y=dataset.y)
    splits = workdir / f"{name}-{seed}.json"
    splits.write_text(json.dumps([{"train": train.tolist(), "val": val.tolist(),
                                   "test": test.tolist()}]))
    out = workdir / f"{name}-{seed}"
    command = [chemprop, "train", "-i", str(csv), "-s", "smiles", "--target-columns", *targets,
               "-t", task, "--splits-file", str(splits), "--epochs", str(epochs),
               "--pytorch-seed", str(seed), "-o", str(out), "--accelerator", "cpu",
               "--devices", "1", "-n", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    pred_file = next(out.rglob("test_predictions.csv"))
    pred = pd.read_csv(pred_file)[targets].to_numpy(dtype=np.float64)
    metrics = compute_metrics(task, dataset.y[test], pred)
    return {"dataset": name, "model": "chemprop_v2", "seed": seed, "task": task,
            "seconds": round(seconds, 1), "test": metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chemprop", default="/tmp/cp/bin/chemprop")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "out" / "chemprop.json")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            for seed in args.seeds:
                result = run_chemprop(args.chemprop, name, seed, args.epochs, Path(tmp))
                results.append(result)
                metric = "rmse" if result["task"] == "regression" else "roc_auc"
                print(json.dumps({k: result[k] for k in ("dataset", "seed", "seconds")}
                                 | {metric: round(result["test"][metric], 4)}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"load_after": os.getloadavg(), "runs": results}, indent=1))


if __name__ == "__main__":
    main()
