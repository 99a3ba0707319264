"""A sweep's study storage: an SQLite file given as a path, storage URLs that cannot be opened
and a damaged journal are one-line errors naming them (or, for a journal's cut last record, a
repair that says so), before any training."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from molgraph.cli.main import main
from molgraph.sweep.storage import JOURNAL, check_journal, open_storage


def _journal(out: Path, trials: int = 3) -> Path:
    """A journal study with ``trials`` completed trials, as a sweep leaves it."""
    out.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    study = optuna.create_study(storage=storage, study_name="molgraph")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=trials)
    return out / JOURNAL


def _states(out: Path) -> list[TrialState]:
    study = optuna.load_study(study_name="molgraph", storage=open_storage(out, None))
    return [t.state for t in study.trials]


def _sweep(data_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    space = tmp_path / "space.yaml"
    space.write_text("model.name: gcn\nmodel.hidden_channels: 8\n")
    return ["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--epochs", "1", "--no-baseline", "--threads", "1", "--device", "cpu",
            "--space", str(space), "--trials", "1", "--out", str(tmp_path / "sweep"), *extra]


def test_an_sqlite_file_given_as_a_path_is_named(tmp_path):
    path = tmp_path / "study.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.create_study(storage=f"sqlite:///{path}", study_name="s")
    with pytest.raises(ValueError) as err:
        open_storage(tmp_path / "out", str(path))
    assert str(err.value) == (f"--storage {path}: an SQLite database, not an Optuna journal "
                              f"file: give it as --storage sqlite:///{path}")


@pytest.mark.parametrize("storage, message", [
    ("garbage://x", "--storage garbage://x: cannot open it (NoSuchModuleError: Can't load "
                    "plugin: sqlalchemy.dialects:garbage); give an Optuna RDB URL "
                    "(sqlite:///FILE.db, postgresql://USER@HOST/DB) or a journal file"),
    ("sqlite:///{tmp}/missing/s.db", "--storage sqlite:///{tmp}/missing/s.db: the directory "
                                     "{tmp}/missing does not exist"),
])
def test_a_storage_that_cannot_be_opened_is_exit_2_before_training(data_dir, tmp_path, capsys,
                                                                   storage, message):
    storage, message = (s.replace("{tmp}", str(tmp_path)) for s in (storage, message))
    assert main(_sweep(data_dir, tmp_path, "--storage", storage)) == 2
    err = capsys.readouterr().err
    assert err == f"molgraph sweep: error: {message}\n"
    assert not (tmp_path / "sweep" / "trials").exists()


def test_a_password_is_not_shown(tmp_path):
    with pytest.raises(ValueError) as err:
        open_storage(tmp_path, "garbage://user:s3cret@host/db")
    assert "s3cret" not in str(err.value) and "user:***@host" in str(err.value)


def test_a_cut_last_record_of_the_journal_is_dropped_and_said(tmp_path, caplog):
    journal = _journal(tmp_path / "sweep")
    whole = journal.read_bytes()
    with journal.open("r+b") as handle:  # what a full disk or a crash mid-write leaves
        handle.truncate(len(whole) - 40)
    lines = whole.count(b"\n")
    with caplog.at_level(logging.WARNING, logger="molgraph.sweep.storage"):
        check_journal(journal)
    assert f"{journal}: its last record (line {lines}) is damaged (cut off)" in caplog.text
    assert f"the file as it was is kept as {journal}.damaged" in caplog.text
    assert journal.read_bytes() == whole[:whole.rindex(b"\n", 0, len(whole) - 40) + 1]
    assert (tmp_path / "sweep" / f"{JOURNAL}.damaged").read_bytes() == whole[:-40]
    # the study reads, and new records start on a line of their own
    assert _states(tmp_path / "sweep")[:2] == [TrialState.COMPLETE, TrialState.COMPLETE]


def test_a_garbled_record_inside_the_journal_is_one_line_naming_it(data_dir, tmp_path, capsys):
    journal = _journal(tmp_path / "sweep")
    lines = journal.read_bytes().splitlines(keepends=True)
    lines.insert(3, b"\x00\x00garbage\n")
    journal.write_bytes(b"".join(lines))
    assert main(_sweep(data_dir, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{journal}: line 4 is not an Optuna journal record" in err
    assert "move the file aside" in err


def test_a_whole_journal_passes(tmp_path):
    journal = _journal(tmp_path / "sweep")
    before = journal.read_bytes()
    check_journal(journal)
    assert journal.read_bytes() == before and not Path(f"{journal}.damaged").exists()


def test_after_a_kill_with_a_shared_storage_the_dead_trial_s_child_run_is_closed(
        data_dir, tmp_path):
    """The probe's F8: with --storage the killed trial's MLflow child run stayed RUNNING; a
    child of a trial another live process still runs is left alone."""
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    from molgraph.sweep.objective import owner
    from molgraph.tracking.mlflow_runs import MlflowTracker

    uri, url = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'study.db'}"
    args = _sweep(data_dir, tmp_path, "--storage", url, "--tracking-uri", uri, "--pruner",
                  "none")
    assert main(args) == 0
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("molgraph").experiment_id
    (parent,) = client.search_runs([experiment], "tags.`optuna.study` = 'molgraph'")
    # what a SIGKILL mid-trial leaves: its trial RUNNING, owned by a process now gone, and its
    # child run RUNNING; beside it a trial of a live process on this study, also RUNNING
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    study = optuna.load_study(study_name="molgraph", storage=url)
    study.ask().set_user_attr("worker", {**owner(), "pid": int(dead), "started": "1"})
    study.ask().set_user_attr("worker", owner())
    killed, alive = (MlflowTracker.start(uri, "molgraph", f"trial {n}", parent.info.run_id,
                                         tags={"molgraph.trial": n}) for n in (1, 2))
    client.update_run(parent.info.run_id, status="RUNNING")
    assert main([*args, "--trials", "3"]) == 0  # the study holds 3 trials: none runs
    assert client.get_run(killed.run_id).info.status == "KILLED"
    assert client.get_run(killed.run_id).data.tags["optuna.state"] == "FAIL"
    assert client.get_run(alive.run_id).info.status == "RUNNING"
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"


def test_the_embedded_study_keeps_the_trial_a_live_joined_sweep_runs(tmp_path):
    """Another sweep may join DIR/optuna.log with --storage (the probe's F6 setup): when DIR's
    own sweep starts again, that sweep's running trial is not failed as stale, while a
    trial without a live owner is."""
    from molgraph.sweep.objective import owner
    from molgraph.sweep.storage import fail_stale_trials

    out = tmp_path / "sweep"
    _journal(out, trials=1)
    storage = open_storage(out, None)
    study = optuna.load_study(study_name="molgraph", storage=storage)
    study.ask().set_user_attr("worker", owner())  # alive: this process
    study.ask()  # its process died before it recorded itself
    assert fail_stale_trials(study, storage, embedded=True) == [2]
    assert [t.state for t in study.trials][1:] == [TrialState.RUNNING, TrialState.FAIL]
