"""MLflow tracking end to end with real MLflow: a local SQLite store and an ``mlflow server``."""

from __future__ import annotations

import math
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from molgraph.cli.main import main  # noqa: E402
from molgraph.tracking.mlflow_runs import (  # noqa: E402
    PARENT_TAG,
    MlflowTracker,
    resolve_tracking_uri,
)
from molgraph.tracking.sweep_runs import ChildRuns  # noqa: E402

GENES = Path(__file__).parent / "data" / "genes"


def _train_args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--hidden", "8", "--epochs", "2", "--batch-size", "32", "--no-cache",
            "--out", str(out), *extra]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One SQLite store for the tests that need any store (creating one takes seconds)."""
    return resolve_tracking_uri(str(tmp_path_factory.mktemp("store") / "mlflow.db"))


def _only_run(client: MlflowClient, experiment: str):
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1
    return runs[0]


def _check_training_run(client: MlflowClient, run) -> None:
    assert run.info.status == "FINISHED"
    assert run.data.params["model.hidden_channels"] == "8"
    assert run.data.params["data.target_columns"] == '["logS"]'
    assert run.data.tags["molgraph.model"] == run.data.params["model.name"]
    assert run.data.tags["molgraph.task"] == "regression"
    assert run.data.tags["molgraph.data"].endswith("esol_120.csv")
    assert "molgraph.version" in run.data.tags
    history = client.get_metric_history(run.info.run_id, "val_rmse")
    assert sorted(m.step for m in history) == [1, 2]  # MLflow's step is the epoch, from 1
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == 2
    assert math.isfinite(run.data.metrics["test_rmse"])
    assert "best_val_rmse" in run.data.metrics
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "run_config.json", "history.csv", "test_predictions.csv",
            "model"} <= files
    assert "model/config.json" in {f.path for f in client.list_artifacts(run.info.run_id,
                                                                           "model")}
    assert run.data.tags["molgraph.model_uri"].startswith("models:/")  # the pyfunc model


def test_train_logs_to_a_local_store(data_dir, tmp_path, capsys):
    """``--tracking-uri local``: mlflow.db in the output directory, one run with everything."""
    out = tmp_path / "runs" / "esol"
    assert main(_train_args(data_dir, out, "--tracking-uri", "local", "--experiment", "esol",
                            "--run-name", "tiny")) == 0
    uri = f"sqlite:///{out / 'mlflow.db'}"
    assert uri in capsys.readouterr().err  # logged: "MLflow run ... logged to URI"
    client = MlflowClient(tracking_uri=uri)
    run = _only_run(client, "esol")
    assert run.info.run_name == "tiny"
    _check_training_run(client, run)
    assert (out / "mlartifacts").is_dir()  # artifacts beside the store, not in cwd


def test_a_failed_training_marks_the_run_failed(data_dir, tmp_path, store, capsys):
    args = _train_args(data_dir, tmp_path / "run", "--tracking-uri", store, "--experiment",
                       "broken")
    args[args.index("logS")] = "nope"
    assert main(args) == 2
    run = _only_run(MlflowClient(tracking_uri=store), "broken")
    assert run.info.status == "FAILED"
    assert "nope" in run.data.tags["molgraph.error"]


def test_child_runs_and_failed_blocks(store):
    with MlflowTracker.start(store, "sweep", run_name="study") as parent:
        child = parent.child(run_name="trial 0")
        with pytest.raises(RuntimeError), child:
            child.log_metrics({"val_rmse": 1.5, "train_loss": math.nan, "x": math.inf}, step=0)
            raise RuntimeError("diverged")
        factory = pickle.loads(pickle.dumps(ChildRuns(store, "sweep", parent.run_id)))
        other = factory(3, {"train.lr": 0.01})
        other.finish("KILLED")
    client = MlflowClient(tracking_uri=store)
    failed = client.get_run(child.run_id)
    assert failed.data.tags[PARENT_TAG] == parent.run_id
    assert failed.info.status == "FAILED"
    assert failed.data.tags["molgraph.error"] == "RuntimeError: diverged"
    assert failed.data.metrics == {"val_rmse": 1.5}  # NaN and inf are left out
    assert client.get_run(other.run_id).data.tags[PARENT_TAG] == parent.run_id
    assert client.get_run(other.run_id).info.status == "KILLED"
    assert client.get_run(other.run_id).info.run_name == "trial 3"
    assert client.get_run(parent.run_id).info.status == "FINISHED"
    assert PARENT_TAG not in client.get_run(parent.run_id).data.tags


def test_params_respect_mlflow_limits_and_trackers_pickle(store):
    params = {f"p.{i}": i for i in range(250)}
    params.update({"long": "x" * 10_000, "nested": {"a": 1, "b": [1, 2]}, "none": None})
    with MlflowTracker.start(store, "limits") as tracker:
        tracker.log_params(params)
        copy = pickle.loads(pickle.dumps(tracker))  # e.g. into a worker process
        copy.log_metrics({"m": 2.0}, step=3)
    run = MlflowClient(tracking_uri=store).get_run(tracker.run_id)
    assert len(run.data.params) == 254 and run.data.params["p.249"] == "249"
    assert len(run.data.params["long"]) == 6000
    assert run.data.params["nested.b"] == "[1, 2]" and run.data.params["none"] == "None"
    assert run.data.metrics["m"] == 2.0


def test_genes_train_logs_a_run(tmp_path, store):
    out = tmp_path / "genes"
    assert main(["genes", "train", "--network", str(GENES / "network.tsv"), "--format",
                 "edgelist", "--features", str(GENES / "omics.tsv"), "--positives",
                 str(GENES / "positives.txt"), "--negatives", str(GENES / "negatives.txt"),
                 "--folds", "2", "--epochs", "2", "--hidden", "8", "--out", str(out),
                 "--tracking-uri", store, "--experiment", "genes"]) == 0
    client = MlflowClient(tracking_uri=store)
    run = _only_run(client, "genes")
    assert run.info.status == "FINISHED" and run.data.params["model.hidden_channels"] == "8"
    assert run.data.tags["molgraph.task"].startswith("genes/")
    assert "cv_pr_auc_mean" in run.data.metrics
    assert len(client.get_metric_history(run.info.run_id, "fold0_train_loss")) >= 1
    assert "metrics.json" in {f.path for f in client.list_artifacts(run.info.run_id)}


def test_importing_molgraph_does_not_import_mlflow():
    code = ("import sys, molgraph.tracking, molgraph.training.job, molgraph.cli.train, "
            "molgraph.cli.genes; assert 'mlflow' not in sys.modules, 'mlflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on a free local port, stopped at teardown."""
    exe = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    if not Path(exe).exists():
        pytest.skip("the mlflow command-line tool is not installed")
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [exe, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # its own group
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow server did not start:\n"
                            + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        try:  # the server and the web workers it started
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_train_logs_to_an_mlflow_server(data_dir, tmp_path, mlflow_server):
    assert main(_train_args(data_dir, tmp_path / "run", "--tracking-uri", mlflow_server)) == 0
    client = MlflowClient(tracking_uri=mlflow_server)
    _check_training_run(client, _only_run(client, "molgraph"))
    assert any((tmp_path / "artifacts").rglob("metrics.json"))  # uploaded through the server
