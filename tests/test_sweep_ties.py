"""The best trial on ties is the earliest, as Optuna's own ``best_trial``; processes sharing one
study storage get distinct sampler seeds."""

from __future__ import annotations

import optuna
import pytest

from molgraph.sweep.report import best_of
from molgraph.sweep.study import worker_seed


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_ties_go_to_the_earliest_trial_like_optuna(direction):
    study = optuna.create_study(direction=direction)
    for value in (2.0, 1.0, 3.0, 1.0, 3.0):
        study.add_trial(optuna.trial.create_trial(value=value))
    best = best_of(study, study.get_trials())
    assert best.number == study.best_trial.number == (1 if direction == "minimize" else 2)


def test_processes_sharing_a_storage_propose_differently():
    assert worker_seed(0, 0, 0) == worker_seed(0, 0, 0, 0)  # one process: reproducible
    seeds = {worker_seed(0, 0, 0, pid) for pid in (101, 102)} | {worker_seed(0, 0, 1, 101)}
    assert len(seeds) == 3
