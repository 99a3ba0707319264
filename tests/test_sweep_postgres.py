"""``molgraph sweep --storage postgresql://...``: two processes share one study on a real server.

The server is started here (``initdb`` and ``pg_ctl`` from PATH or Debian's
``/usr/lib/postgresql/N/bin``; ``.ci/run`` installs Debian's ``postgresql``) on 127.0.0.1, a
free port, trust authentication, in a temporary directory, and stopped at the end. PostgreSQL
refuses to run as root, so as root it runs as the ``postgres`` user (or ``nobody``). Without
the binaries or the driver the test is skipped, saying which is missing: the driver is
psycopg 3 (``psycopg[binary]``, in the test extra), SQLAlchemy 2.1's for ``postgresql://``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from molgraph.sweep.objective import trial_dir

USER, PASSWORD, STUDY, TRIALS = "molgraph", "s3cret-word", "shared-pg", 6
SPACE = """\
model.name: gcn
model.hidden_channels: 8
model.num_layers: [1, 2]
train.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
"""
# each worker imports everything, says it is ready, and waits for the start signal, so that
# neither has run the whole study before the other has loaded torch
WORKER = """\
import sys, time
from pathlib import Path
import molgraph.sweep.study
from molgraph.cli.main import main
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.05)
sys.exit(main(sys.argv[3:]))
"""


def _binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: PATH's, else the newest
    Debian one."""
    found = shutil.which("initdb")
    places = [Path(found).resolve().parent] if found else []
    places += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True,
                     key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for place in places:
        if all((place / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return place
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """``postgresql://molgraph:PASSWORD@127.0.0.1:PORT/postgres`` of a server started here
    (trust authentication: the password is accepted, and must never be shown)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed "
                        "(pip install 'psycopg[binary]', in the test extra)")
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
                    "/usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)")
    as_user, owner = [], None
    if os.geteuid() == 0:  # postgres refuses root: run it as another user owning the files
        name = next((n for n in ("postgres", "nobody") if _has_user(n)), None)
        if name is None or shutil.which("runuser") is None:
            pytest.skip("running as root, and no postgres or nobody user or no runuser to run "
                        "the server as another user")
        owner, as_user = pwd.getpwnam(name), ["runuser", "-u", name, "--"]
    base = Path(tempfile.mkdtemp(prefix="molgraph-pg-"))  # not under pytest's 0700 tmp
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log, port = base / "data", base / "server.log", _free_port()

    def pg(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *args], cwd=base, capture_output=True, text=True,
                              timeout=120)

    def fail(step: str, done: subprocess.CompletedProcess) -> None:
        server_log = log.read_text() if log.exists() else ""
        pytest.fail(f"{step} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                    f"{server_log}")

    try:
        done = pg(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                  "--no-locale", "-E", "UTF8", "--no-sync")
        if done.returncode:
            fail("initdb", done)
        options = (f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        done = pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                  "-w", "-t", "60", "start")
        if done.returncode:
            fail("pg_ctl start", done)
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_two_sweep_processes_share_one_postgres_study(postgres_url, data_dir, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    go = tmp_path / "go"
    args = ["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--epochs", "2", "--batch-size", "32", "--threads", "1", "--device", "cpu",
            "--space", str(space), "--pruner", "none", "--trials", str(TRIALS),
            "--storage", postgres_url, "--study-name", STUDY]
    outs = [tmp_path / "a", tmp_path / "b"]
    readies = [tmp_path / "a.ready", tmp_path / "b.ready"]
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(ready), str(go), *args,
                               "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for out, ready in zip(outs, readies)]
    try:
        while not all(r.exists() for r in readies):
            assert all(p.poll() is None for p in procs), "a worker ended before it was ready"
            assert time.perf_counter() - started < 120, "workers not ready after 120 s"
            time.sleep(0.05)
        go.touch()
        logs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, text in zip(procs, logs):
        assert p.returncode == 0, text
        assert PASSWORD not in text

    study = optuna.load_study(study_name=STUDY, storage=postgres_url)
    trials = study.trials
    # each process checks the count before it asks for a trial: at the very end both may
    # find TRIALS - 1 and start one, so one extra trial is possible, never more
    assert TRIALS <= len(trials) <= TRIALS + 1, [t.number for t in trials]
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
    owners = {t.number: t.user_attrs["worker"] for t in trials}
    assert {o["host"] for o in owners.values()} == {socket.gethostname()}
    pids = [p.pid for p in procs]
    assert {o["pid"] for o in owners.values()} == set(pids), owners  # both took part
    summaries = [json.loads((out / "sweep.json").read_text()) for out in outs]
    assert sum(s["trials_run"] for s in summaries) == len(trials)
    for out, pid, summary in zip(outs, pids, summaries):
        mine = {n for n, o in owners.items() if o["pid"] == pid}
        assert summary["trials_run"] == len(mine)
        assert all(trial_dir(out, n).is_dir() for n in mine)  # written where it ran
        assert summary["study_name"] == STUDY
        assert summary["storage"].startswith(f"postgresql://{USER}:***@127.0.0.1:")
        assert PASSWORD not in (out / "sweep.json").read_text()
    # the process that finished last saw every trial complete; its best is the study's
    last = [s for s in summaries if s["states"] == {"COMPLETE": len(trials)}]
    assert last and last[-1]["best_trial"] == study.best_trial.number
