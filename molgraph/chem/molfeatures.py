"""Molecule-level features a model can read beside its graph, as Chemprop's featurizers add:
Morgan fingerprint bits and RDKit's 2D descriptors, concatenated at the readout.

The raw values are computed here; the model standardises the descriptors with the mean and
standard deviation of its training split (saved in its config), so ``predict`` and ``screen``
compute the same raw features and nothing else.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from molgraph.chem.fingerprints import morgan_bits

MORGAN_BITS = 2048
#: feature kind → whether it is standardised on the training split (bits are not)
KINDS = {"morgan": False, "rdkit2d": True}


def descriptor_names() -> list[str]:
    """The RDKit 2D descriptors, in ``CalcMolDescriptors`` order (about 210)."""
    from rdkit.Chem import Descriptors

    return [name for name, _ in Descriptors._descList]


def check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or len(set(kinds)) < len(kinds):
        raise ValueError(f"molecule features must be distinct names from {', '.join(KINDS)}, "
                         f"not {list(kinds)}")


def feature_sizes(kinds: Sequence[str]) -> list[int]:
    """Columns each kind adds."""
    return [MORGAN_BITS if k == "morgan" else len(descriptor_names()) for k in kinds]


def standardised_columns(kinds: Sequence[str]) -> np.ndarray:
    """``[D]`` bool: which columns the model standardises (the descriptors)."""
    return np.concatenate([np.full(n, KINDS[k]) for k, n in zip(kinds, feature_sizes(kinds))])


def _descriptors(smiles: Sequence[str]) -> np.ndarray:
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    from molgraph.chem.featurize import quiet_rdkit

    names = descriptor_names()
    out = np.full((len(smiles), len(names)), np.nan, dtype=np.float64)
    with quiet_rdkit():
        for i, smi in enumerate(smiles):
            mol = Chem.MolFromSmiles(smi)
            if mol is not None:
                values = Descriptors.CalcMolDescriptors(mol, missingVal=np.nan)
                out[i] = [values[name] for name in names]
    out[~np.isfinite(out)] = np.nan  # a descriptor RDKit cannot compute: the train mean
    return np.clip(out, -1e10, 1e10).astype(np.float32)


def molecule_features(smiles: Sequence[str], kinds: Sequence[str]) -> np.ndarray:
    """``[len(smiles), D]`` float32 raw features of valid molecules, the kinds side by side
    (NaN where a descriptor is undefined; the model reads it as the training mean)."""
    check_kinds(kinds)
    parts = [morgan_bits(smiles, 2, MORGAN_BITS).astype(np.float32) if kind == "morgan"
             else _descriptors(smiles) for kind in kinds]
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(smiles), 0), np.float32)


def standardisation(features: np.ndarray, kinds: Sequence[str]
                    ) -> tuple[list[float], list[float]]:
    """Mean and standard deviation per column of the training rows ``features``; ``(0, 1)``
    for fingerprint bits and constant columns."""
    scaled = standardised_columns(kinds)
    mean = np.zeros(features.shape[1])
    std = np.ones(features.shape[1])
    if len(features) and scaled.any():
        block = features[:, scaled].astype(np.float64)
        with warnings.catch_warnings():  # a column RDKit never computes: mean 0, std 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mean[scaled] = np.nan_to_num(np.nanmean(block, axis=0))
            spread = np.nan_to_num(np.nanstd(block, axis=0))
        std[scaled] = np.where(spread > 1e-8, spread, 1.0)
    return mean.tolist(), std.tolist()
