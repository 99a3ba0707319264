"""Differentially private training (``--dp-epsilon``): each molecule's gradient computed on its
own and clipped to the norm C before the noise, the ε spent accounted by Opacus, and nothing
saved with the model that the guarantee does not cover."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from molgraph.chem.featurize import featurize_smiles
from molgraph.cli.main import main
from molgraph.inference.loading import load_model
from molgraph.models.config import ModelConfig
from molgraph.models.registry import build_model
from molgraph.sweep.space import load_space
from molgraph.training.config import RunConfig, TrainConfig
from molgraph.training.loop import masked_loss
from molgraph.training.private import (
    Accountant,
    PrivacyPlan,
    clip,
    head_only,
    padded,
    per_molecule_gradients,
    per_molecule_head_gradients,
)

DATA = Path(__file__).parent / "data"
SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCCCC1N", "O=C(O)c1ccccc1Cl",
          "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"]
LOSS = partial(masked_loss, task="classification")


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(0)
    graphs = featurize_smiles(SMILES).graphs
    model = build_model(ModelConfig(hidden_channels=16, out_channels=2, dropout=0.0))
    y = np.array([[1, 0], [0, np.nan], [1, 1], [0, 0], [np.nan, 1], [1, 0]], np.float32)
    return graphs, model, y


def test_each_molecules_gradient_is_its_own_backward_pass(setting):
    """vmapped over padded molecules, the gradients are those of one molecule at a time."""
    graphs, model, y = setting
    index = np.arange(len(SMILES))
    gradients, losses = per_molecule_gradients(model, padded(graphs, index),
                                               torch.from_numpy(y), LOSS)
    _each_is_its_own_backward_pass(model, graphs, y, gradients, losses)


def _each_is_its_own_backward_pass(model, graphs, y, gradients, losses) -> None:
    """Molecule i's loss and gradient (of every trainable parameter) are those of a backward
    pass through molecule i alone."""
    for i in range(len(y)):
        model.zero_grad()
        batch = graphs.tensors([i], y=y[[i]])
        loss = LOSS(model(batch), batch.y)
        loss.backward()
        assert losses[i].item() == pytest.approx(loss.item(), abs=1e-5)
        for name, p in model.named_parameters():
            if p.requires_grad:
                torch.testing.assert_close(gradients[name][i], p.grad, atol=1e-5, rtol=1e-4)


def test_a_frozen_encoders_molecules_give_gradients_of_the_head_alone(setting):
    """With the encoder frozen, each molecule's gradient comes from the encoder's batched
    output through the head alone, and equals that molecule's own backward pass."""
    graphs, _, y = setting
    torch.manual_seed(1)
    model = build_model(ModelConfig(hidden_channels=16, out_channels=2, dropout=0.0,
                                    ffn_layers=2))
    assert not head_only(model)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("head."))
    assert head_only(model)
    index = np.arange(len(SMILES))
    with torch.no_grad():
        features = model.head_features(graphs.tensors(index))
    gradients, losses = per_molecule_head_gradients(model, features, torch.from_numpy(y), LOSS)
    assert set(gradients) == {k for k, p in model.named_parameters() if p.requires_grad}
    _each_is_its_own_backward_pass(model, graphs, y, gradients, losses)


def test_every_molecules_gradient_is_clipped_to_the_norm_before_the_noise(setting):
    graphs, model, y = setting
    index = np.arange(len(SMILES))
    gradients, _ = per_molecule_gradients(model, padded(graphs, index), torch.from_numpy(y),
                                          LOSS)
    max_norm = 0.01  # far below these gradients' norms: every one is clipped
    summed, norms = clip(gradients, max_norm)
    assert (norms > max_norm).all()
    for i in index:
        alone, _ = clip({k: g[i:i + 1] for k, g in gradients.items()}, max_norm)
        norm = torch.sqrt(sum(g.pow(2).sum() for g in alone.values()))
        assert norm <= max_norm * (1 + 1e-5)
    # the sum is the sum of the clipped molecules: none weighs more than C
    each = [clip({k: g[i:i + 1] for k, g in gradients.items()}, max_norm)[0] for i in index]
    for name, total in summed.items():
        torch.testing.assert_close(total, sum(e[name] for e in each), atol=1e-7, rtol=1e-5)
    big, norms = clip(gradients, 1e6)  # a norm no gradient reaches leaves them as they are
    for name, g in gradients.items():
        torch.testing.assert_close(big[name], g.sum(0), atol=1e-6, rtol=1e-5)


