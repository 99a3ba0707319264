"""molgraph: graph neural networks for drug-molecule screening and gene analysis.

``import molgraph`` stays light: public names are loaded on first use, so worker processes
that only featurize never import torch, and optuna, mlflow and deepchem load only where used.
"""

from __future__ import annotations

import warnings

from molgraph.runtime.lazy import lazy_exports

__version__ = "0.1.0"
# torch_geometric imports tqdm.auto, which warns in a notebook without ipywidgets; molgraph's
# own bars fall back to text there (runtime.progress), so the warning says nothing useful
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")

_PUBLIC = {
    # molecules in, graphs out
    "read_molecules": "molgraph.chem.parse",
    "iter_molecule_chunks": "molgraph.chem.parse",
    "MoleculeTable": "molgraph.chem.table",
    "featurize_smiles": "molgraph.chem.featurize",
    "mol_to_data": "molgraph.chem.featurize",
    "MolGraphs": "molgraph.chem.graphs",
    "load_dataset": "molgraph.data.dataset",
    "split_indices": "molgraph.data.split",
    # the configuration objects every job is described by
    "RunConfig": "molgraph.training.config",
    "DataConfig": "molgraph.training.config",
    "TrainConfig": "molgraph.training.config",
    "ModelConfig": "molgraph.models.config",
    "SweepConfig": "molgraph.sweep.config",
    "TrackingConfig": "molgraph.tracking.config",
    "ScreenConfig": "molgraph.screening.screen",
    # one call per job, on files or on data in memory
    "train": "molgraph.training.api",
    "run_config": "molgraph.training.api",
    "TrainRun": "molgraph.training.job",
    "MolGraphRegressor": "molgraph.training.estimator",
    "MolGraphClassifier": "molgraph.training.estimator",
    "load_model": "molgraph.inference.loading",
    "predict": "molgraph.inference.predict",
    "predict_file": "molgraph.inference.predict",
    "screen": "molgraph.screening.frame",
    "run_sweep": "molgraph.sweep.run",
    "CampaignConfig": "molgraph.campaign.config",
    "run_campaign": "molgraph.campaign.loop",
    "explain_molecules": "molgraph.explain.attribute",
    "explain_file": "molgraph.explain.attribute",
    "fingerprint": "molgraph.inference.fingerprint",
    # an encoder pretrained on unlabelled molecules (train --init-from)
    "pretrain_encoder": "molgraph.pretrain.run",
    "PretrainConfig": "molgraph.pretrain.config",
    # encryption at rest of stores and model directories
    "encryption_key": "molgraph.runtime.encryption",
    "write_key_file": "molgraph.runtime.encryption",
    # private data: audits before sharing, knowledge shared without weights
    "audit_model": "molgraph.privacy.audit",
    "pool_annotations": "molgraph.privacy.distill",
    "run_federation": "molgraph.federated.api",
    "FederationConfig": "molgraph.federated.config",
    "OwnerConfig": "molgraph.federated.config",
    # building blocks
    "build_model": "molgraph.models.registry",
    "fit": "molgraph.training.loop",
}

__getattr__, __dir__, _names = lazy_exports(__name__, _PUBLIC)
__all__ = ["__version__", *_names]
