"""Sweeps on MoleculeNet's ESOL and BBBP (scaffold split), as a user runs them, then the MLflow
run tree read back with ``MlflowClient``.

Each data set: ``molgraph sweep`` with the default space, TPE + Hyperband, ``--trials`` trials,
``--seeds 0 1 2`` (the best and the default configuration retrained on each seed's split, the
test set scored once per run) and tracking to ``OUT/mlflow.db``. The summary (markdown, for
``experiments/RESULTS_sweep.md``) goes to stdout and ``OUT/summary.json``::

    python experiments/sweep_benchmark.py --datasets esol bbbp --trials 40 --out runs/sweeps
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmark_moleculenet import DATASETS, SHARED

#: Chemprop v2's default D-MPNN on the same scaffold splits (experiments/RESULTS.md).
CHEMPROP = {"esol": (0.893, 0.094), "bbbp": (0.930, 0.029)}


def run_sweep(name: str, out: Path, trials: int, timeout: float | None, jobs: int,
              scoring: list[str]) -> float:
    path, targets, task = DATASETS[name]
    command = [sys.executable, "-m", "molgraph.cli.main", "sweep", "--data", str(SHARED / path),
               "--target-columns", *targets, "--task", task, "--split", "scaffold",
               "--trials", str(trials), "--jobs", str(jobs), "--seeds", "0", "1", "2",
               "--threads", "1", "--keep-trials", "best", "--out", str(out / name),
               "--tracking-uri", f"sqlite:///{(out / 'mlflow.db').resolve()}",
               "--experiment", f"sweep-{name}"]
    if timeout:
        command += ["--timeout", str(timeout)]
    command += scoring
    started = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - started


def run_tree(out: Path, name: str, metric: str) -> dict:
    """What the MLflow store holds for one sweep: the parent, its children and their states."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(out / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name(f"sweep-{name}")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    parent = max(parents, key=lambda r: r.info.start_time)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    states: dict[str, int] = {}
    for child in children:
        state = child.data.tags.get("optuna.state", "?")
        states[state] = states.get(state, 0) + 1
    example = children[0]
    history = client.get_metric_history(example.info.run_id, f"val_{metric}")
    return {
        "parent": {"run_id": parent.info.run_id, "status": parent.info.status,
                   "params": len(parent.data.params),
                   "metrics": sorted(parent.data.metrics),
                   "artifacts": sorted(a.path for a in client.list_artifacts(
                       parent.info.run_id)),
                   "model_uri": parent.data.tags.get("molgraph.best_model_uri")},
        "children": len(children), "child_states": states,
        "child_example": {"name": example.info.run_name, "params": len(example.data.params),
                          "metrics": sorted(example.data.metrics),
                          "tags": sorted(k for k in example.data.tags
                                         if k.startswith(("optuna.", "molgraph."))),
                          "epochs_logged": len(history)},
    }


def summarise(out: Path, name: str, seconds: float) -> dict:
    sweep = json.loads((out / name / "sweep.json").read_text())
    evaluation = json.loads((out / name / "evaluation.json").read_text())
    metric = evaluation["metric"].removeprefix("test_")
    paired = [b - d for b, d in zip(evaluation["best"][metric]["values"],
                                    evaluation["default"][metric]["values"])]
    return {"dataset": name, "seconds": round(seconds), "sweep": sweep,
            "best": evaluation["best"][metric], "default": evaluation["default"][metric],
            "baseline": evaluation.get("baseline", {}).get(metric),
            "difference": {"mean": statistics.mean(paired), "values": paired,
                           "sd": statistics.stdev(paired) if len(paired) > 1 else None},
            "metric": metric, "chemprop": CHEMPROP.get(name), "mlflow": run_tree(out, name, metric)}


def markdown(rows: list[dict]) -> str:
    lines = ["| data set | trials (states) | trials / hour | best val | tuned test (seeds 0-2) "
             "| default test | tuned − default (per seed) | ECFP baseline test "
             "| Chemprop default |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["sweep"]
        ref = r["chemprop"]
        chemprop = "" if ref is None else f"{ref[0]:.3f} ± {ref[1]:.3f}"
        per_seed = ", ".join(f"{v:+.3f}" for v in r["difference"]["values"])
        lines.append(
            f"| {r['dataset']} ({r['metric']}) | {s['n_trials']} ({s['states']}) | "
            f"{s['trials_per_hour']} | {s['best_value']:.3f} (trial {s['best_trial']}) | "
            f"{r['best']['mean']:.3f} ± {r['best']['std']:.3f} | "
            f"{r['default']['mean']:.3f} ± {r['default']['std']:.3f} | "
            f"{r['difference']['mean']:+.3f} ({per_seed}) | "
            f"{'' if r['baseline'] is None else format(r['baseline']['mean'], '.3f')} | "
            f"{chemprop} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["esol", "bbbp"],
                        choices=list(DATASETS))
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--timeout", type=float, help="seconds per sweep (default: none)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--cv", type=int, default=0,
                        help="score trials by K-fold cross-validation (default: validation)")
    parser.add_argument("--val-repeats", type=int, default=0,
                        help="score trials on R validation draws (default: one)")
    parser.add_argument("--out", type=Path, default=Path("runs/sweeps"))
    parser.add_argument("--summary-only", action="store_true",
                        help="read finished sweeps in --out, run nothing")
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} not found: this benchmark needs ../shared/datasets")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.datasets:
        scoring = ["--cv", str(args.cv)] if args.cv else []
        scoring += ["--val-repeats", str(args.val_repeats)] if args.val_repeats else []
        seconds = 0.0 if args.summary_only else run_sweep(name, args.out, args.trials,
                                                          args.timeout, args.jobs, scoring)
        rows.append(summarise(args.out, name, seconds))
        (args.out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(markdown(rows))
    for r in rows:
        print(f"\n{r['dataset']} MLflow tree: {json.dumps(r['mlflow'], indent=1)}")


if __name__ == "__main__":
    main()
