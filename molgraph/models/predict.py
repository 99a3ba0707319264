"""Batched prediction over a graph set: what training (validation), saved models and
screening workers all call."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from molgraph.chem.graphs import MolGraphs
from molgraph.models.scaling import Scaler


@torch.no_grad()
def predict_graphs(model: nn.Module, graphs: MolGraphs, task: str, scaler: Scaler,
                   batch_size: int = 256, device: torch.device | str = "cpu",
                   sample: int | None = None) -> np.ndarray:
    """Predictions ``[n_graphs, n_tasks]`` in label units (probabilities for classification).

    ``sample``: an MC dropout pass: the dropout layers stay on, their masks drawn from a
    generator seeded with ``sample`` (the same pass on the same batches gives the same
    numbers); the global random state is left as it was."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    model.eval()
    device = torch.device(device)
    if sample is None:
        return _predict(model, graphs, task, scaler, batch_size, device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(sample)
        for layer in model.modules():
            if isinstance(layer, nn.Dropout):
                layer.train()
        try:
            return _predict(model, graphs, task, scaler, batch_size, device)
        finally:
            model.eval()


def _predict(model: nn.Module, graphs: MolGraphs, task: str, scaler: Scaler, batch_size: int,
             device: torch.device) -> np.ndarray:
    outputs = []
    for start in range(0, len(graphs), batch_size):
        index = np.arange(start, min(start + batch_size, len(graphs)))
        out = model(graphs.tensors(index).to(device)).float()  # bf16 models give bf16
        outputs.append((torch.sigmoid(out) if task == "classification" else out).cpu().numpy())
    if not outputs:
        return np.zeros((0, model.config.out_channels), dtype=np.float32)
    pred = np.concatenate(outputs)
    return scaler.inverse(pred) if task == "regression" else pred
