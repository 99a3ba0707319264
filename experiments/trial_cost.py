"""What one sweep trial costs against Chemprop's ``train`` with the same epochs, on ESOL's
scaffold split, measured in one run on one machine (pairs interleaved: A B A B ...).

- ``molgraph trial``: what a sweep trial does, the default configuration trained on the
  molecules featurized once per worker (``train_on_dataset``), one torch thread; early
  stopping (patience 20) may end it before ``--epochs`` (the epochs run are printed), where
  Chemprop always runs them all;
- ``molgraph train``: the whole ``molgraph train`` command (start-up, reading the cached
  graphs, training, writing the run directory and its pictures);
- ``chemprop train``: Chemprop v2's default D-MPNN on the same split, whole command, one
  thread (``benchmark_chemprop.py`` has the set-up)::

    python experiments/trial_cost.py --chemprop /tmp/cp/bin/chemprop --epochs 50 --pairs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_chemprop import run_chemprop
from benchmark_moleculenet import DATASETS, SHARED


def molgraph_trial(epochs: int) -> tuple[float, float, int]:
    from molgraph.data.dataset import load_dataset
    from molgraph.training.api import run_config
    from molgraph.training.job import train_on_dataset

    path, targets, task = DATASETS["esol"]
    dataset = load_dataset(SHARED / path, target_columns=targets, cache_dir=None)
    _ = dataset.graphs
    config = run_config(SHARED / path, targets, task, epochs=epochs,
                        train_options={"threads": 1, "device": "cpu"})
    started = time.perf_counter()
    run = train_on_dataset(dataset, config)
    return time.perf_counter() - started, run.metrics["test"]["rmse"], len(run.fit.history)


def molgraph_train(epochs: int, out: Path) -> float:
    path, targets, task = DATASETS["esol"]
    command = [sys.executable, "-m", "molgraph.cli.main", "train", "--data", str(SHARED / path),
               "--target-columns", *targets, "--epochs", str(epochs), "--threads", "1",
               "--device", "cpu", "--out", str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chemprop", required=True, help="the chemprop executable")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"molgraph trial": [], "molgraph train": [],
                                     "chemprop train": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        molgraph_train(1, work / "warm")  # fills the featurization cache once
        for i in range(args.pairs):
            seconds, rmse, epochs_run = molgraph_trial(args.epochs)
            times["molgraph trial"].append(seconds)
            times["molgraph train"].append(molgraph_train(args.epochs, work / f"mg{i}"))
            result = run_chemprop(args.chemprop, "esol", 0, args.epochs, work)
            times["chemprop train"].append(result["seconds"])
            print(json.dumps({"pair": i, "molgraph_trial_s": round(seconds, 1),
                              "molgraph_test_rmse": round(rmse, 3),
                              "molgraph_epochs_run": epochs_run,
                              "molgraph_train_s": round(times["molgraph train"][-1], 1),
                              "chemprop_train_s": result["seconds"],
                              "chemprop_test_rmse": round(result["test"]["rmse"], 3)}),
                  flush=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    reference = medians["chemprop train"]
    print(f"\n| ESOL, {args.epochs} epochs, 1 thread | median s (n={args.pairs}) | × chemprop |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} | {value / reference:.2f} |")


if __name__ == "__main__":
    main()
