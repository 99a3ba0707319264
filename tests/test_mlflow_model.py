"""A trained model as an MLflow pyfunc model (models-from-code): logged to a run of a local
SQLite store, loaded with ``mlflow.pyfunc.load_model`` and served by ``mlflow models serve``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from molgraph.inference.artifact import TrainedModel  # noqa: E402
from molgraph.inference.mlflow_model import (  # noqa: E402
    MolgraphPyfunc,
    log_pyfunc_model,
    smiles_from_input,
)
from molgraph.inference.predict import predict_file  # noqa: E402
from molgraph.tracking.mlflow_runs import MlflowTracker, resolve_tracking_uri  # noqa: E402
from molgraph.training.api import train  # noqa: E402

SMILES = ["CCO", "not a smiles", "c1ccccc1O"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny regression model's run directory (``DIR/model/``), trained in seconds, blended
    with its SVM (whose file must travel with the MLflow model)."""
    data = Path(__file__).parent / "data" / "esol_120.csv"
    out = tmp_path_factory.mktemp("esol") / "run"
    train(data, ["logS"], model="gine", split="random", epochs=2, out=out,
                    model_options={"hidden_channels": 8}, cache_dir=False, blend=True)
    return out


@pytest.fixture(scope="module")
def logged(run_dir, tmp_path_factory) -> tuple[str, str, str]:
    """``(tracking URI, run id, model URI)``: the model logged to a run while it is open."""
    uri = resolve_tracking_uri(str(tmp_path_factory.mktemp("store") / "mlflow.db"))
    before = os.environ.get("MLFLOW_TRACKING_URI")
    with MlflowTracker.start(uri, "esol", run_name="tiny") as tracker:
        model_uri = log_pyfunc_model(run_dir, uri, tracker.run_id)
        assert MlflowClient(uri).get_run(tracker.run_id).info.status == "RUNNING"
    assert os.environ.get("MLFLOW_TRACKING_URI") == before  # put back as it was
    return uri, tracker.run_id, model_uri


