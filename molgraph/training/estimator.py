"""molgraph models as scikit-learn estimators: ``fit(smiles, y)``, ``predict(smiles)``.

Every setting is a keyword of ``__init__`` stored unchanged, so ``get_params``/``set_params``,
``clone``, ``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` work; ``fit`` trains with
:func:`molgraph.train` on the SMILES and labels given, holding out ``val_size`` of them (by
``split``) to choose the epoch and the blend weight, and with no test part (the caller's
cross-validation is the test). Learned state ends in ``_``: ``model_`` (the trained model),
``run_`` (the :class:`~molgraph.training.job.TrainRun`).

Example::

    from sklearn.model_selection import cross_val_score
    from molgraph import MolGraphRegressor
    scores = cross_val_score(MolGraphRegressor(epochs=30), smiles, y, cv=5,
                             scoring="neg_root_mean_squared_error")

An invalid SMILES is left out of training (and reported); its prediction is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

#: keyword → the run setting it sets (dotted name)
SETTINGS = {"model": "model.name", "hidden_channels": "model.hidden_channels",
            "num_layers": "model.num_layers", "dropout": "model.dropout",
            "pooling": "model.pooling", "molecule_features": "model.molecule_features",
            "epochs": "train.epochs", "batch_size": "train.batch_size", "lr": "train.lr",
            "weight_decay": "train.weight_decay", "patience": "train.patience",
            "device": "train.device", "threads": "train.threads", "split": "split",
            "seed": "seed", "blend": "blend", "ensemble_size": "ensemble_size"}


def _smiles(X: Any) -> list[str]:
    """SMILES from ``X``: a list, Series, ``[n]`` or ``[n, 1]`` array, or one-column frame."""
    if hasattr(X, "columns"):
        if X.shape[1] != 1:
            raise ValueError(f"X must hold one column of SMILES, not {X.shape[1]} columns")
        X = X.iloc[:, 0]
    values = np.asarray(X, dtype=object)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"X must be one SMILES per sample, not an array of shape "
                         f"{values.shape}")
    return ["" if s is None else str(s) for s in values]


class _MolGraphEstimator(BaseEstimator):
    """What the regressor and the classifier share; ``_task`` tells them apart."""

    _task = "regression"

    def __init__(self, model: str = "dmpnn", hidden_channels: int = 300, num_layers: int = 3,
                 dropout: float = 0.0, pooling: str = "mean",
                 molecule_features: tuple[str, ...] = (), epochs: int = 50,
                 batch_size: int = 50, lr: float = 1e-3, weight_decay: float = 0.0,
                 patience: int = 20, blend: bool = True, ensemble_size: int = 1,
                 split: str = "random", val_size: float = 0.1, seed: int = 0,
                 device: str = "auto", threads: int | None = None,
                 progress: bool | None = False) -> None:
        self.model = model
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.pooling = pooling
        self.molecule_features = molecule_features
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.blend = blend
        self.ensemble_size = ensemble_size
        self.split = split
        self.val_size = val_size
        self.seed = seed
        self.device = device
        self.threads = threads
        self.progress = progress

    def fit(self, X: Any, y: Any) -> _MolGraphEstimator:
        """Train on SMILES ``X`` and labels ``y`` (``[n]`` or ``[n, T]``, NaN = missing)."""
        from molgraph.training.api import train

        labels = np.asarray(y, dtype=np.float64)
        self.n_outputs_ = 1 if labels.ndim == 1 else labels.shape[1]
        settings = {dotted: getattr(self, name) for name, dotted in SETTINGS.items()}
        settings["model.molecule_features"] = list(self.molecule_features)
        settings["split_sizes"] = (1.0 - self.val_size, self.val_size, 0.0)
        self.run_ = train(_smiles(X), y=labels, task=self._task, baseline=False,
                          progress=self.progress, cache_dir=False, **settings)
        self.model_ = self.run_.model
        return self

    def _predict(self, X: Any) -> np.ndarray:
        """``[n, T]`` predictions (probabilities for classification); NaN for invalid rows."""
        if not hasattr(self, "model_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return self.model_.predict(_smiles(X))


class MolGraphRegressor(RegressorMixin, _MolGraphEstimator):
    """A molgraph GNN (blended with an SVM on ECFP4 where validation says so) as a
    scikit-learn regressor; ``X`` is SMILES."""

    def predict(self, X: Any) -> np.ndarray:
        """``[n]`` predictions for one target, ``[n, T]`` for several."""
        pred = self._predict(X)
        return pred[:, 0] if self.n_outputs_ == 1 else pred


class MolGraphClassifier(ClassifierMixin, _MolGraphEstimator):
    """A molgraph GNN as a scikit-learn binary classifier (labels 0/1); ``X`` is SMILES."""

    _task = "classification"

    def fit(self, X: Any, y: Any) -> MolGraphClassifier:
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise ValueError("MolGraphClassifier takes one binary target; for several, use "
                             "molgraph.train with task='classification'")
        self.classes_ = np.unique(labels[~np.isnan(labels.astype(float))])
        return super().fit(X, labels)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[n, 2]`` probabilities of class 0 and class 1."""
        p = self._predict(X)[:, 0]
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Class 1 where its probability is at least 0.5 (NaN rows: class 0)."""
        return np.where(self.predict_proba(X)[:, 1] >= 0.5, 1, 0)
