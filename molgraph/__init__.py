"""molgraph: graph neural networks for drug-molecule screening and gene analysis.

``import molgraph`` stays light: public names are loaded on first use, so worker processes
that only featurize never import torch, and optuna, mlflow and deepchem load only where used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "read_molecules": "molgraph.chem.parse",
    "iter_molecule_chunks": "molgraph.chem.parse",
    "MoleculeTable": "molgraph.chem.parse",
    "featurize_smiles": "molgraph.chem.featurize",
    "mol_to_data": "molgraph.chem.featurize",
    "MolGraphs": "molgraph.chem.graphs",
    "load_dataset": "molgraph.data.dataset",
    "split_indices": "molgraph.data.split",
    "ModelConfig": "molgraph.models.config",
    "build_model": "molgraph.models.registry",
    "RunConfig": "molgraph.training.config",
    "DataConfig": "molgraph.training.config",
    "TrainConfig": "molgraph.training.config",
    "fit": "molgraph.training.loop",
    "train": "molgraph.training.job",
    "train_from_file": "molgraph.training.job",
    "TrainedModel": "molgraph.inference.artifact",
    "load_model": "molgraph.inference.artifact",
    "predict_file": "molgraph.inference.predict",
    "ScreenConfig": "molgraph.screening.screen",
    "screen": "molgraph.screening.screen",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'molgraph' has no attribute {name!r}")
