"""Where a sweep's study lives, and failing the trials of processes that died.

Optuna's ``JournalStorage`` (the default: ``DIR/optuna.log``) has no heartbeat, so each trial
records its owner (``worker`` user attribute: host, pid, process start time) and a starting
sweep fails the RUNNING trials whose owner is gone: every RUNNING trial of the embedded study,
whose ``sweep.lock`` the starting process holds, but those of a live process (a sweep that
joined it with ``--storage DIR/optuna.log``), and, in a shared storage, those whose owner ran
on this machine and has exited. RDB storages also get Optuna's heartbeat: a trial silent
for ``GRACE_PERIOD`` seconds is failed by whichever process starts a trial next.

Before Optuna reads it, a storage that cannot serve is a one-line error naming it: an SQLite
file given as a path (Optuna would read it as a journal), a URL SQLAlchemy cannot open, an
SQLite database in a missing directory. A journal's damaged last line (a crash or a full disk
while a record was written) is dropped, and said: Optuna skips such a line when it reads, but
appends its next record to it, and from then on cannot read the file at all; a damaged line
with records after it is an error naming the file and the line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
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


SQLITE_HEADER = b"SQLite format 3\x00"


def shown_storage(storage: str | None) -> str:
    """The storage as sweep.json and messages show it (a URL's password masked)."""
    return "journal: optuna.log" if storage is None else re.sub(r"://([^:/@]+):[^@]*@",
                                                                r"://\1:***@", storage)


def journal_path(out: Path, storage: str | None) -> Path | None:
    """The journal file a study lives in (``None``: an RDB URL)."""
    if storage is None or "://" not in storage:
        return Path(storage or out / JOURNAL)
    return None


def _is_sqlite(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def open_storage(out: Path, storage: str | None) -> optuna.storages.BaseStorage:
    """The journal file in ``out`` (default), another journal file, or an RDB URL."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = journal_path(out, storage)
    if path is not None:
        if _is_sqlite(path):
            raise ValueError(f"--storage {storage}: an SQLite database, not an Optuna journal "
                             f"file: give it as --storage sqlite:///{storage}")
        return JournalStorage(JournalFileBackend(str(path)))
    assert storage is not None
    _check_sqlite_directory(storage)
    for attempt in range(5):  # processes creating a new database at once race on its tables
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT,
                                                  grace_period=GRACE_PERIOD)
        except Exception as err:
            if not type(err).__module__.startswith("sqlalchemy"):
                raise
            if attempt == 4 or type(err).__name__ in ("ArgumentError", "NoSuchModuleError"):
                first = str(err).splitlines()[0] if str(err) else ""
                raise ValueError(f"--storage {shown_storage(storage)}: cannot open it "
                                 f"({type(err).__name__}: {first}); give an Optuna RDB URL "
                                 "(sqlite:///FILE.db, postgresql://USER@HOST/DB) or a journal "
                                 "file") from err
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _check_sqlite_directory(url: str) -> None:
    """An SQLite database's directory exists and takes new files (SQLite says only "unable
    to open database file", after the retries)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return
    directory = Path(url.removeprefix("sqlite:///").split("?")[0]).parent
    if not directory.is_dir():
        raise OSError(f"--storage {url}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise OSError(f"--storage {url}: the directory {directory} is not writable (SQLite "
                      "writes its journal beside the database)")


def _bad_line(path: Path) -> tuple[int, int, str] | None:
    """The first line of a journal that is not a whole JSON record: its number (from 1), the
    byte offset where it starts, and why; ``None`` when every line is one."""
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                return number, offset, "cut off"
            try:
                json.loads(line)
            except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
                return number, offset, f"garbled, {type(err).__name__}: {err}"
            offset += len(line)
    return None


def check_journal(path: str | Path) -> None:
    """Drop a damaged last record of the journal file at ``path`` (keeping the file as it
    was beside it, and saying so), or refuse a damaged record with records after it. Done
    under the lock Optuna's writers take, so no record is being written meanwhile."""
    from optuna.storages.journal import JournalFileSymlinkLock

    path = Path(path)
    if not path.is_file() or _is_sqlite(path):
        return
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        bad = _bad_line(path)
        if bad is None:
            return
        number, offset, why = bad
        with path.open("rb") as handle:
            handle.seek(offset)
            handle.readline()
            last = not handle.read(1)
        if not last:
            raise ValueError(f"{path}: line {number} is not an Optuna journal record ({why}) "
                             "and records follow it, so the study cannot be read: move the "
                             "file aside to start the study afresh, or restore it from a copy")
        kept = path.with_name(path.name + ".damaged")
        shutil.copyfile(path, kept)
        os.truncate(path, offset)
        log.warning("%s: its last record (line %d) is damaged (%s), as a crash or a full disk "
                    "leaves it: dropped it, so the study is what Optuna read of it; the file as "
                    "it was is kept as %s", path, number, why, kept)
    finally:
        lock.release()


def _owner(trial: FrozenTrial) -> str:
    """Whether the process that runs ``trial`` is ``alive`` or ``gone`` (on this machine), or
    ``unknown`` (another machine, or none recorded)."""
    owner = trial.user_attrs.get("worker")
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return "unknown"
    alive = process_identity(int(owner["pid"]))
    gone = alive is None or (bool(owner.get("started")) and alive[1] != owner["started"])
    return "gone" if gone else "alive"


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.BaseStorage,
                      embedded: bool) -> list[int]:
    """Mark FAILED the RUNNING trials whose process is gone: in a shared storage those whose
    owner ran here and exited; in the embedded study, whose lock this process holds, every
    one but those of a live process (another sweep that joined DIR/optuna.log with
    ``--storage``). Their numbers."""
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = _owner(trial)
        if owner == "alive" or (owner == "unknown" and not embedded):
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
