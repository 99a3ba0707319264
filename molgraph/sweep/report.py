"""The end of a sweep: ``DIR/best/``, ``DIR/best_config.json`` and ``DIR/sweep.json``.

``best/`` is the best trial's directory exactly as it was trained in its trial (no retraining,
so its validation score is the one the search saw); the test set was never looked at, and
``molgraph train --config DIR/best_config.json`` retrains it with a test score.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from molgraph.runtime.files import temporary_path, write_json
from molgraph.sweep.objective import trial_dir
from molgraph.training.config import RunConfig

log = logging.getLogger(__name__)


def best_of(study: optuna.Study, trials: list[FrozenTrial]) -> FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return (max if maximize else min)(complete, key=lambda t: (t.value, -t.number))


def copy_best(out: Path, number: int) -> Path | None:
    """``out/best/``: a copy of trial ``number``'s directory, replaced only when it changes."""
    source, best = trial_dir(out, number), out / "best"
    if not (source / "model").is_dir():
        log.warning("the best trial (%d) was not written in %s (it ran elsewhere, or its "
                    "directory was removed): no %s", number, out, best)
        return None
    marker = best / "metrics.json"
    if marker.exists() and json.loads(marker.read_text()).get("trial") == number:
        return best
    tmp = temporary_path(best)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    shutil.rmtree(best, ignore_errors=True)
    os.replace(tmp, best)
    return best


def _remove_others(out: Path, trials: list[FrozenTrial], best: FrozenTrial | None) -> None:
    """Drop the directories of finished trials other than the best (a finished trial's value
    never changes, so none of them can become the best later)."""
    for trial in trials:
        if trial.state.is_finished() and (best is None or trial.number != best.number):
            shutil.rmtree(trial_dir(out, trial.number), ignore_errors=True)


def _shown_storage(storage: str | None) -> str:
    return "journal: optuna.log" if storage is None else re.sub(r"://([^:/@]+):[^@]*@",
                                                                r"://\1:***@", storage)


def finish(study: optuna.Study, base: RunConfig, out: Path, metric: str, keep_trials: str,
           ran: int, seconds: float, storage: str | None) -> dict[str, Any]:
    """Copy the best trial to ``out/best/``, write ``best_config.json`` and ``sweep.json``;
    the summary (``best_trial``, ``best_value``, ``best_params``, ``states``, ``trials_run``,
    ``trials_per_hour``, ``seconds``, ...) as written, plus ``out``."""
    trials = study.get_trials(deepcopy=False)
    best = best_of(study, trials)
    model = None
    if best is not None:
        model = copy_best(out, best.number)
        config = (RunConfig.from_dict(best.user_attrs["config"]) if "config" in best.user_attrs
                  else base.with_values(best.user_attrs.get("settings", best.params)))
        config.save(out / "best_config.json")
    if keep_trials == "best":
        _remove_others(out, trials, best)
    summary = {
        "study_name": study.study_name, "storage": _shown_storage(storage),
        "direction": study.direction.name.lower(), "metric": f"val_{metric}",
        "best_trial": None if best is None else best.number,
        "best_value": None if best is None else best.value,
        "best_params": {} if best is None else dict(best.user_attrs.get("settings",
                                                                        best.params)),
        "best_val": None if best is None else best.user_attrs.get("val"),
        "best_model": None if model is None else "best",
        "n_trials": len(trials), "states": dict(Counter(t.state.name for t in trials)),
        "trials_run": ran, "seconds": round(seconds, 1),
        "trials_per_hour": round(ran * 3600 / seconds, 1) if seconds > 0 else None,
        "failures": [{"trial": t.number, "reason": t.user_attrs.get("fail_reason", "unknown")}
                     for t in trials if t.state == TrialState.FAIL][-20:]}
    write_json(out / "sweep.json", summary)
    return {**summary, "out": str(out)}
