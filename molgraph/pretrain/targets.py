"""The pretraining targets: RDKit's 2D descriptors of each molecule, made learnable.

Raw descriptors span many orders of magnitude (Ipc reaches 1e30, BertzCT thousands), so a
column whose absolute values exceed ``LOG_ABOVE`` somewhere is first taken as
``sign(x)·log1p(|x|)``; then every column is standardised on the library's training
molecules and clipped at ``CLIP`` standard deviations, and constant columns are dropped. An
undefined descriptor is NaN: no loss, as a masked one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from molgraph.chem.molfeatures import descriptor_names

LOG_ABOVE = 100.0
CLIP = 6.0


@dataclass
class DescriptorScaling:
    """How raw descriptors become targets: the columns kept, which are log-transformed, and
    the mean and standard deviation subtracted and divided by (after the transform)."""

    names: list[str]
    logged: list[bool]
    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, raw: np.ndarray, train: np.ndarray) -> DescriptorScaling:
        """Fitted on the rows ``train`` of ``raw`` ``[M, D]`` (all RDKit descriptors)."""
        names = descriptor_names()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            block = raw[train].astype(np.float64)
            logged = np.nanmax(np.abs(block), axis=0) > LOG_ABOVE
            block = _transform(block, logged)
            mean, std = np.nanmean(block, axis=0), np.nanstd(block, axis=0)
        keep = np.isfinite(mean) & np.isfinite(std) & (std > 1e-6)
        return cls([n for n, k in zip(names, keep) if k], logged[keep].tolist(),
                   mean[keep].tolist(), std[keep].tolist())

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """``[M, len(names)]`` float32 targets from all raw descriptors ``[M, D]``."""
        position = {name: i for i, name in enumerate(descriptor_names())}
        index = [position[n] for n in self.names]
        block = _transform(raw[:, index].astype(np.float64), np.asarray(self.logged))
        z = (block - np.asarray(self.mean)) / np.asarray(self.std)
        return np.clip(z, -CLIP, CLIP).astype(np.float32)  # NaN stays NaN


def _transform(block: np.ndarray, logged: np.ndarray) -> np.ndarray:
    out = block.copy()
    out[:, logged] = np.sign(block[:, logged]) * np.log1p(np.abs(block[:, logged]))
    out[~np.isfinite(out)] = np.nan
    return out


def masked(targets: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``targets`` with a random ``fraction`` of the entries hidden (NaN): no loss on them.
    Each molecule is seen once an epoch, so one mask an epoch is a fresh mask at each step."""
    if fraction == 0:
        return targets
    out = targets.copy()
    out[rng.random(targets.shape) < fraction] = np.nan
    return out
