"""``run_study``: an Optuna study that lives beside its results and resumes where it stopped.

Embedded by default: the study is ``DIR/optuna.log`` (Optuna's journal file, safe for several
processes on one machine), opened with ``load_if_exists``, so running the same command again
continues the same study, counting earlier trials toward ``trials``, once ``resume`` agrees
(one study per directory, the same input files by content) and Optuna can continue the
space's searched distributions (else an error before any trial). ``DIR/sweep.lock`` keeps one
invocation per directory, so on start a trial of the embedded study still RUNNING belongs
to a dead process and is marked FAILED (unless a live sweep that joined it with ``--storage
DIR/optuna.log`` runs it). With ``storage`` (an Optuna RDB URL, or the
path of another journal file) many processes or machines join one study by name; there a
RUNNING trial is failed on start only when its owner (``worker`` user attribute: host, pid,
start time) is on this machine and gone, and RDB storages also get Optuna's heartbeat
(a trial silent for ``GRACE_PERIOD`` seconds is failed).

Every completed trial is written to ``DIR/trials/NNNN/`` (only the best is kept with
``keep_trials="best"``); at the end ``DIR/best/`` is a copy of the best trial's directory as it
was trained (``molgraph predict --model DIR/best``), ``DIR/best_config.json`` its run
configuration and ``DIR/sweep.json`` the summary.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from molgraph.genes.config import GeneRunConfig
from molgraph.runtime.files import exclusive_lock
from molgraph.sweep.config import STUDY_NAME, check_sweep
from molgraph.sweep.distributions import check_space
from molgraph.sweep.feasible import check_feasible
from molgraph.sweep.genes import GeneProblem
from molgraph.sweep.molecules import MoleculeProblem
from molgraph.sweep.objective import Objective, TrackerFactory
from molgraph.sweep.optuna_logs import optuna_logs
from molgraph.sweep.problems import Problem
from molgraph.sweep.report import finish
from molgraph.sweep.resume import (
    check_directory,
    check_same_data,
    claim_directory,
    storage_identity,
)
from molgraph.sweep.space import SearchSpace
from molgraph.sweep.storage import check_journal, fail_stale_trials, journal_path, open_storage
from molgraph.sweep.workers import run_in_processes
from molgraph.training.config import RunConfig

log = logging.getLogger(__name__)
SWEEP_LOCK = "sweep.lock"
TrialCallback = Callable[[optuna.Study, FrozenTrial], None]


@dataclass(frozen=True)
class _Plan:
    """What every worker process needs (it pickles)."""

    problem: Problem
    space: SearchSpace
    out: Path
    storage: str | None
    study_name: str
    pruner: Any
    total: int
    deadline: float | None
    tracker_factory: TrackerFactory | None = None
    callbacks: tuple[TrialCallback, ...] = field(default=())
    #: Optuna's log level where the sweep started (workers start at Optuna's default)
    optuna_level: int = logging.INFO


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """Seeded TPE, multivariate with group decomposition: parameters that occur together
    (``model.heads`` only with GAT) are modelled jointly instead of falling back to
    independent sampling for every conditional one. ``random``: a baseline."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def make_pruner(pruner: str | optuna.pruners.BasePruner,
                epochs: int) -> optuna.pruners.BasePruner:
    """Hyperband over epochs (Optuna's benchmarks pair it with TPE), median, none, or any
    ``BasePruner`` given as is."""
    if not isinstance(pruner, str):
        return pruner
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    if pruner == "median":
        # steps count from 1: the first step (an epoch or a fold) is never pruned on
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    return optuna.pruners.NopPruner()


def worker_seed(seed: int, done: int, index: int, process: int = 0) -> int:
    """Distinct per worker, so parallel workers do not propose the same random start-up
    points, and per resume (``done`` trials so far), so a resumed sweep does not replay them.
    ``process``: the process id when the study lives in a shared storage, which other
    ``molgraph sweep`` processes join with the same seed and, started together, the same
    ``done``: they would otherwise propose (and train) identical trials."""
    return int(np.random.SeedSequence([seed, done, index, process]).generate_state(1)[0])


def _work(plan: _Plan, share: int, seed: int, sampler: str) -> int:
    """One worker: load the data (or read the cache) once, then run up to ``share`` trials,
    each only while the study holds fewer than ``plan.total`` and time is left."""
    with optuna_logs(plan.optuna_level):
        return _trials(plan, share, seed, sampler)


def _trials(plan: _Plan, share: int, seed: int, sampler: str) -> int:
    study = optuna.load_study(study_name=plan.study_name,
                              storage=open_storage(plan.out, plan.storage),
                              sampler=make_sampler(sampler, seed),
                              pruner=make_pruner(plan.pruner, plan.problem.max_steps(plan.space)))
    objective = Objective(plan.problem, plan.space, plan.out, plan.tracker_factory)
    ran = 0
    for _ in range(share):
        if plan.deadline is not None and time.time() >= plan.deadline:
            break
        if len(study.get_trials(deepcopy=False)) >= plan.total:
            break
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=plan.callbacks)
        ran += 1
    return ran


def as_problem(base: RunConfig | GeneRunConfig | Problem) -> Problem:
    """The problem a configuration describes (a problem is returned as it is)."""
    if isinstance(base, RunConfig):
        return MoleculeProblem(base)
    if isinstance(base, GeneRunConfig):
        return GeneProblem(base)
    return base


