import json

import numpy as np
import pytest

from molgraph.inference.artifact import TrainedModel
from molgraph.inference.loading import load_model
from molgraph.training.api import train

SMILES = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1", "[Na+].[Cl-]"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    data = __import__("pathlib").Path(__file__).parent / "data" / "esol_120.csv"
    run = train(data, ["logS"], model="gine", split="random", epochs=2, out=out,
                          model_options={"hidden_channels": 32}, cache_dir=False)
    return run, out


def test_save_load_gives_identical_predictions(trained):
    run, out = trained
    before = run.model.predict(SMILES)
    after = load_model(out / "model", device="cpu").predict(SMILES)
    np.testing.assert_array_equal(before, after)
    assert np.isnan(after[2]).all() and np.isfinite(after[[0, 1, 3, 4]]).all()


def test_training_directory_is_accepted(trained):
    _, out = trained
    assert load_model(out, device="cpu").target_names == ["logS"]


def test_incompatible_featurizer_version_is_refused(trained, tmp_path):
    _, out = trained
    model_dir = tmp_path / "old"
    TrainedModel.load(out / "model", device="cpu").save(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["featurizer"]["version"] = 0
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="featurizer version 0"):
        load_model(model_dir)


def test_weights_are_plain_tensors(trained):
    import torch

    _, out = trained
    state = torch.load(out / "model" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_bf16_inference_is_close_to_fp32_and_returns_float32(trained):
    _, out = trained
    fp32 = load_model(out, device="cpu").predict(SMILES)
    bf16 = load_model(out, device="cpu", precision="bf16")
    assert next(bf16.model.parameters()).dtype == __import__("torch").bfloat16
    pred = bf16.predict(SMILES)
    assert pred.dtype == np.float32
    assert np.isnan(pred[2]).all()
    # bfloat16 keeps 8 significant bits: ~1e-2 of the scale of the outputs
    np.testing.assert_allclose(pred[[0, 1, 3, 4]], fp32[[0, 1, 3, 4]], atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        load_model(out, device="cpu", precision="fp8")
