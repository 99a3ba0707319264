"""The end of a sweep: ``DIR/best/``, ``DIR/best_config.json``, ``DIR/sweep.json`` and the
pictures in ``DIR/plots/`` (``sweep.plots``).

For molecules ``best/`` is the best trial's directory exactly as it was trained in its trial
(no retraining, so its validation score is the one the search saw); the test set was never
looked at, and ``molgraph train --config DIR/best_config.json`` retrains it with a test score
(``--seeds``: see ``evaluate``). For genes, whose trials are cross-validation only, ``best/``
is ``genes train`` run with the best configuration.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from molgraph.runtime.configs import to_dict
from molgraph.runtime.files import temporary_path, write_json
from molgraph.sweep.objective import trial_dir
from molgraph.sweep.plots import write_sweep_plots
from molgraph.sweep.problems import Problem
from molgraph.sweep.storage import shown_storage

log = logging.getLogger(__name__)


def best_of(study: optuna.Study, trials: list[FrozenTrial]) -> FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return None
    if study.direction == optuna.study.StudyDirection.MAXIMIZE:  # ties: the earliest trial,
        return max(complete, key=lambda t: (t.value, -t.number))  # as Optuna's best_trial
    return min(complete, key=lambda t: (t.value, t.number))


def _trial_of(directory: Path) -> int | None:
    marker = directory / "trial.json"
    try:
        return json.loads(marker.read_text()).get("trial")
    except (OSError, ValueError, AttributeError):
        return None


def write_best(out: Path, problem: Problem, best: FrozenTrial, config: dict[str, Any]
               ) -> Path | None:
    """``out/best/``, replaced only when the best trial changes: a copy of the best trial's
    directory when trials keep their models (molecules), else trained here with the best
    configuration (genes)."""
    source, target = trial_dir(out, best.number), out / "best"
    if _trial_of(target) == best.number:
        return target
    if problem.trials_keep_models and not (source / "model").is_dir():
        held = _trial_of(target) if target.exists() else None
        # best/ is never a model other than the best trial's: a stale one goes (its trial's
        # own directory keeps it, unless keep_trials="best" dropped it as not the best)
        shutil.rmtree(target, ignore_errors=True)
        where = whereabouts(out, best.number, best.user_attrs.get("out"))
        if held is not None:
            log.warning("removed %s (trial %d's model): the best trial, %d, %s", target, held,
                        best.number, where)
        else:
            log.warning("no %s: the best trial, %d, %s", target, best.number, where)
        return None
    tmp = temporary_path(target)
    shutil.rmtree(tmp, ignore_errors=True)
    if problem.trials_keep_models:
        shutil.copytree(source, tmp)
    else:
        log.info("training the best configuration (trial %d) into %s", best.number, target)
        problem.train_best(config, tmp)
        write_json(tmp / "trial.json", {"trial": best.number, f"val_{problem.metric}":
                                        best.value})
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def whereabouts(out: Path, number: int, ran_in: str | None) -> str:
    """Where trial ``number``, not in ``out``, is: ``ran in DIR (DIR/trials/NNNN)`` (another
    sweep directory on the same storage), or why it is not in ``out``."""
    if ran_in is None:
        return "ran elsewhere, or its directory was removed"
    if Path(ran_in).resolve() == Path(out).resolve():
        return f"ran here, but {trial_dir(out, number)} was removed"
    return f"ran in {ran_in} ({trial_dir(ran_in, number)})"


def _remove_others(out: Path, trials: list[FrozenTrial], best: FrozenTrial | None) -> None:
    """Drop the directories of finished trials other than the best (a finished trial's value
    never changes, so none of them can become the best later)."""
    for trial in trials:
        if trial.state.is_finished() and (best is None or trial.number != best.number):
            shutil.rmtree(trial_dir(out, trial.number), ignore_errors=True)


def finish(study: optuna.Study, problem: Problem, out: Path, keep_trials: str, ran: int,
           seconds: float, storage: str | None, timeout: float | None = None) -> dict[str, Any]:
    """Copy the best trial to ``out/best/``, write ``best_config.json`` and ``sweep.json``;
    the summary (``best_trial``, ``best_value``, ``best_params``, ``states``, ``trials_run``,
    ``trials_per_hour``, ``seconds``, the ``timeout`` this run had, ...) as written, plus
    ``out``."""
    trials = study.get_trials(deepcopy=False)
    best = best_of(study, trials)
    metric = problem.metric
    model = None
    if best is not None:
        config = best.user_attrs.get("config") or to_dict(
            problem.with_values(best.user_attrs.get("settings", best.params)))
        write_json(out / "best_config.json", config)
        model = write_best(out, problem, best, config)
    if keep_trials == "best":
        _remove_others(out, trials, best)
    summary = {
        "kind": problem.kind, "study_name": study.study_name, "storage": shown_storage(storage),
        "direction": study.direction.name.lower(), "metric": f"val_{metric}",
        "best_trial": None if best is None else best.number,
        "best_value": None if best is None else best.value,
        "best_params": {} if best is None else dict(best.user_attrs.get("settings",
                                                                        best.params)),
        "best_val": None if best is None else best.user_attrs.get("val"),
        "best_model": None if model is None else "best",
        "best_ran_in": None if best is None else best.user_attrs.get("out"),
        "n_trials": len(trials), "states": dict(Counter(t.state.name for t in trials)),
        "trials_run": ran, "seconds": round(seconds, 1), "timeout": timeout,
        "trials_per_hour": round(ran * 3600 / seconds, 1) if seconds > 0 else None,
        "failures": [{"trial": t.number, "reason": t.user_attrs.get("fail_reason", "unknown")}
                     for t in trials if t.state == TrialState.FAIL][-20:]}
    write_json(out / "sweep.json", summary)
    if best is not None:
        write_sweep_plots(study, out, metric)
    return {**summary, "out": str(out)}
