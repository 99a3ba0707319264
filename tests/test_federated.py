"""Federated training (molgraph.federated) with real Flower processes on 127.0.0.1: a
SuperLink, one SuperNode per data owner, the molgraph server and client apps. The owners are
slices of tests/data/tox21_150.csv."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("flwr")

from molgraph.cli.main import main  # noqa: E402
from molgraph.federated import FederationConfig, OwnerConfig, run_federation  # noqa: E402
from molgraph.federated.launch import free_port  # noqa: E402
from molgraph.federated.owner import (  # noqa: E402
    label_moments,
    load_owner,
    pooled_scaler,
    train_locally,
)
from molgraph.inference.artifact import TrainedModel  # noqa: E402
from molgraph.models.config import ModelConfig  # noqa: E402
from molgraph.models.registry import build_model  # noqa: E402
from molgraph.runtime.system import seed_everything  # noqa: E402
from molgraph.training.config import TrainConfig  # noqa: E402

TOX21 = Path(__file__).parent / "data" / "tox21_150.csv"
SMALL = dict(model=ModelConfig(hidden_channels=32, num_layers=2),
             train=TrainConfig(epochs=1, batch_size=16, threads=1))


def _owner_file(tmp_path: Path, name: str, rows: slice, columns: list[str]) -> Path:
    path = tmp_path / f"{name}.csv"
    pd.read_csv(TOX21).iloc[rows][["smiles", *columns]].to_csv(path, index=False)
    return path


def test_owners_with_different_tasks_give_one_model_of_both_tasks(tmp_path):
    """Two owners, each with one assay the other lacks: the model predicts both, each owner
    trains only on its own labels, and the directory works with ``molgraph predict``."""
    owners = [OwnerConfig(str(_owner_file(tmp_path, "lab_a", slice(0, 75), ["NR-AhR"])),
                          ["NR-AhR"], threads=1),
              OwnerConfig(str(_owner_file(tmp_path, "lab_b", slice(75, 150), ["SR-ARE"])),
                          ["SR-ARE"], threads=1)]
    out = tmp_path / "federated"
    metrics = run_federation(FederationConfig(rounds=2, round_timeout=180, **SMALL), owners,
                             out, timeout=400)

    assert metrics["target_columns"] == ["NR-AhR", "SR-ARE"]  # the union, by name
    assert metrics["rounds_run"] == 2 and len(metrics["rounds"]) == 2
    # the round kept is the one the owners' validation scores (by their sizes) rank first
    scores = {r["round"]: r["score"] for r in metrics["rounds"]}
    assert metrics["kept_round"] == max(scores, key=lambda r: scores[r])
    sizes = {name: c["n_val"] for name, c in metrics["clients"].items()}
    kept = metrics["rounds"][metrics["kept_round"] - 1]["val"]
    assert scores[metrics["kept_round"]] == pytest.approx(
        sum(kept[n]["roc_auc"] * sizes[n] for n in sizes) / sum(sizes.values()))
    assert metrics["clients"]["lab_a"]["tasks"] == ["NR-AhR"]
    assert metrics["clients"]["lab_b"]["labelled"]["SR-ARE"] > 30
    for record in metrics["rounds"]:
        assert sorted(record["clients_trained"]) == ["lab_a", "lab_b"]
        assert record["failures"] == []
        assert record["bytes_from_clients"] > 10_000  # the weights, twice
        assert set(record["val"]) == {"lab_a", "lab_b"}  # each owner scored the average
        assert {"roc_auc", "pr_auc"} <= set(record["val"]["lab_a"])
        assert np.isfinite(record["train"]["lab_b"]["train_loss"])
    assert metrics["bytes_per_round"][0] > 0

    model = TrainedModel.load(out / "model", device="cpu")
    assert model.target_names == ["NR-AhR", "SR-ARE"]
    smiles = pd.read_csv(TOX21)["smiles"].tolist()[:20]
    pred = model.predict(smiles)
    assert pred.shape == (20, 2) and ((pred >= 0) & (pred <= 1)).all()
    saved = FederationConfig.load(out / "run_config.json")
    assert saved.target_columns == ["NR-AhR", "SR-ARE"] and saved.model.out_channels == 2
    assert main(["predict", "--model", str(out), "--data", str(TOX21), "--out",
                 str(tmp_path / "pred.csv")]) == 0
    assert pd.read_csv(tmp_path / "pred.csv")["SR-ARE_pred"].notna().sum() == 150


@pytest.mark.slow
def test_three_clients_go_on_when_one_dies_mid_round(tmp_path):
    """``molgraph federated server`` and three ``molgraph federated client`` processes; the
    third client's processes are killed as round 2 starts: the run ends with the other two."""
    port = free_port()
    command = str(Path(sys.executable).parent / "molgraph")
    out = tmp_path / "federated"
    server = subprocess.Popen(
        [command, "federated", "server", "--address", f"127.0.0.1:{port}", "--out", str(out),
         "--clients", "3", "--min-clients", "2", "--rounds", "2", "--round-timeout", "60",
         "--hidden-channels", "32", "--num-layers", "2", "--epochs", "1", "--batch-size", "16",
         "--threads", "1", "--target-columns", "NR-AhR", "SR-ARE"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    clients = [subprocess.Popen(
        [command, "federated", "client", "--server", f"127.0.0.1:{port}", "--data",
         str(_owner_file(tmp_path, f"owner{k}", slice(50 * k, 50 * k + 50),
                         ["NR-AhR", "SR-ARE"])),
         "--target-columns", "NR-AhR", "SR-ARE", "--threads", "1", "--connect-timeout", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        for k in range(3)]
    try:
        deadline = time.time() + 240
        run_log = out / "logs" / "run.log"
        while "[ROUND 2/2]" not in (run_log.read_text() if run_log.exists() else ""):
            assert time.time() < deadline and server.poll() is None, server.communicate()[0]
            time.sleep(0.5)
        os.killpg(clients[2].pid, signal.SIGKILL)  # the owner's client and its Flower nodes
        said, _ = server.communicate(timeout=300)
        assert server.returncode == 0, said
        assert "2 rounds of fedavg with 3 data owners" in said
    finally:
        for client in clients:
            try:
                os.killpg(client.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.kill()
    metrics = json.loads((out / "metrics.json").read_text())
    first, second = metrics["rounds"]
    assert sorted(first["clients_trained"]) == ["owner0", "owner1", "owner2"]
    assert sorted(second["clients_trained"]) == ["owner0", "owner1"]
    assert first["failures"] == []
    assert {f["owner"] for f in second["failures"]} == {"owner2"}
    assert sorted(second["val"]) == ["owner0", "owner1"]
    pred = TrainedModel.load(out / "model", device="cpu").predict(["CCO", "c1ccccc1O"])
    assert pred.shape == (2, 2)


def test_regression_scaling_pools_moments_not_labels(tmp_path):
    """The server's target scaling from the owners' label count, sum and sum of squares is
    the mean and standard deviation of all their training labels together."""
    data = Path(__file__).parent / "data" / "esol_120.csv"
    frame = pd.read_csv(data)
    target = frame.columns[-1]
    federation = FederationConfig(task="regression", target_columns=[target], **SMALL)
    owners = []
    for k, rows in enumerate((slice(0, 60), slice(60, 120))):
        path = tmp_path / f"esol{k}.csv"
        frame.iloc[rows][["smiles", target]].to_csv(path, index=False)
        owners.append(load_owner(OwnerConfig(str(path), [target]), [target], federation))
    scaler = pooled_scaler([label_moments(o) for o in owners], [target], "regression")
    pooled = np.concatenate([o.train[1][:, 0] for o in owners])
    assert scaler.mean[0] == pytest.approx(pooled.mean(), rel=1e-6)
    assert scaler.std[0] == pytest.approx(pooled.std(), rel=1e-6)
    assert pooled_scaler([label_moments(o) for o in owners], [target],
                         "classification").std == [1.0]


def test_fedprox_keeps_local_weights_near_the_shared_ones(tmp_path):
    """FedProx's proximal term: with a large mu the locally trained weights move less from
    the weights the server sent than without it."""
    path = _owner_file(tmp_path, "lab", slice(0, 150), ["NR-AhR", "SR-ARE"])
    federation = FederationConfig(target_columns=["NR-AhR", "SR-ARE"],
                                  model=ModelConfig(hidden_channels=16, num_layers=2,
                                                    out_channels=2),
                                  train=TrainConfig(epochs=2, batch_size=16, lr=0.01,
                                                    threads=1, device="cpu"))
    data = load_owner(OwnerConfig(str(path), ["NR-AhR", "SR-ARE"]), ["NR-AhR", "SR-ARE"],
                      federation)
    scaler = pooled_scaler([label_moments(data)], ["NR-AhR", "SR-ARE"], "classification")
    moved = {}
    for mu in (0.0, 100.0):
        seed_everything(0)
        network = build_model(federation.model)
        start = [p.detach().clone() for p in network.parameters()]
        train_locally(network, data, federation, scaler, mu, seed=0)
        moved[mu] = sum(float((p.detach() - s).norm() ** 2)
                        for p, s in zip(network.parameters(), start)) ** 0.5
    assert 0 < moved[100.0] < 0.8 * moved[0.0]


def test_bad_settings_are_one_line_errors(tmp_path, capsys):
    assert main(["federated", "server", "--out", str(tmp_path / "x"), "--clients", "2",
                 "--min-clients", "3"]) == 2
    assert "min_clients" in capsys.readouterr().err
    assert main(["federated", "simulate", "--out", str(tmp_path / "y"), "--owner",
                 str(TOX21), "--rounds", "1"]) == 2
    assert "FILE:COLUMNS" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not tasks of this federation"):
        load_owner(OwnerConfig(str(TOX21), ["NR-AR"]), ["SR-ARE"], FederationConfig())


@pytest.mark.slow
def test_secure_aggregation_trains_three_owners_whose_weights_the_server_never_sees(tmp_path):
    """SecAgg+ (``--secure-aggregation``): three owners, one round; the server gets the sum
    of masked weights (the protocol's keys, shares and masked vectors cost more bytes than
    the weights alone) and writes a normal model directory."""
    owners = [OwnerConfig(str(_owner_file(tmp_path, f"lab{k}", slice(50 * k, 50 * k + 50),
                                          ["NR-AhR", "SR-ARE"])), ["NR-AhR", "SR-ARE"],
                          threads=1) for k in range(3)]
    out = tmp_path / "secure"
    metrics = run_federation(FederationConfig(rounds=1, round_timeout=180,
                                              secure_aggregation=True, **SMALL),
                             owners, out, timeout=600)
    weights = sum(p.numel() * 4 for p in build_model(
        ModelConfig(hidden_channels=32, num_layers=2, out_channels=2)).state_dict().values())
    for record in metrics["rounds"]:
        assert sorted(record["clients_trained"]) == ["lab0", "lab1", "lab2"]
        assert record["failures"] == []
        assert record["bytes_from_clients"] > 3 * weights  # masked vectors and key shares
    assert "Secure aggregation commencing" in (out / "logs" / "run.log").read_text()
    assert metrics["kept_round"] == 1
    assert set(metrics["rounds"][metrics["kept_round"] - 1]["val"]) == {"lab0", "lab1", "lab2"}
    pred = TrainedModel.load(out / "model", device="cpu").predict(["CCO", "c1ccccc1O"])
    assert pred.shape == (2, 2) and np.isfinite(pred).all()
    with pytest.raises(ValueError, match="at least 3 data owners"):
        run_federation(FederationConfig(secure_aggregation=True, **SMALL), owners[:2],
                       tmp_path / "two")


def test_the_secure_strategy_averages_by_molecules_and_sends_float32_back():
    """What the SecAgg+ server does with the unmasked sum (``federated.secure``): the
    molecule-weighted mean, as the model's float32 (unmasking gives float64, which would
    double the next round's bytes), recorded in the round book."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays

    from molgraph.federated.aggregate import RoundBook
    from molgraph.federated.secure import _SecureFedAvg

    class Proxy:
        def __init__(self, node_id):
            self.node_id = node_id

    book = RoundBook(2, {"a": 1, "b": 1}, ("roc_auc", True))
    strategy = _SecureFedAvg({1: "a", 2: "b"}, book, {})
    strategy.asked = ["a", "b"]
    results = [(Proxy(node), FitRes(Status(Code.OK, ""), ndarrays_to_parameters(
        [np.full(3, value, np.float64)]), n, {"train_loss": 0.5, "global_val_roc_auc": 0.7}))
        for node, value, n in ((1, 1.0, 30), (2, 3.0, 10))]
    parameters, _ = strategy.aggregate_fit(1, results, [])
    (mean,) = parameters_to_ndarrays(parameters)
    assert mean.dtype == np.float32 and np.allclose(mean, 1.5)
    assert sorted(book.round(1)["clients_trained"]) == ["a", "b"]
    assert book.round(1)["failures"] == [] and 1 in book.unscored
