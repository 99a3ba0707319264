"""Pretraining an encoder (``molgraph pretrain``), continuing it from its checkpoint, starting a
model from it (``train --init-from``, ``--freeze-encoder``) and writing learned vectors
(``molgraph fingerprint``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgraph.cli.main import main
from molgraph.inference.fingerprint import fingerprint
from molgraph.inference.loading import load_model
from molgraph.models.encoder import HEAD
from molgraph.pretrain import PretrainConfig, pretrain_encoder
from molgraph.pretrain.targets import CLIP, DescriptorScaling, masked

DATA = Path(__file__).parent / "data"
LIBRARY = DATA / "moses_204.csv"
PRETRAIN = ["pretrain", "--data", str(LIBRARY), "--max-molecules", "150", "--hidden", "32",
            "--batch-size", "32", "--threads", "1"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "enc"
    assert main([*PRETRAIN, "--epochs", "2", "--out", str(out)]) == 0
    return out


def test_pretraining_writes_an_encoder_without_its_head_and_a_card(encoder):
    state = torch.load(encoder / "encoder.pt", weights_only=True)
    assert state and not any(k.startswith(HEAD) for k in state)
    card = json.loads((encoder / "encoder.json").read_text())
    # 150 drawn; moses_204.csv holds a few rows RDKit cannot read, which are skipped
    assert card["architecture"]["hidden_channels"] == 32 and 140 < card["molecules"] <= 150
    assert len(card["descriptors"]) > 100  # RDKit's 2D descriptors that vary here
    assert len(pd.read_csv(encoder / "history.csv")) == 2
    assert f"{card['molecules']} molecules" in (encoder / "MODEL_CARD.md").read_text()


def test_pretraining_continues_after_its_last_checkpoint(encoder, tmp_path, capsys):
    copy = tmp_path / "enc"
    copy.mkdir()
    for f in encoder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    before = pd.read_csv(copy / "history.csv")
    assert main([*PRETRAIN, "--epochs", "3", "--out", str(copy)]) == 0
    after = pd.read_csv(copy / "history.csv")
    assert after["epoch"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(after.iloc[:2][["train_loss", "val_loss"]],
                                  before[["train_loss", "val_loss"]])
    capsys.readouterr()
    assert main([*PRETRAIN, "--epochs", "3", "--mask-fraction", "0.3", "--out", str(copy)]) == 2
    assert "other settings" in capsys.readouterr().err


def test_a_frozen_encoder_stays_as_pretrained_and_the_head_learns(encoder, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(DATA / "esol_120.csv"), "--target-columns", "logS",
                 "--epochs", "2", "--no-blend", "--no-baseline", "--threads", "1",
                 "--init-from", str(encoder), "--freeze-encoder", "--out", str(out)]) == 0
    pretrained = torch.load(encoder / "encoder.pt", weights_only=True)
    trained = load_model(out).model.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in pretrained.items())
    config = json.loads((out / "run_config.json").read_text())
    assert config["model"]["hidden_channels"] == 32  # the encoder's, not the default 300
    assert config["train"]["init_from"] == str(encoder)


def test_a_private_head_on_a_frozen_encoder_leaves_it_as_pretrained(encoder, tmp_path):
    """DP-SGD on the head alone (each molecule's gradient from the encoder's batched output):
    the encoder is unchanged and the ε spent recorded."""
    out = tmp_path / "private"
    assert main(["train", "--data", str(DATA / "bace_80.csv"), "--smiles-column", "mol",
                 "--target-columns", "Class", "--task", "classification", "--epochs", "2",
                 "--dp-epsilon", "8", "--dp-max-grad-norm", "0.1", "--ffn-layers", "1",
                 "--split", "random", "--no-baseline", "--threads", "1", "--init-from",
                 str(encoder), "--freeze-encoder", "--out", str(out)]) == 0
    pretrained = torch.load(encoder / "encoder.pt", weights_only=True)
    trained = load_model(out).model.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in pretrained.items())
    assert np.isfinite(pd.read_csv(out / "history.csv")["train_loss"]).all()
    privacy = json.loads((out / "metrics.json").read_text())["privacy"]
    assert 0 < privacy["epsilon_spent"] <= 8.02 and privacy["max_grad_norm"] == 0.1


def test_fine_tuning_moves_the_encoder(encoder):
    import molgraph

    run = molgraph.train(pd.read_csv(DATA / "esol_120.csv"), "logS", epochs=2, blend=False,
                         baseline=False, train_options={"threads": 1,
                                                        "init_from": str(encoder)})
    pretrained = torch.load(encoder / "encoder.pt", weights_only=True)
    trained = run.model.model.state_dict()
    assert not all(torch.equal(trained[k], v) for k, v in pretrained.items())


def test_an_encoder_of_another_shape_or_no_encoder_is_a_clear_error(encoder, tmp_path, capsys):
    assert main(["train", "--data", str(DATA / "esol_120.csv"), "--target-columns", "logS",
                 "--init-from", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no pretrained encoder there" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "encoder.json").write_text((encoder / "encoder.json").read_text())
    state = torch.load(encoder / "encoder.pt", weights_only=True)
    state = {k: v[..., :-1] if v.dim() == 2 else v for k, v in state.items()}
    torch.save(state, broken / "encoder.pt")
    assert main(["train", "--data", str(DATA / "esol_120.csv"), "--target-columns", "logS",
                 "--init-from", str(broken), "--out", str(tmp_path / "r2")]) == 2
    assert "does not fit this model" in capsys.readouterr().err


def test_fingerprints_keep_every_row_in_place(encoder, tmp_path):
    molecules = ["CCO", "not a smiles", "c1ccccc1O"]
    frame = fingerprint(encoder, molecules)
    values = frame.filter(like="fp_").to_numpy()
    assert values.shape == (3, 32) and frame["error"].iloc[1] != ""
    assert np.isnan(values[1]).all() and np.isfinite(values[[0, 2]]).all()
    out = tmp_path / "fp.parquet"
    assert main(["fingerprint", "--model", str(encoder), "--data", str(LIBRARY),
                 "--out", str(out)]) == 0
    written = pd.read_parquet(out)
    assert len(written) == 204 and written["row"].is_monotonic_increasing


def test_descriptor_targets_are_standardised_clipped_and_masked():
    rng = np.random.default_rng(0)
    from molgraph.chem.molfeatures import descriptor_names

    raw = rng.normal(size=(40, len(descriptor_names()))).astype(np.float32)
    raw[:, 0] = 1e30 * rng.random(40)  # Ipc-like: log-transformed first
    raw[:, 1] = 3.0  # constant: dropped
    scaling = DescriptorScaling.fit(raw, np.arange(30))
    assert scaling.logged[0] and descriptor_names()[1] not in scaling.names
    targets = scaling.transform(raw)
    assert np.abs(targets).max() <= CLIP
    assert abs(targets[:30].mean()) < 1e-5
    hidden = np.isnan(masked(targets, 0.15, rng))
    assert 0.1 < hidden.mean() < 0.2


def test_pretraining_refuses_molecule_features():
    with pytest.raises(ValueError, match="graph alone"):
        PretrainConfig(data=str(LIBRARY)).with_values({"model.molecule_features": ["morgan"]})


def test_the_python_api_returns_the_history(tmp_path):
    config = PretrainConfig(data=str(LIBRARY), max_molecules=60).with_values(
        {"model.hidden_channels": 16, "train.epochs": 1, "train.threads": 1})
    result = pretrain_encoder(config, tmp_path / "enc", progress=False)
    assert result.best_epoch == 1 and len(result.history) == 1 and 50 < result.n_molecules <= 60


def test_pretraining_is_tracked_in_mlflow_epoch_by_epoch(tmp_path):
    from mlflow.tracking import MlflowClient

    out = tmp_path / "enc"
    assert main([*PRETRAIN, "--max-molecules", "60", "--epochs", "2", "--out", str(out),
                 "--tracking-uri", "local", "--experiment", "pretrain"]) == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pretrain")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2


def test_a_pretrained_start_takes_molecule_features_beside_it(encoder):
    import molgraph

    run = molgraph.train(pd.read_csv(DATA / "esol_120.csv"), "logS", epochs=1, blend=False,
                         baseline=False, model_options={"molecule_features": ["morgan"]},
                         train_options={"threads": 1, "init_from": str(encoder)})
    assert run.config.model.molecule_features == ["morgan"]
    assert run.model.model.head[1].in_features == 32 + 2048  # the encoder's vector + the bits


def test_the_shipped_encoder_loads_and_describes_molecules():
    shipped = Path(__file__).parents[1] / "datasets" / "encoders" / "dmpnn-moses100k"
    frame = fingerprint(shipped, ["CCO", "c1ccccc1O"])
    values = frame.filter(like="fp_").to_numpy()
    assert values.shape == (2, 300) and np.isfinite(values).all()
    assert not np.allclose(values[0], values[1])
