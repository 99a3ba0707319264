"""Where a sweep's study lives, and failing the trials of processes that died.

Optuna's ``JournalStorage`` (the default: ``DIR/optuna.log``) has no heartbeat, so each trial
records its owner (``worker`` user attribute: host, pid, process start time) and a starting
sweep fails the RUNNING trials whose owner is gone: every RUNNING trial of the embedded study,
whose ``sweep.lock`` the starting process holds, and, in a shared storage, those whose owner
ran on this machine and has exited. RDB storages also get Optuna's heartbeat: a trial silent
for ``GRACE_PERIOD`` seconds is failed by whichever process starts a trial next.
"""

from __future__ import annotations

import logging
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from molgraph.runtime.processes import process_identity

log = logging.getLogger(__name__)
JOURNAL = "optuna.log"
HEARTBEAT, GRACE_PERIOD = 60, 300


def open_storage(out: Path, storage: str | None) -> optuna.storages.BaseStorage:
    """The journal file in ``out`` (default), another journal file, or an RDB URL."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if storage is None or "://" not in storage:
        return JournalStorage(JournalFileBackend(str(storage or out / JOURNAL)))
    for attempt in range(5):  # processes creating a new database at once race on its tables
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT,
                                                  grace_period=GRACE_PERIOD)
        except Exception as err:
            if not type(err).__module__.startswith("sqlalchemy") or attempt == 4:
                raise
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _owner_gone(trial: FrozenTrial) -> bool:
    owner = trial.user_attrs.get("worker")
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    alive = process_identity(int(owner["pid"]))
    return alive is None or (bool(owner.get("started")) and alive[1] != owner["started"])


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.BaseStorage,
                      embedded: bool) -> list[int]:
    """Mark FAILED the RUNNING trials whose process is gone (every one, for an embedded study
    whose lock this process holds); their numbers."""
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not (embedded or _owner_gone(trial)):
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                        "stale: its process ended while it ran")
            study.tell(trial.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError):  # finished meanwhile
            continue
        failed.append(trial.number)
    if failed:
        log.warning("marked stale RUNNING trial(s) %s FAILED", failed)
    return failed
