import numpy as np
import pytest
import torch

from molgraph.chem.featurize import featurize_chunk
from molgraph.chem.parse import read_molecules
from molgraph.models.config import MODEL_NAMES, ModelConfig
from molgraph.models.predict import predict_graphs
from molgraph.models.registry import MODELS, build_model
from molgraph.runtime.system import seed_everything
from molgraph.tracking import StopTraining
from molgraph.training.config import TrainConfig
from molgraph.training.loop import fit, masked_loss

SMILES = ["CCO", "[Na+].[Cl-]", "c1ccccc1O", "C", "CC(=O)Nc1ccc(O)cc1"]


def config(name: str, tasks: int = 3, **kw) -> ModelConfig:
    return ModelConfig(name=name, out_channels=tasks, **kw)


def test_registry_and_light_names_agree():
    assert sorted(MODELS) == sorted(MODEL_NAMES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_shape_including_molecules_without_bonds(name):
    seed_everything(0)
    model = build_model(config(name, hidden_channels=32)).eval()
    batch = featurize_chunk(SMILES).graphs.batch()
    assert model(batch).shape == (len(SMILES), 3)


def test_model_rebuilds_from_plain_dict():
    cfg = config("gat", hidden_channels=16, heads=2)
    assert build_model(cfg.to_dict()).config == cfg


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'mpnn'"):
        config("mpnn")


def test_masked_loss_ignores_missing_labels():
    pred = torch.tensor([[0.0, 5.0], [1.0, -3.0]], requires_grad=True)
    target = torch.tensor([[1.0, float("nan")], [0.0, float("nan")]])
    loss = masked_loss(pred, target, "classification")
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(pred.grad[:, 1] == 0)
    full = masked_loss(pred[:, :1], target[:, :1], "classification")
    assert torch.isclose(loss, full)


@pytest.mark.parametrize("name", ["dmpnn", "gine", "gcn"])
def test_overfits_tiny_regression_set(data_dir, name):
    """Chemprop's sanity check: a model must be able to memorise ~50 molecules."""
    table = read_molecules(data_dir / "esol_120.csv", target_columns=["logS"])
    chunk = featurize_chunk(table.smiles[:48])
    y = table.targets[:48]
    seed_everything(0)
    model = build_model(config(name, tasks=1, hidden_channels=128))
    cfg = TrainConfig(epochs=80, batch_size=8, lr=3e-3, patience=0, warmup_epochs=1)
    result = fit(model, (chunk.graphs, y), (chunk.graphs, y), cfg, task="regression")
    pred = predict_graphs(model, chunk.graphs, "regression", result.scaler)
    mse_standardised = float(np.mean((pred - y) ** 2) / np.var(y))
    assert mse_standardised <= 0.05


def test_classification_training_with_missing_labels_is_seeded(data_dir):
    tasks = ["NR-AR", "NR-AhR", "SR-MMP"]
    table = read_molecules(data_dir / "tox21_150.csv", target_columns=tasks)
    chunk = featurize_chunk(table.smiles)
    y = table.targets[chunk.valid]
    runs = []
    for _ in range(2):
        seed_everything(7)
        model = build_model(config("dmpnn", tasks=3, hidden_channels=32))
        cfg = TrainConfig(epochs=3, batch_size=32)
        result = fit(model, (chunk.graphs, y), (chunk.graphs, y), cfg, "classification", seed=7)
        runs.append(predict_graphs(model, chunk.graphs, "classification", result.scaler))
    assert np.isfinite(runs[0]).all() and ((runs[0] >= 0) & (runs[0] <= 1)).all()
    np.testing.assert_array_equal(runs[0], runs[1])


def test_callbacks_receive_each_epoch_and_can_stop(data_dir):
    table = read_molecules(data_dir / "esol_120.csv", target_columns=["logS"])
    chunk = featurize_chunk(table.smiles[:40])
    seen = []

    class Recorder:
        def on_epoch_end(self, epoch, metrics):
            seen.append((epoch, metrics["val_rmse"]))
            if epoch == 3:
                raise StopTraining

    class Tracker:
        params, metrics = {}, []

        def log_params(self, params):
            self.params.update(params)

        def log_metrics(self, metrics, step):
            self.metrics.append(step)

    tracker = Tracker()
    model = build_model(config("gcn", tasks=1, hidden_channels=16))
    fit(model, (chunk.graphs, table.targets[:40]), (chunk.graphs, table.targets[:40]),
        TrainConfig(epochs=10), callbacks=[Recorder()], tracker=tracker)
    assert [e for e, _ in seen] == [1, 2, 3]  # epochs count from 1, tracker steps too
    assert tracker.metrics == [1, 2, 3]


@pytest.mark.parametrize("name", ["mean", "sum", "max"])
def test_poolings_match_pyg_including_a_graph_without_atoms(name):
    from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

    from molgraph.models.layers import POOLINGS

    pyg = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}[name]
    x = torch.randn(7, 5)
    batch = torch.tensor([0, 0, 0, 2, 2, 3, 3])  # graph 1 has no atoms
    torch.testing.assert_close(POOLINGS[name](x, batch, 4), pyg(x, batch, 4))


def test_dmpnn_predicts_without_importing_pyg(tmp_path):
    # PyG's import takes ~2 s, paid by every screening process if a D-MPNN needed it
    import subprocess
    import sys

    code = ("import sys; from molgraph.chem.featurize import featurize_chunk; "
            "from molgraph.models.registry import build_model; "
            "from molgraph.models.config import ModelConfig; "
            "m = build_model(ModelConfig('dmpnn', hidden_channels=8)).eval(); "
            "m(featurize_chunk(['CCO', 'c1ccccc1']).graphs.tensors()); "
            "print('torch_geometric' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_stages_compose_to_forward_and_give_atom_gradients(name):
    """encode → from_encoded is the forward pass, and attributions can take gradients with
    respect to the encoded atom representations of every model."""
    seed_everything(0)
    model = build_model(config(name, tasks=2, hidden_channels=16, heads=2)).eval()
    batch = featurize_chunk(SMILES).graphs.tensors()
    atoms, bonds = model.encode(batch)
    atoms = atoms.detach().requires_grad_()
    out = model.from_encoded(atoms, bonds, batch)
    torch.testing.assert_close(out, model(batch), atol=1e-5, rtol=1e-5)
    out[:, 0].sum().backward()
    assert atoms.grad.shape == (int(batch.x.shape[0]), 16)
    assert atoms.grad.abs().sum() > 0
    assert model.atom_states(batch).shape == (int(batch.x.shape[0]), 16)


def test_a_diverging_run_stops_with_the_setting_to_change(data_dir, tmp_path, capsys):
    from molgraph.cli.main import main

    code = main(["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
                 "--epochs", "2", "--lr", "1e30", "--threads", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "training diverged at epoch 1" in err and "lower the learning rate" in err