@pytest.fixture
def tracking(logged, monkeypatch):
    """The store as MLflow's tracking URI for one test (``models:/`` URIs resolve there)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", logged[0])
    mlflow.set_tracking_uri(logged[0])
    yield logged
    mlflow.set_tracking_uri(None)


def _own_predictions(run_dir: Path, smiles: list[str], tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "input.csv"
    pd.DataFrame({"smiles": smiles}).to_csv(path, index=False)
    return predict_file(run_dir, path, device="cpu")


COLUMNS = ["logS_pred", "logS_lower", "logS_upper", "train_similarity", "in_domain", "valid",
           "error"]


def _check_answer(frame: pd.DataFrame, own: pd.DataFrame) -> None:
    """The answer for ``SMILES``, as ``molgraph predict`` gives it, its invalid row empty
    (``None``, which MLflow's server writes as JSON ``null``)."""
    assert list(frame.columns) == COLUMNS
    assert frame["valid"].tolist() == [True, False, True]
    assert frame["error"][0] == "" and frame["error"][2] == ""
    assert "not a smiles" in frame["error"][1] and own["error"][1] == frame["error"][1]
    assert frame.loc[1, ["logS_pred", "train_similarity", "in_domain"]].tolist() == [None] * 3
    for column in ("logS_pred", "train_similarity"):
        np.testing.assert_allclose(frame[column][[0, 2]].astype(float), own[column][[0, 2]],
                                   rtol=1e-6)
    assert frame["in_domain"][[0, 2]].tolist() == own["in_domain"][[0, 2]].tolist()
    assert 0 < frame["train_similarity"][0] <= 1


def test_logged_model_belongs_to_the_run(tracking):
    uri, run_id, model_uri = tracking
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"  # the tracker closed it; logging left it alone
    model = client.get_logged_model(model_uri.rsplit("/", 1)[-1])
    assert model.source_run_id == run_id and model.experiment_id == run.info.experiment_id
    assert model.tags["molgraph.task"] == "regression"
    assert [m.model_id for m in run.outputs.model_outputs] == [model.model_id]
    info = mlflow.models.get_model_info(model_uri)
    assert "python_function" in info.flavors
    assert info.flavors["python_function"]["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert info.signature.inputs.input_names() == ["smiles"]
    assert info.signature.outputs.input_names() == COLUMNS
    files = Path(mlflow.artifacts.download_artifacts(model_uri))
    example = json.loads((files / "input_example.json").read_text())
    assert example["columns"] == ["smiles"] and len(example["data"]) == 2
    assert "molgraph==" in (files / "requirements.txt").read_text()
    assert (files / "mlflow_model.py").exists()  # the model's code, not a pickle
    assert {p.name for p in (files / "artifacts" / "model").iterdir()} == {
        "config.json", "weights.pt", "svm.npz", "domain.npz", "conformal.npz"}


def test_pyfunc_predict_flags_invalid_rows(tracking, run_dir, tmp_path):
    model = mlflow.pyfunc.load_model(tracking[2])
    frame = model.predict(pd.DataFrame({"smiles": SMILES}))
    own = _own_predictions(run_dir, SMILES, tmp_path)
    _check_answer(frame, own)
    trained = TrainedModel.load(run_dir, device="cpu")
    np.testing.assert_allclose(frame["logS_pred"].astype(float), trained.predict(SMILES)[:, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(frame["train_similarity"].astype(float),
                               trained.train_similarity(SMILES), rtol=1e-6)
    records = model.predict([{"smiles": s} for s in SMILES])
    pd.testing.assert_frame_equal(records, frame)
    with_none = model.predict(pd.DataFrame({"smiles": ["CCO", None]}))
    assert with_none["valid"].tolist() == [True, False] and with_none["error"][1]


def test_python_model_reads_smiles_from_any_usual_input(run_dir):
    """Called directly (no signature in front), lists and other column names are read too."""
    model = MolgraphPyfunc()
    model.trained = TrainedModel.load(run_dir, device="cpu")
    listed = model.predict(None, SMILES)
    assert listed["valid"].tolist() == [True, False, True]
    upper = model.predict(None, pd.DataFrame({"id": [1, 2, 3], "SMILES": SMILES}))
    pd.testing.assert_frame_equal(upper, listed)
    assert smiles_from_input("CCO") == ["CCO"]
    assert smiles_from_input([["CCO"], ["C"]]) == ["CCO", "C"]
    assert smiles_from_input(pd.DataFrame({"Structure": ["C"]})) == ["C"]  # the only column
    assert smiles_from_input(pd.DataFrame({"mol_smi": ["C"], "x": [1]}), "mol_smi") == ["C"]
    with pytest.raises(ValueError, match="no SMILES column"):
        smiles_from_input(pd.DataFrame({"a": ["C"], "b": ["C"]}))


def test_domain_threshold_is_a_model_setting(run_dir):
    """``model_config["domain_threshold"]`` decides ``in_domain``; a training molecule has
    similarity 1."""
    model = MolgraphPyfunc()
    model.trained = TrainedModel.load(run_dir, device="cpu")
    training = pd.read_csv(Path(__file__).parent / "data" / "esol_120.csv")["smiles"][:20]
    seen = model.predict(None, training.tolist())["train_similarity"]
    assert max(seen) == 1.0  # most are training or validation molecules (a random split)
    for threshold in (0.0, 0.3, 1.0):
        model.domain_threshold = threshold
        frame = model.predict(None, SMILES)
        assert frame["in_domain"].tolist() == [None if s is None else s >= threshold
                                               for s in frame["train_similarity"]]
    model.domain_threshold = 0.0
    assert model.predict(None, SMILES)["in_domain"].tolist() == [True, None, True]


def test_classification_predicts_probabilities(tmp_path, monkeypatch):
    data = Path(__file__).parent / "data" / "tox21_150.csv"
    out = tmp_path / "tox"
    train(data, ["NR-AR", "SR-MMP"], task="classification", model="gcn",
                    split="random", epochs=1, out=out, model_options={"hidden_channels": 8},
                    cache_dir=False)
    uri = resolve_tracking_uri(str(tmp_path / "mlflow.db"))
    with MlflowTracker.start(uri, "tox") as tracker:
        model_uri = log_pyfunc_model(out / "model", uri, tracker.run_id, name="tox",
                                     smiles_column="mol")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
        assert model.metadata.signature.inputs.input_names() == ["mol"]
        frame = model.predict(pd.DataFrame({"mol": SMILES}))
    finally:
        mlflow.set_tracking_uri(None)
    assert list(frame.columns) == ["NR-AR_pred", "SR-MMP_pred", "NR-AR_set", "SR-MMP_set",
                                   "train_similarity", "in_domain", "valid", "error"]
    probabilities = frame.loc[frame["valid"], ["NR-AR_pred", "SR-MMP_pred"]].to_numpy(float)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert frame.loc[~frame["valid"], "NR-AR_pred"].isna().all()


def test_an_ensemble_answers_its_spread_as_predict_does(tmp_path, monkeypatch):
    """An ensemble's pyfunc model gives ``<target>_std`` after ``<target>_pred`` (in its
    signature too), the numbers ``molgraph predict`` writes; a single model has none."""
    out = tmp_path / "ensemble"
    train(Path(__file__).parent / "data" / "esol_120.csv", ["logS"], model="gcn",
          split="random", epochs=1, out=out, model_options={"hidden_channels": 8},
          cache_dir=False, ensemble_size=2, blend=False)
    uri = resolve_tracking_uri(str(tmp_path / "mlflow.db"))
    with MlflowTracker.start(uri, "ensemble") as tracker:
        model_uri = log_pyfunc_model(out, uri, tracker.run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
        frame = model.predict(pd.DataFrame({"smiles": SMILES}))
    finally:
        mlflow.set_tracking_uri(None)
    columns = ["logS_pred", "logS_std", *COLUMNS[1:]]
    assert model.metadata.signature.outputs.input_names() == columns
    assert list(frame.columns) == columns
    own = _own_predictions(out, SMILES, tmp_path)
    np.testing.assert_allclose(frame["logS_std"][[0, 2]].astype(float), own["logS_std"][[0, 2]],
                               rtol=1e-5)
    assert (frame["logS_std"][[0, 2]].astype(float) > 0).all() and frame["logS_std"][1] is None


def test_importing_molgraph_inference_does_not_import_mlflow():
    code = ("import sys, molgraph.inference, molgraph.inference.predict, "
            "molgraph.inference.artifact; assert 'mlflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refuse(token: str):
    raise ValueError(f"not JSON: {token}")


def _post(url: str, body: dict) -> dict:
    """The answer to ``body``, parsed as strict JSON (a bare ``NaN`` is refused, as
    ``JSON.parse`` refuses it)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 200
        return json.loads(reply.read(), parse_constant=_refuse)


def test_mlflow_models_serve_answers_invocations(logged, run_dir, tmp_path):
    exe = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    if not Path(exe).exists():
        pytest.skip("the mlflow command-line tool is not installed")
    uri, _, model_uri = logged
    port = _free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [exe, "models", "serve", "-m", model_uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow models serve did not start:\n"
                            + log_path.read_text()[-3000:])
            time.sleep(0.5)
        answer = _post(f"{url}/invocations", {
            "dataframe_split": {"columns": ["smiles"], "data": [[s] for s in SMILES]}})
        _check_answer(pd.DataFrame(answer["predictions"], dtype=object),
                      _own_predictions(run_dir, SMILES, tmp_path))
    finally:
        try:  # the server and the worker it started
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
