"""molgraph: graph neural networks for drug-molecule screening and gene analysis.

``import molgraph`` stays light: public names are loaded on first use, so worker processes
that only featurize never import torch, and optuna, mlflow and deepchem load only where used.
"""

from __future__ import annotations

from molgraph.runtime.lazy import lazy_exports

__version__ = "0.1.0"

_PUBLIC = {
    "read_molecules": "molgraph.chem.parse",
    "iter_molecule_chunks": "molgraph.chem.parse",
    "MoleculeTable": "molgraph.chem.table",
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
    "load_model": "molgraph.inference.loading",
    "predict_file": "molgraph.inference.predict",
    "ScreenConfig": "molgraph.screening.screen",
    "screen": "molgraph.screening.screen",
}

__getattr__, _names = lazy_exports(__name__, _PUBLIC)
__all__ = ["__version__", *_names]
