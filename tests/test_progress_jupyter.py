"""Training in a Jupyter kernel shows its bar (stderr is no terminal there): a widget with
ipywidgets, a text bar without it, and never tqdm's red "IProgress not found" warning."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

SETUP = f"""\
import numpy as np
import torch_geometric  # noqa: F401  (imports tqdm.auto itself: its warnings stay in this cell)
from molgraph.chem.featurize import featurize_chunk
from molgraph.chem.parse import read_molecules
from molgraph.models.config import ModelConfig
from molgraph.models.registry import build_model
from molgraph.training.config import TrainConfig
from molgraph.training.loop import fit
from molgraph.training.watch import EpochProgress

table = read_molecules({str(DATA / "esol_120.csv")!r}, target_columns=["logS"])
chunk = featurize_chunk(table.smiles)
graphs, y = chunk.graphs, table.targets[chunk.valid]"""

TRAIN = """\
model = build_model(ModelConfig(name="gcn", hidden_channels=8, out_channels=1))
result = fit(model, (graphs.take(np.arange(100)), y[:100]),
             (graphs.take(np.arange(100, 118)), y[100:118]), TrainConfig(epochs=2, batch_size=32),
             callbacks=[EpochProgress(2, "rmse", higher_is_better=False)])
[row["epoch"] for row in result.history]"""


def test_a_notebook_cell_shows_the_epoch_bar(monkeypatch):
    missing = [m for m in ("nbformat", "nbclient", "ipykernel")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP),
                                         nbformat.v4.new_code_cell(TRAIN)])
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    outputs = nb.cells[1].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    assert outputs[-1].data["text/plain"] == "[1, 2]"
    stderr = "".join(o.text for o in outputs if o.output_type == "stream")
    assert "TqdmWarning" not in stderr and "IProgress" not in stderr
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json"
               in o.get("data", {})]
    if importlib.util.find_spec("ipywidgets") is None:  # a text bar, redrawn with \r
        assert not widgets
        frames = [f.strip() for f in stderr.split("\r") if f.strip()]
        assert any(f.startswith("epoch 1/2:") and "mol/s" in f for f in frames)
        assert frames[-1].startswith("epoch 2/2: 100%|") and "trained in" in frames[-1]
    else:
        assert widgets
