"""Predictions for a list of SMILES, for a single model or an ensemble alike; no torch here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molgraph.chem.featurize import featurize_smiles, valid_smiles
from molgraph.inference.domain import Domain, train_similarity


def predict_smiles(model, smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """``model.predict_graphs`` (a ``TrainedModel`` or an ``EnsembleModel``) on SMILES:
    ``[len(smiles), n_targets]``, NaN rows for invalid SMILES."""
    smiles = list(smiles)
    chunk = featurize_smiles(smiles)
    out = np.full((len(smiles), len(model.target_names)), np.nan, dtype=np.float32)
    out[chunk.valid] = model.predict_graphs(chunk.graphs, batch_size,
                                            valid_smiles(smiles, chunk.valid))
    return out


def smiles_similarity(domain: Domain | None, smiles: Sequence[str]) -> np.ndarray:
    """``[len(smiles)]`` nearest-neighbour similarity to ``domain`` (see
    ``molgraph.inference.domain``), NaN for the SMILES that give no graph."""
    smiles = list(smiles)
    valid = featurize_smiles(smiles).valid
    out = np.full(len(smiles), np.nan, dtype=np.float32)
    out[valid] = train_similarity(domain, valid_smiles(smiles, valid))
    return out
