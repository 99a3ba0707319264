"""Models saved by molgraph before the package redesign (commit 6e570b3) still load and predict
exactly what they predicted then (tests/data/saved_models/, see tests/data/README.md)."""

import numpy as np
import pandas as pd
import pytest

from molgraph.inference.loading import load_model

SAVED = __import__("pathlib").Path(__file__).parent / "data" / "saved_models"
EXPECTED = pd.read_csv(SAVED / "predictions.csv", keep_default_na=False)


@pytest.mark.parametrize("name", ["dmpnn", "gcn", "gat", "gine", "attentivefp"])
def test_model_saved_before_the_redesign_predicts_the_same(name):
    model = load_model(SAVED / name, device="cpu")
    pred = model.predict(EXPECTED["smiles"].tolist())[:, 0]
    expected = pd.to_numeric(EXPECTED[name], errors="coerce").to_numpy(dtype=np.float32)
    assert np.isnan(expected).sum() == 2  # the empty and the invalid SMILES keep their rows
    np.testing.assert_allclose(pred, expected, rtol=1e-6, atol=1e-6, equal_nan=True)
