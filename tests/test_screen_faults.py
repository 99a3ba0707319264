"""Screening faults: a killed run leaves no process behind, two runs never share an output, an
unwritable output and bad settings are refused before any work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from screen_helpers import LIBRARY, tiny_models

from molgraph.runtime.files import check_writable, exclusive_lock
from molgraph.runtime.processes import process_identity
from molgraph.screening.output import side_paths
from molgraph.screening.screen import ScreenConfig, run_screen

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="session")
def model(tmp_path_factory) -> Path:
    return tiny_models(tmp_path_factory.getbasetemp())[0]


def _session(sid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of session ``sid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


def _big_library(path: Path, copies: int) -> Path:
    source = pd.read_csv(LIBRARY, keep_default_na=False)
    path.write_text("\n".join(f"{s} mol{k}_{i}" if s else "" for k in range(copies)
                              for i, s in enumerate(source["SMILES"])) + "\n")
    return path


def test_killed_screen_leaves_nothing_running(tmp_path, model):
    """SIGKILL of the main process only: its workers, the forkserver and the resource tracker
    all exit on their own within seconds."""
    out = tmp_path / "killed.csv"
    command = [sys.executable, "-m", "molgraph.cli.main", "screen", "--model", str(model),
               "--library", str(_big_library(tmp_path / "big.smi", 10)), "--out", str(out),
               "--chunk-size", "8", "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(command, env=ENV, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and proc.poll() is None and not workers:
            if any(side_paths(out)["parts"].glob("part-*.parquet")):  # workers are scoring
                workers = [p for p in _session(proc.pid) if p.ppid() not in (1, proc.pid)]
            time.sleep(0.05)
        assert proc.poll() is None and workers, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, not its group
        proc.wait()
        deadline = time.monotonic() + 10
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [" ".join(p.cmdline())[:120] for p in _session(proc.pid)]
        assert not left, f"still running 10 s after the kill: {left}"
    finally:
        for survivor in _session(proc.pid):
            survivor.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_second_run_on_the_same_output_is_refused(tmp_path):
    """While another process holds the output's lock, a run refuses before touching the
    parts; a SIGKILL of the holder releases the lock."""
    out = tmp_path / "hits.csv"
    paths = side_paths(out)
    paths["parts"].mkdir()
    (paths["parts"] / "manifest.json").write_text("{}")
    (paths["parts"] / "part-000-000000.parquet").write_bytes(b"first run's part")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom molgraph.runtime.files import "
         "exclusive_lock\nwith exclusive_lock(sys.argv[1]):\n print('locked', flush=True)\n"
         " time.sleep(120)", str(paths["lock"])],
        env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        config = ScreenConfig(["no-such-model"], [LIBRARY], out, workers=0)
        with pytest.raises(ValueError) as err:
            run_screen(config)
        message = str(err.value)
        assert str(out) in message and "another molgraph screen" in message
        assert f"process {holder.pid}" in message and "--out" in message
        assert sorted(p.name for p in paths["parts"].iterdir()) == [
            "manifest.json", "part-000-000000.parquet"]
        assert (paths["parts"] / "part-000-000000.parquet").read_bytes() == b"first run's part"
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with exclusive_lock(paths["lock"]):  # released by the kernel when the holder died
        assert paths["lock"].read_text().strip() == str(os.getpid())
    assert not paths["lock"].exists()


def test_cli_refuses_a_locked_output(tmp_path, capsys):
    from molgraph.cli.main import main

    out = tmp_path / "hits.csv"
    with exclusive_lock(side_paths(out)["lock"]):
        code = main(["screen", "--model", "m", "--library", str(LIBRARY), "--out", str(out)])
    assert code == 2
    assert f"another molgraph screen (process {os.getpid()})" in capsys.readouterr().err


def _read_only_directory(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        directory = tmp_path / "read-only"
        directory.mkdir()
        directory.chmod(0o500)
        return directory
    try:  # root writes anywhere it may; sysfs refuses new files even to root
        check_writable("/sys/probe.csv")
    except ValueError:
        return Path("/sys")
    pytest.skip("running as root with no read-only directory to try")


@pytest.mark.parametrize("case", ["directory", "parent is a file", "read-only"])
def test_unwritable_output_is_refused_before_any_work(tmp_path, case):
    if case == "directory":
        out = tmp_path / "hits.csv"
        out.mkdir()
        cause = "it is a directory"
    elif case == "parent is a file":
        (tmp_path / "results").write_text("")
        out = tmp_path / "results" / "run1" / "hits.csv"
        cause = f"{tmp_path / 'results'} is a file"
    else:
        out = _read_only_directory(tmp_path) / "hits.csv"
        cause = "cannot write the output in"
    # a model that does not exist: the output is refused before models are loaded
    with pytest.raises(ValueError) as err:
        run_screen(ScreenConfig(["no-such-model"], [LIBRARY], out, workers=0))
    assert str(out) in str(err.value) and cause in str(err.value)


def test_check_writable_creates_the_directory(tmp_path):
    out = tmp_path / "a" / "b" / "hits.csv"
    assert check_writable(out) == out
    assert out.parent.is_dir() and not any(out.parent.iterdir())


def test_parts_path_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "hits.csv"
    side_paths(out)["parts"].write_text("")
    with pytest.raises(ValueError, match="hits.parts: cannot keep the checkpoint parts"):
        run_screen(ScreenConfig(["no-such-model"], [LIBRARY], out, workers=0))


@pytest.mark.parametrize(("option", "value", "message"), [
    ("batch_size", 0, "--batch-size must be at least 1, not 0"),
    ("workers", -2, "--workers must be at least 0, not -2"),
    ("threads", 0, "--threads must be at least 1, not 0"),
    ("chunk_size", 0, "--chunk-size must be at least 1, not 0"),
    ("top_k", 0, "--top-k must be at least 1, not 0"),
])
def test_config_refuses_bad_counts(tmp_path, option, value, message):
    with pytest.raises(ValueError, match=message):
        ScreenConfig(["m"], [LIBRARY], tmp_path / "x.csv", **{option: value})


def test_process_identity_tells_exited_and_zombie_processes():
    assert process_identity(os.getpid()) == process_identity(os.getpid()) is not None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    assert process_identity(child.pid) is None  # exited, not yet reaped
    child.wait()
    assert process_identity(child.pid) is None
