"""molgraph: graph neural networks for drug-molecule screening and gene analysis.

``import molgraph`` stays light: public names are loaded on first use, so worker processes
that only featurize never import torch, and optuna, mlflow and deepchem load only where used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "read_molecules": "molgraph.parse",
    "iter_molecule_chunks": "molgraph.parse",
    "MoleculeTable": "molgraph.parse",
    "featurize_smiles": "molgraph.featurize",
    "mol_to_data": "molgraph.featurize",
    "MolGraphs": "molgraph.graphs",
    "split_indices": "molgraph.split",
    "build_model": "molgraph.models",
    "TrainConfig": "molgraph.train",
    "fit": "molgraph.train",
    "train_from_file": "molgraph.workflow",
    "TrainedModel": "molgraph.saved",
    "load_model": "molgraph.saved",
    "predict_file": "molgraph.predict",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'molgraph' has no attribute {name!r}")
