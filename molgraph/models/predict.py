"""Batched prediction over a graph set: what training (validation), saved models and
screening workers all call."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from molgraph.chem.graphs import MolGraphs
from molgraph.models.base import mve_variance
from molgraph.models.scaling import Scaler


@torch.no_grad()
def predict_graphs(model: nn.Module, graphs: MolGraphs, task: str, scaler: Scaler,
                   batch_size: int = 256, device: torch.device | str = "cpu",
                   sample: int | None = None, variance: bool = False
                   ) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """Predictions ``[n_graphs, n_tasks]`` in label units (probabilities for classification).

    ``sample``: an MC dropout pass: the dropout layers stay on, their masks drawn from a
    generator seeded with ``sample`` (the same pass on the same batches gives the same
    numbers); the global random state is left as it was. ``variance``: also return a
    mean-variance head's variances ``[n_graphs, n_tasks]`` in label units squared (``None``
    for a model without one)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    model.eval()
    device = torch.device(device)
    if sample is None:
        mean, var = _predict(model, graphs, task, scaler, batch_size, device)
    else:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(sample)
            for layer in model.modules():
                if isinstance(layer, nn.Dropout):
                    layer.train()
            try:
                mean, var = _predict(model, graphs, task, scaler, batch_size, device)
            finally:
                model.eval()
    return (mean, var) if variance else mean


def _predict(model: nn.Module, graphs: MolGraphs, task: str, scaler: Scaler, batch_size: int,
             device: torch.device) -> tuple[np.ndarray, np.ndarray | None]:
    """Means ``[n, T]`` and, for a mean-variance head, variances ``[n, T]``, in label units."""
    tasks, mve = model.config.out_channels, model.config.mve
    means, variances = [], []
    for start in range(0, len(graphs), batch_size):
        index = np.arange(start, min(start + batch_size, len(graphs)))
        out = model(graphs.tensors(index).to(device)).float()  # bf16 models give bf16
        mean = out[:, :tasks]
        means.append((torch.sigmoid(mean) if task == "classification" else mean).cpu().numpy())
        if mve:
            variances.append(mve_variance(out[:, tasks:]).cpu().numpy())
    if not means:
        empty = np.zeros((0, tasks), dtype=np.float32)
        return empty, (empty if mve else None)
    mean = np.concatenate(means)
    if task == "classification":
        return mean, None
    scale = np.asarray(scaler.std, dtype=np.float32) ** 2
    return scaler.inverse(mean), (np.concatenate(variances) * scale if mve else None)
