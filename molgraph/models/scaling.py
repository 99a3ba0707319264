"""Per-task standardisation of regression targets: fitted on the training split, saved with the
model, inverted on every prediction so outputs are in label units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scaler:
    """Per-task mean and standard deviation (identity for classification).

    Shapes: ``y`` is ``[n_molecules, n_tasks]`` with NaN for missing labels.
    """

    mean: list[float]
    std: list[float]

    @staticmethod
    def fit(y: np.ndarray, task: str) -> Scaler:
        if task != "regression":
            return Scaler([0.0] * y.shape[1], [1.0] * y.shape[1])
        if len(y) == 0 or np.isnan(y).all(axis=0).any():
            raise ValueError("cannot scale targets without labels: every task needs at least "
                             "one labelled training molecule")
        mean = np.nanmean(y, axis=0)
        std = np.nanstd(y, axis=0)
        return Scaler(mean.tolist(), np.where(std > 0, std, 1.0).tolist())

    def check(self) -> Scaler:
        """Refuse a scaling that is not finite: its predictions would all be NaN."""
        if not np.isfinite([*self.mean, *self.std]).all():
            raise ValueError(f"target scaling is not finite (mean {self.mean}, std {self.std})")
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        return (y - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return y * np.asarray(self.std, dtype=np.float32) + np.asarray(self.mean, np.float32)
