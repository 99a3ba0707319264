"""Several trained models scored together: the mean as the score, the spread as uncertainty.

Models trained with different seeds disagree most where the training data says least, so the
standard deviation across an ensemble is a simple, honest uncertainty (as Chemprop's ensemble
variance). All models must predict the same targets for the same task.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molgraph.chem.graphs import MolGraphs
from molgraph.inference.conformal import SET, shared_calibration
from molgraph.inference.domain import Domain
from molgraph.inference.model_dir import CONFIG, MEMBERS, WEIGHTS
from molgraph.inference.smiles import predict_smiles, smiles_similarity
from molgraph.runtime.encryption import write_json

#: written beside the members of a saved ensemble
ENSEMBLE_FILE = "ensemble.json"


def score_columns(target_names: Sequence[str], spread: bool) -> list[str]:
    """Output columns: ``<target>``; with a ``spread`` (several predictions per molecule, or a
    mean-variance head), ``<target>_mean`` and ``<target>_std``."""
    if not spread:
        return list(target_names)
    return [f"{t}_{stat}" for t in target_names for stat in ("mean", "std")]


def rank_column(target_names: Sequence[str], spread: bool, target: str | None) -> str:
    """The column that ranks molecules: the (mean) score of ``target`` (default: the first)."""
    target = target_names[0] if target is None else target
    if target not in target_names:
        raise ValueError(f"unknown target {target!r} to rank by; the models predict "
                         f"{list(target_names)}")
    return f"{target}_mean" if spread else target


def sample_count(models: Sequence) -> int:
    """How many predictions ``models`` give per molecule: one per model, or per MC dropout
    pass of a model that has them."""
    return sum(m.samples for m in models)


def member_distribution(models: Sequence, graphs: MolGraphs, batch_size: int = 256,
                        smiles: Sequence[str] | None = None, cache: dict | None = None
                        ) -> tuple[np.ndarray, np.ndarray | None]:
    """Each model's predictions (each MC dropout pass's, for a model that has them)
    ``[sample_count(models), len(graphs), n_targets]``, and their mean-variance heads'
    variances, the same shape (0 for a model without one; ``None`` when none has one).
    Molecule-level features (and fingerprints) are computed once for the models that share
    them, in ``cache`` when given (to share them with the caller)."""
    cache = {} if cache is None else cache
    outputs = [m.predict_distribution(graphs, batch_size, smiles, cache) for m in models]
    means = np.concatenate([mean for mean, _ in outputs])
    if all(v is None for _, v in outputs):
        return means, None
    return means, np.concatenate([np.zeros_like(m) if v is None else v for m, v in outputs])


def spread(means: np.ndarray, variances: np.ndarray | None) -> np.ndarray | None:
    """The predictive standard deviation ``[n, T]`` of predictions ``[K, n, T]``: by the law
    of total variance, the variance across them plus their mean-variance heads' mean variance
    (Lakshminarayanan et al. 2017); ``None`` for one prediction without a variance."""
    if variances is None and len(means) == 1:
        return None
    total = means.var(axis=0) + (0.0 if variances is None else variances.mean(axis=0))
    return np.sqrt(total)


class Ensemble:
    """One or more saved models with the same targets.

    Attributes:
        models: the loaded ``TrainedModel`` objects.
        target_names: targets, shared by all models.
        task: ``regression`` or ``classification``.
        spread: whether the models give an uncertainty (several predictions per molecule,
            or a mean-variance head): ``<target>_mean`` and ``<target>_std`` columns.
        columns: output column names (see :func:`score_columns`), then the conformal
            calibration's (``<target>_lower``/``_upper``, or ``<target>_set``) when it applies.
        domain: the molecules any of the models learned from (``None`` when one model has
            no domain).
        calibration: the conformal calibration the models share (the members of one run),
            else ``None``.
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
        self.spread = sample_count(self.models) > 1 or any(m.spread for m in self.models)
        self.columns = score_columns(self.target_names, self.spread)
        self.domain = Domain.union([m.domain for m in self.models])
        self.calibration = shared_calibration(self.models)
        if any(c.endswith(SET) for c in self.columns):  # a set column must be one of ours
            self.calibration = None
        if self.calibration is not None:
            self.columns += self.calibration.columns(self.target_names)

    @property
    def device(self):
        return self.models[0].device

    def predict(self, graphs: MolGraphs, batch_size: int = 256,
                smiles: Sequence[str] | None = None, cache: dict | None = None) -> np.ndarray:
        """Scores ``[len(graphs), len(columns)]`` float32 (mean and std across models, the
        population std, interleaved per target as in ``columns``; then the conformal bounds,
        or set codes: ``inference.conformal``). ``smiles`` (one per graph) for models with
        molecule-level features; ``cache`` as :func:`member_distribution`."""
        preds, variances = member_distribution(self.models, graphs, batch_size, smiles, cache)
        mean, std = preds.mean(axis=0), spread(preds, variances)
        out = np.empty((len(graphs), len(self.columns)), dtype=np.float32)
        step = 1 if std is None else 2
        n = step * len(self.target_names)
        out[:, 0:n:step] = mean
        if std is not None:
            out[:, 1:n:2] = std
        if self.calibration is not None:
            out[:, n:] = self.calibration.values(mean, std)
        return out


