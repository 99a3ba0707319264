"""Distributed data-parallel training on this machine's CPUs: 2 Gloo processes × 1 thread
against 1 process × 1 thread and 1 process × 2 threads, the same epochs and global batch, on
Lipophilicity (scaffold split, D-MPNN alone). Each configuration runs ``molgraph train`` as a
user would (``--devices 2`` launches torchrun); epoch time is the training pass
(``history.csv`` ``train_mol_per_s``), plus each run's wall time::

    python experiments/ddp_benchmark.py --epochs 5 --out experiments/out/ddp
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "molecules"
CONFIGS = {"1 process × 1 thread": (1, 1), "1 process × 2 threads": (1, 2),
           "2 Gloo processes × 1 thread": (2, 1)}


def run(name: str, processes: int, threads: int, epochs: int, out: Path, seed: int) -> dict:
    target = out / f"p{processes}t{threads}s{seed}"
    command = [sys.executable, "-m", "molgraph", "train", "--data",
               str(SHARED / "lipophilicity" / "lipo.csv"), "--target-columns", "lipo",
               "--epochs", str(epochs), "--patience", "0", "--no-blend", "--no-baseline",
               "--threads", str(threads), "--devices", str(processes), "--seed", str(seed),
               "--out", str(target)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    wall = time.perf_counter() - started
    history = pd.read_csv(target / "history.csv")
    metrics = json.loads((target / "metrics.json").read_text())
    epoch = metrics["n_train"] / history["train_mol_per_s"]
    return {"config": name, "processes": processes, "threads": threads, "seed": seed,
            "epochs": len(history), "epoch_s_median": round(float(epoch.median()), 2),
            "wall_s": round(wall, 1), "val_rmse": metrics["val"]["rmse"],
            "test_rmse": metrics["test"]["rmse"], "n_train": metrics["n_train"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/out/ddp"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in args.seeds:
        for name, (processes, threads) in CONFIGS.items():
            records.append(run(name, processes, threads, args.epochs, args.out, seed))
            print(json.dumps(records[-1]), flush=True)
    (args.out / "ddp.json").write_text(json.dumps(records, indent=1))
    base = {r["seed"]: r["epoch_s_median"] for r in records if r["processes"] == 1
            and r["threads"] == 1}
    print("| configuration | seed | epoch (s, median) | speed-up vs 1 × 1 | wall (s) | "
          "val RMSE | test RMSE |\n|---|---|---|---|---|---|---|")
    for r in records:
        print(f"| {r['config']} | {r['seed']} | {r['epoch_s_median']:.2f} | "
              f"{base[r['seed']] / r['epoch_s_median']:.2f} | {r['wall_s']:.0f} | "
              f"{r['val_rmse']:.3f} | {r['test_rmse']:.3f} |")


if __name__ == "__main__":
    main()