def test_the_noise_spends_no_more_than_the_budget():
    config = TrainConfig(epochs=5, batch_size=32, dp_epsilon=3.0)
    plan = PrivacyPlan.for_run(config, n_train=1000)
    assert plan.delta == pytest.approx(1e-3) and plan.sample_rate == pytest.approx(0.032)
    accountant = Accountant(plan)
    for _ in range(plan.steps_per_epoch * config.epochs):
        accountant.step()
    assert 0.9 * 3.0 <= accountant.spent() <= 3.0 + 0.02
    for _ in range(plan.steps_per_epoch):  # a step beyond the plan spends more
        accountant.step()
    assert accountant.spent() > 3.0


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp") / "run"
    code = main(["train", "--data", str(DATA / "bace_80.csv"), "--smiles-column", "mol",
                 "--target-columns", "Class", "--task", "classification", "--epochs", "2",
                 "--hidden-channels", "16", "--dp-epsilon", "4", "--dp-max-grad-norm", "0.5",
                 "--threads", "1", "--no-baseline", "--split", "random", "--out", str(out)])
    assert code == 0
    return out


def test_a_private_run_records_the_epsilon_it_spent(private_run):
    metrics = json.loads((private_run / "metrics.json").read_text())
    privacy = metrics["privacy"]
    assert 0 < privacy["epsilon_spent"] <= 4.0 + 0.02
    assert privacy["max_grad_norm"] == 0.5 and privacy["clipping"] == "per molecule"
    assert privacy["steps"] > 0 and privacy["noise_multiplier"] > 0
    assert "blend" not in metrics  # the SVM's support molecules would leave with the model
    config = json.loads((private_run / "run_config.json").read_text())
    assert config["train"]["dp_epsilon"] == 4.0 and config["blend"] is False
    assert config["train"]["dp_delta"] == pytest.approx(privacy["delta"])
    history = (private_run / "history.csv").read_text().splitlines()
    assert "epsilon_spent" in history[0]


def test_a_private_model_keeps_no_fingerprints_of_its_molecules(private_run, caplog):
    saved = json.loads((private_run / "model" / "config.json").read_text())
    assert "domain" not in saved and "blend" not in saved
    assert "differentially private" in saved["domain_withheld"]
    with caplog.at_level(logging.WARNING):  # withheld on purpose: no "train it again" warning
        load_model(private_run, device="cpu")
    assert "applicability domain" not in caplog.text
    assert {p.name for p in (private_run / "model").glob("*.npz")} <= {"conformal.npz"}
    out = private_run.parent / "pred.csv"
    assert main(["predict", "--model", str(private_run), "--data", str(DATA / "small.smi"),
                 "--out", str(out)]) == 0
    assert len((DATA / "small.smi").read_text().split()) and out.stat().st_size


@pytest.mark.parametrize("flags, said", [
    (["--model", "gcn"], "gcn normalises over the batch"),
    (["--task", "regression"], "for classification"),
    (["--molecule-features", "morgan"], "--molecule-features"),
    (["--ensemble-size", "2"], "--ensemble-size 1"),
    (["--dp-epsilon", "0"], "positive number"),
])
def test_what_dp_cannot_protect_is_refused_in_one_line(tmp_path, capsys, flags, said):
    args = ["train", "--data", str(DATA / "bace_80.csv"), "--smiles-column", "mol",
            "--target-columns", "Class", "--task", "classification", "--dp-epsilon", "4",
            "--epochs", "1", "--out", str(tmp_path / "run"), *flags]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "run").exists()


def test_a_sweep_can_search_the_privacy_settings(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("train.dp_epsilon: [1.0, 3.0, 8.0]\n"
                     "train.dp_max_grad_norm: {type: float, low: 0.1, high: 2.0, log: true}\n")
    base = RunConfig(task="classification")
    assert load_space(space, base).names == ["train.dp_epsilon", "train.dp_max_grad_norm"]
    with pytest.raises(ValueError, match="for classification"):  # where DP cannot hold
        load_space(space, RunConfig())


def test_gene_networks_refuse_differential_privacy(capsys):
    """A gene's data reaches its neighbours' predictions: per-gene clipping is not enough."""
    assert main(["genes", "train", "--network", "net.sif", "--format", "sif", "--labels",
                 "labels.csv", "--out", "out", "--dp-epsilon", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not available for gene networks" in err[0]