class EnsembleModel:
    """Models trained on one split from different initialisations (``--ensemble-size N``),
    saved as one directory (``members/<k>/``): predicts the members' mean, and their standard
    deviation as the uncertainty. Used wherever a single ``TrainedModel`` is.

    Attributes:
        members: the ``TrainedModel`` of each member.
        task, target_names, device, domain: shared by every member.
        samples: predictions per molecule (:func:`sample_count`).
        spread: always true (its members disagree).
    """

    def __init__(self, members: Sequence) -> None:
        Ensemble(members)  # the same targets and task, or a clear error
        self.members = list(members)
        self.task = self.members[0].task
        self.target_names = list(self.members[0].target_names)
        self.device = self.members[0].device
        self.domain = Domain.union([m.domain for m in self.members])
        self.samples = sample_count(self.members)
        self.spread = True

    def predict_distribution(self, graphs: MolGraphs, batch_size: int = 256,
                             smiles: Sequence[str] | None = None, cache: dict | None = None
                             ) -> tuple[np.ndarray, np.ndarray | None]:
        """Every member's predictions ``[samples, len(graphs), n_targets]`` and variances
        (:func:`member_distribution`)."""
        return member_distribution(self.members, graphs, batch_size, smiles, cache)

    def predict_graphs(self, graphs: MolGraphs, batch_size: int = 256,
                       smiles: Sequence[str] | None = None,
                       cache: dict | None = None) -> np.ndarray:
        """The members' mean ``[len(graphs), n_targets]`` (probabilities for classification)."""
        return self.predict_distribution(graphs, batch_size, smiles, cache)[0].mean(
            axis=0).astype(np.float32)

    def predict(self, smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Mean predictions ``[len(smiles), n_targets]``; rows of invalid SMILES are NaN."""
        return predict_smiles(self, smiles, batch_size)

    def train_similarity(self, smiles: Sequence[str]) -> np.ndarray:
        """``[len(smiles)]`` Tanimoto similarity (ECFP4) to the nearest training molecule; NaN
        for invalid SMILES, or throughout without a domain."""
        return smiles_similarity(self.domain, smiles)

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/members/<k>/`` and ``directory/ensemble.json``."""
        directory = Path(directory)
        shutil.rmtree(directory / MEMBERS, ignore_errors=True)  # no member of an earlier run
        for name in (CONFIG, WEIGHTS):  # nor a single model saved here before
            (directory / name).unlink(missing_ok=True)
        for k, member in enumerate(self.members):
            member.save(directory / MEMBERS / str(k))
        write_json(directory / ENSEMBLE_FILE, {"size": len(self.members), "task": self.task,
                                               "target_names": self.target_names})
        return directory
