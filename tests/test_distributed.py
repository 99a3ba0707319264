"""Training on several processes (torch.distributed, Gloo on CPUs) gives the model one process
gives with the same global batch, scores each test molecule once, and rank 0 alone writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgraph.runtime.distributed import gather_rows, shard
from molgraph.runtime.prefetch import prefetched

DATA = Path(__file__).parent / "data"
# 120 ESOL rows: 96 training molecules under the scaffold split, 12 batches of 8 exactly
ARGS = ["train", "--data", str(DATA / "esol_120.csv"), "--target-columns", "logS",
        "--epochs", "3", "--batch-size", "8", "--no-blend", "--no-baseline", "--threads", "1",
        "--hidden", "32"]


def _run(out: Path, processes: int) -> subprocess.CompletedProcess:
    """``molgraph train`` in one process, or with ``--devices N``: torchrun launches N."""
    command = [sys.executable, "-m", "molgraph", *ARGS, "--out", str(out),
               "--devices", str(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp")
    done = {n: _run(base / f"p{n}", n) for n in (1, 2)}
    for n, result in done.items():
        assert result.returncode == 0, f"{n} processes:\n{result.stderr[-3000:]}"
    return base, done


def test_two_gloo_processes_train_the_model_one_process_trains(runs):
    base, _ = runs
    one = json.loads((base / "p1" / "metrics.json").read_text())
    two = json.loads((base / "p2" / "metrics.json").read_text())
    assert one["n_train"] == two["n_train"] and one["n_test"] == two["n_test"]
    # same global batches and gradients averaged over the processes: equal up to float sums
    for part in ("val", "test"):
        assert two[part]["rmse"] == pytest.approx(one[part]["rmse"], abs=1e-3)
    history = pd.read_csv(base / "p2" / "history.csv")
    assert len(history) == 3 and (history["train_mol_per_s"] > 0).all()


def test_each_test_molecule_is_scored_once_and_rank_0_alone_reports(runs):
    base, done = runs
    split = json.loads((base / "p2" / "split.json").read_text())
    predictions = pd.read_csv(base / "p2" / "test_predictions.csv")
    assert len(predictions) == len(split["test"]) and predictions["row"].is_unique
    assert done[2].stdout.count("model, metrics and test predictions written") == 1


def test_shards_hold_every_molecule_once_and_gather_back_in_order():
    index = np.arange(11)
    parts = [shard(index, r, 3) for r in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == index.tolist()
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    rows = np.arange(10.0)[:, None]
    assert np.array_equal(gather_rows(rows, 10), rows)  # one process: as given


def test_batches_come_in_order_from_the_background_and_errors_reach_the_consumer():
    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        list(prefetched(failing()))
    taken = prefetched(iter(range(1000)))
    assert next(taken) == 0
    taken.close()  # a consumer that stops early leaves no thread behind


def test_sweep_workers_get_one_gpu_each_round_robin():
    from molgraph.sweep.workers import gpu_assignments

    assert gpu_assignments(3, None, 0) == [None, None, None]  # CPUs only
    assert gpu_assignments(4, None, 2) == ["0", "1", "0", "1"]
    assert gpu_assignments(3, "2,5", 2) == ["2", "5", "2"]  # within the GPUs this process may use


def test_pretraining_runs_on_two_processes(tmp_path):
    out = tmp_path / "enc"
    command = [sys.executable, "-m", "molgraph", "pretrain", "--data",
               str(DATA / "moses_204.csv"), "--max-molecules", "80", "--hidden", "16",
               "--epochs", "2", "--threads", "1", "--devices", "2", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("pretrained on") == 1  # rank 0 reports
    assert len(pd.read_csv(out / "history.csv")) == 2 and (out / "encoder.pt").exists()
