"""Opening an MLflow store at a job's start: a store that cannot be reached or written, or a
deleted experiment, ends the job before any data is read, in seconds, with one line naming the
URI and what to do (exit 2); and the ``local`` store lives inside ``--out``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from molgraph.cli.main import main  # noqa: E402
from molgraph.tracking.mlflow_runs import MlflowTracker, log_run_directory  # noqa: E402
from molgraph.tracking.store import resolve_tracking_uri  # noqa: E402

#: generous: each failure takes well under a second here; MLflow's own retries took minutes
QUICK = 20


def _train(data_dir: Path, out: Path, *tracking: str) -> list[str]:
    return ["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--hidden", "8", "--epochs", "1", "--batch-size", "32", "--no-cache",
            "--no-baseline", "--out", str(out), *tracking]


def _refused(args: list[str], capsys) -> str:
    """The one-line message of a run refused with exit code 2, before any data was read."""
    start = time.monotonic()
    assert main(args) == 2
    assert time.monotonic() - start < QUICK
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("molgraph train: error: ")
    return line


def test_a_folder_under_a_file_is_refused(data_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", str(blocker / "db")),
                    capsys)
    assert f"sqlite:///{blocker / 'db' / 'mlflow.db'}" in line and "Not a directory" in line
    assert "--tracking-uri" in line
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_a_file_that_is_no_database_is_refused(data_dir, tmp_path, capsys):
    fake = tmp_path / "notes.db"
    fake.write_text("smiles,logS\nCCO,1.0\n" * 50)
    line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", f"sqlite:///{fake}"),
                    capsys)
    assert str(fake) in line and "not a database" in line


def test_a_read_only_folder_is_refused(data_dir, tmp_path):
    """A real read-only folder (a read-only bind mount: root ignores chmod), in a subprocess
    with its own mount namespace."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespaces here (unshare -m)")
    store = tmp_path / "ro"
    store.mkdir()
    command = (f"mount --bind -o ro {store} {store} && exec {sys.executable} -m "
               f"molgraph.cli.main " + " ".join(_train(data_dir, tmp_path / "out",
                                                        "--tracking-uri", str(store))))
    done = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert f"sqlite:///{store / 'mlflow.db'}" in line and "Read-only file system" in line
    assert "Traceback" not in done.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_not_there_is_refused_in_seconds(data_dir, tmp_path, capsys):
    uri = f"http://127.0.0.1:{_closed_port()}"
    line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", uri), capsys)
    assert uri in line and "does not answer" in line and "Connection refused" in line
    assert "mlflow server" in line


def test_a_server_that_never_answers_is_refused_after_the_timeout(data_dir, tmp_path, capsys,
                                                                    monkeypatch):
    """Connected but silent (a listening socket nobody reads): one retry of the time limit,
    which ``$MLFLOW_HTTP_REQUEST_TIMEOUT`` sets, as MLflow's own setting."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", uri), capsys)
    assert uri in line and "does not answer" in line and "timed out" in line
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" in line


def test_an_unknown_scheme_is_refused(data_dir, tmp_path, capsys):
    line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", "garbage://x"), capsys)
    assert "'garbage://x'" in line and "sqlite:///FILE.db" in line


def test_mlflows_own_refusal_is_one_line_in_whole_sentences(data_dir, tmp_path, capsys):
    """MLflow 3 refuses the file store; its reason comes through, cut at a sentence."""
    uri = (tmp_path / "mlruns").as_uri()
    line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", uri), capsys)
    assert f"MLflow tracking store {uri}: " in line and "maintenance mode" in line
    assert ". Check it, or give --tracking-uri" in line


def test_a_deleted_experiment_is_refused_with_how_to_restore_it(data_dir, tmp_path, capsys):
    uri = resolve_tracking_uri(str(tmp_path / "store"))
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("gone")
    client.delete_experiment(experiment_id)
    line = _refused(_train(data_dir, tmp_path / "out", "--tracking-uri", uri, "--experiment",
                           "gone"), capsys)
    assert "'gone'" in line and "deleted" in line and uri in line
    assert f"mlflow experiments restore --experiment-id {experiment_id}" in line
    assert "--experiment" in line
    with pytest.raises(ValueError, match="deleted"):  # the library call says the same
        MlflowTracker.start(uri, "gone")
    assert client.search_runs([experiment_id], run_view_type=3) == []


def test_the_local_store_lives_inside_out(data_dir, tmp_path, monkeypatch):
    """``--tracking-uri local`` (and no URI without ``$MLFLOW_TRACKING_URI``): ``OUT/mlflow.db``
    and ``OUT/mlartifacts/``; the run's artifacts are the run directory without the store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "runs" / "esol"
    assert resolve_tracking_uri(None, out) == f"sqlite:///{out / 'mlflow.db'}"
    assert main(_train(data_dir, out, "--tracking-uri")) == 0
    assert (out / "mlflow.db").is_file() and (out / "mlartifacts").is_dir()
    assert not (tmp_path / "runs" / "mlflow.db").exists()
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("molgraph").experiment_id])
    uploaded = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "model"} <= uploaded
    assert not {"mlflow.db", "mlartifacts"} & uploaded


def test_uploading_skips_a_store_anywhere_in_the_run_directory(tmp_path):
    """A store given inside the run directory, even in a sub-folder, is not uploaded into
    itself; the rest of that folder is."""
    out = tmp_path / "run"
    (out / "model").mkdir(parents=True)
    (out / "model" / "config.json").write_text("{}")
    (out / "metrics.json").write_text("{}")
    uri = resolve_tracking_uri(str(out / "model" / "runs.db"))
    with MlflowTracker.start(uri, "inside") as tracker:
        log_run_directory(tracker, out)
    client = MlflowClient(uri)
    assert {f.path for f in client.list_artifacts(tracker.run_id)} == {"metrics.json", "model"}
    assert {f.path for f in client.list_artifacts(tracker.run_id, "model")} == {
        "model/config.json"}


def test_a_sweeps_parent_and_children_share_the_local_store_inside_out(data_dir, tmp_path):
    out = tmp_path / "sweep"
    space = tmp_path / "space.yaml"
    space.write_text("model.hidden_channels: [8, 16]\n")
    assert main(["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
                 "--epochs", "1", "--batch-size", "32", "--threads", "1", "--device", "cpu",
                 "--space", str(space), "--pruner", "none", "--trials", "2", "--no-baseline",
                 "--out", str(out), "--tracking-uri", "local"]) == 0
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("molgraph").experiment_id])
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert sorted(r.data.tags.get("mlflow.parentRunId") for r in runs if r != parent) == [
        parent.info.run_id] * 2
    assert not (tmp_path / "mlflow.db").exists()