def prepare(base: RunConfig | GeneRunConfig | Problem,
            space: SearchSpace | str | Path | None) -> tuple[Problem, SearchSpace]:
    """The problem and its checked space (a YAML file, or ``None``: the problem's default),
    refused before anything is written when no combination of its settings can train."""
    problem = as_problem(base)
    problem.check()
    if not isinstance(space, SearchSpace):
        space = problem.space(space)
    check_feasible(space, problem)
    return problem, space


def open_study(problem: Problem, out: Path, space: SearchSpace, storage: str | None = None,
               study_name: str = STUDY_NAME) -> optuna.Study:
    """The study of ``out`` (created, or continued once ``resume`` agrees and Optuna can
    continue the space's distributions), its trials of dead processes failed; no trial run.
    Call it holding ``out/sweep.lock``: a tracked sweep does so before it opens its MLflow
    run, so a refused resume leaves the earlier run's record as it was."""
    where = storage_identity(out, storage)
    check_directory(out, study_name, where)
    journal = journal_path(out, storage)
    if journal is not None:
        check_journal(journal)
    store = open_storage(out, storage)
    study = optuna.create_study(storage=store, study_name=study_name, load_if_exists=True,
                                direction="maximize" if problem.higher_is_better
                                else "minimize")
    check_same_data(study, problem)
    check_space(study, space)
    claim_directory(out, study_name, where)
    if study.metric_names is None:  # dashboards then name the axis, not "Objective 0"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([f"val_{problem.metric}"])
    fail_stale_trials(study, store, embedded=storage is None)
    return study


def run_trials(problem: Problem, out: Path, space: SearchSpace, study: optuna.Study,
               trials: int, timeout: float | None = None, jobs: int = 1,
               storage: str | None = None, pruner: str | optuna.pruners.BasePruner = "hyperband",
               seed: int = 0, tracker_factory: TrackerFactory | None = None,
               on_trial_end: Sequence[TrialCallback] = (), sampler: str = "tpe",
               keep_trials: str = "all") -> dict[str, Any]:
    """Run an opened study (``open_study``) up to ``trials`` trials, then write ``best/``,
    ``best_config.json`` and ``sweep.json`` (arguments: see ``run_study``)."""
    started = time.perf_counter()
    done = len(study.get_trials(deepcopy=False))
    remaining = max(0, trials - done)
    log.info("study %r: %d trial(s) so far, %d to run", study.study_name, done, remaining)
    deadline = None if timeout is None else time.time() + timeout
    plan = _Plan(problem, space, out, storage, study.study_name, pruner, trials, deadline,
                 tracker_factory, tuple(on_trial_end), logging.getLogger("optuna").level)
    ran = 0
    try:
        if remaining:
            ran = _run(plan, remaining, jobs, seed, done, sampler)
    except KeyboardInterrupt:  # what was found so far is kept: best/ and sweep.json
        ran = len(study.get_trials(deepcopy=False)) - done
        finish(study, problem, out, keep_trials, ran, time.perf_counter() - started, storage,
               timeout)
        raise
    return finish(study, problem, out, keep_trials, ran, time.perf_counter() - started,
                  storage, timeout)


def run_study(base: RunConfig | GeneRunConfig | Problem, out: str | Path,
              space: SearchSpace | str | Path | None = None, trials: int = 20,
              timeout: float | None = None, jobs: int = 1, storage: str | None = None,
              study_name: str = STUDY_NAME, pruner: str | optuna.pruners.BasePruner = "hyperband",
              seed: int = 0, tracker_factory: TrackerFactory | None = None,
              on_trial_end: Sequence[TrialCallback] = (), sampler: str = "tpe",
              keep_trials: str = "all") -> dict[str, Any]:
    """Run (or continue) a sweep until the study holds ``trials`` trials or ``timeout``
    seconds pass, with ``jobs`` worker processes; write ``out/best/``, ``best_config.json``
    and ``sweep.json``, and return that summary (see ``report.finish``).

    ``base``: a molecule ``RunConfig``, a ``GeneRunConfig`` or a problem (``problems``).
    ``space``: a ``SearchSpace``, a YAML file, or ``None`` (the problem's default space).
    ``tracker_factory(trial_number, settings)`` gives each trial's training a tracker;
    ``on_trial_end`` (Optuna's ``(study, frozen_trial)`` callbacks) hear every finished
    trial, e.g. to log it to a parent run. With ``jobs > 1`` both must pickle.
    """
    check_sweep(trials, jobs, timeout, sampler, pruner, keep_trials)
    problem, space = prepare(base, space)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / SWEEP_LOCK), optuna_logs(logging.getLogger("optuna").level):
        study = open_study(problem, out, space, storage, study_name or STUDY_NAME)
        return run_trials(problem, out, space, study, trials, timeout, jobs, storage, pruner,
                          seed, tracker_factory, on_trial_end, sampler, keep_trials)


def _run(plan: _Plan, remaining: int, jobs: int, seed: int, done: int, sampler: str) -> int:
    """Share ``remaining`` trials among the workers (this process alone when one)."""
    workers = min(jobs, remaining)
    shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
    process = os.getpid() if plan.storage else 0
    calls = [(plan, n, worker_seed(seed, done, i, process), sampler)
             for i, n in enumerate(shares)]
    if workers == 1:
        plan.problem.load()  # read once, here
        return _work(*calls[0])
    copy.copy(plan.problem).load()  # checks the data and fills the cache; workers read it
    return sum(run_in_processes(_work, calls))
