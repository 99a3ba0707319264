"""Several trained models scored together: the mean as the score, the spread as uncertainty.

Models trained with different seeds disagree most where the training data says least, so the
standard deviation across an ensemble is a simple, honest uncertainty (as Chemprop's ensemble
variance). All models must predict the same targets for the same task.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molgraph.chem.graphs import MolGraphs


def score_columns(target_names: Sequence[str], n_models: int) -> list[str]:
    """Output columns: ``<target>`` for one model; ``<target>_mean``, ``<target>_std`` for more."""
    if n_models == 1:
        return list(target_names)
    return [f"{t}_{stat}" for t in target_names for stat in ("mean", "std")]


def rank_column(target_names: Sequence[str], n_models: int, target: str | None) -> str:
    """The column that ranks molecules: the (mean) score of ``target`` (default: the first)."""
    target = target_names[0] if target is None else target
    if target not in target_names:
        raise ValueError(f"unknown target {target!r} to rank by; the models predict "
                         f"{list(target_names)}")
    return target if n_models == 1 else f"{target}_mean"


class Ensemble:
    """One or more saved models with the same targets.

    Attributes:
        models: the loaded ``TrainedModel`` objects.
        target_names: targets, shared by all models.
        task: ``regression`` or ``classification``.
        columns: output column names (see :func:`score_columns`).
    """

    def __init__(self, models: Sequence) -> None:
        if not models:
            raise ValueError("screening needs at least one model")
        first = models[0]
        for other in models[1:]:
            if other.target_names != first.target_names or other.task != first.task:
                raise ValueError(
                    f"the models of an ensemble must predict the same targets for the same task: "
                    f"{first.task} {first.target_names} vs {other.task} {other.target_names}")
        self.models = list(models)
        self.target_names = list(first.target_names)
        self.task = first.task
        self.columns = score_columns(self.target_names, len(self.models))

    @classmethod
    def load(cls, directories: Sequence[str | Path], device: str = "auto",
             precision: str = "fp32") -> Ensemble:
        # imported here: this module is read by processes (and a CLI) that never load torch
        from molgraph.inference.artifact import load_model

        return cls([load_model(d, device, precision) for d in directories])

    @property
    def device(self):
        return self.models[0].device

    def predict(self, graphs: MolGraphs, batch_size: int = 256) -> np.ndarray:
        """Scores ``[len(graphs), len(columns)]`` float32 (mean and std across models, the
        population std, interleaved per target as in ``columns``)."""
        preds = np.stack([m.predict_graphs(graphs, batch_size) for m in self.models])
        if len(self.models) == 1:
            return preds[0].astype(np.float32)
        out = np.empty((len(graphs), 2 * len(self.target_names)), dtype=np.float32)
        out[:, 0::2] = preds.mean(axis=0)
        out[:, 1::2] = preds.std(axis=0)
        return out
