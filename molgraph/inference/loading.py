"""Loading saved models: a single model or an ensemble, from the directory ``train`` wrote.

Above both ``artifact`` (one model, torch) and ``ensemble`` (torch-free), so neither imports
the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from molgraph.inference.artifact import TrainedModel
from molgraph.inference.ensemble import EnsembleModel
from molgraph.inference.model_dir import member_dirs


def load_models(directories: Sequence[str | Path], device: str = "auto",
                precision: str = "fp32") -> list[TrainedModel]:
    """Every model under ``directories``, an ensemble's members one by one, in order."""
    return [TrainedModel.load(m, device, precision) for d in directories
            for m in member_dirs(d)]


def load_model(directory: str | Path, device: str = "auto",
               precision: str = "fp32") -> TrainedModel | EnsembleModel:
    """Load a model saved by ``molgraph train`` (the ``model/`` directory or its parent): a
    ``TrainedModel``, or an ``EnsembleModel`` (same methods) for ``--ensemble-size N``."""
    models = load_models([directory], device, precision)
    return models[0] if len(models) == 1 else EnsembleModel(models)
