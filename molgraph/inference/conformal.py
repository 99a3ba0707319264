"""Split conformal calibration: prediction intervals (regression), prediction sets
(classification), with a finite-sample coverage guarantee of at least ``1 − alpha``.

``molgraph train`` scores the molecules of a calibration set whose labels the weights were not
fitted on (the validation split, reused: it also chose the epoch; or ``--calibration-data``,
molecules the model never saw: ``molgraph.training.calibrate``) and keeps the scores, per
target, in the model directory. For a new molecule, the ``⌈(n + 1)(1 − alpha)⌉``-th smallest
of the ``n`` scores, ``q``, gives what ``predict``, ``screen`` and the MLflow model write:

* regression, ``<target>_lower``/``<target>_upper``: score ``|y − ŷ|``, interval ``ŷ ± q``; for
  an ensemble, locally adaptive, score ``|y − ŷ| / (σ + β)``, interval ``ŷ ± q·(σ + β)``, with
  ``σ`` the members' spread and ``β`` the calibration set's median ``σ`` (so that members that
  happen to agree do not give an empty interval);
* classification, ``<target>_set``: LAC score ``1 − p(true class)``, set ``{c: 1 − p_c ≤ q}``:
  ``{0}``, ``{1}``, ``{0,1}`` (too uncertain to tell) or ``{}`` (unlike anything calibrated).

Coverage holds on average over molecules exchangeable with the calibration set; a molecule out
of the domain (``in_domain`` false) may be covered less. Too few calibration labels for
``alpha`` (fewer than ``1/alpha − 1``) leave a target's columns empty. Saved as ``conformal.npz``
(numbers, read with ``allow_pickle=False``) and a ``config.json`` entry; a model saved before has
neither and predicts without the columns. No torch here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from molgraph.inference.model_dir import CONFORMAL_FILE
from molgraph.runtime.encryption import opened, sealed

DEFAULT_ALPHA = 0.1
#: column suffixes: regression bounds, classification sets
LOWER, UPPER, SET = "_lower", "_upper", "_set"
#: a classification set as written, by code (bit 0: class 0 in the set, bit 1: class 1)
SET_LABELS = ("{}", "{0}", "{1}", "{0,1}")
log = logging.getLogger(__name__)


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float strictly between 0 and 1, or an error naming the setting."""
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"--conformal-alpha is the miscoverage allowed, between 0 and 1 "
                         f"(0.1: 90 % intervals), not {alpha}")
    return float(alpha)


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ``⌈(n + 1)(1 − alpha)⌉``-th smallest of the finite ``scores`` ``[n]``; NaN when that
    rank exceeds ``n`` (too few scores for ``alpha``)."""
    scores = np.sort(scores[np.isfinite(scores)])
    # 1e-9: in floats (1 - 0.3) * 10 is 7.000000000000001, whose ceiling would be 8
    rank = math.ceil((len(scores) + 1) * (1.0 - alpha) - 1e-9)
    return float(scores[rank - 1]) if 0 < rank <= len(scores) else math.nan


@dataclass
class Calibration:
    """The calibration scores of a model and what they were computed from.

    Attributes:
        task: ``regression`` or ``classification``.
        scores: ``[n_calibration, T]`` nonconformity scores, NaN where a label is missing.
        alpha: the miscoverage chosen at training (prediction may ask for another).
        beta: ``[T]`` added to the members' spread before dividing (locally adaptive
            regression), or ``None`` for plain absolute residuals and for classification.
        members: how many predictions' mean was calibrated (models, or MC dropout passes);
            it applies to that prediction only.
        source: what the calibration molecules were (``validation`` or a file), for reports.
    """

    task: str
    scores: np.ndarray
    alpha: float = DEFAULT_ALPHA
    beta: np.ndarray | None = None
    members: int = 1
    source: str = "validation"

    @classmethod
    def fit(cls, task: str, y: np.ndarray, pred: np.ndarray, std: np.ndarray | None = None,
            alpha: float = DEFAULT_ALPHA, members: int = 1,
            source: str = "validation") -> Calibration:
        """Scores of predictions ``pred`` against labels ``y`` (both ``[n, T]``, NaN = no
        label; probabilities of class 1 for classification); ``std`` ``[n, T]``, the members'
        spread, makes regression intervals locally adaptive."""
        y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
        beta = None
        if task == "regression":
            scores = np.abs(y - pred)
            if std is not None:
                std = np.asarray(std, dtype=np.float64)
                beta = np.array([_median_spread(std[:, t], ~np.isnan(y[:, t]))
                                 for t in range(y.shape[1])])
                scores = scores / (std + beta)
        else:
            scores = np.where(y == 1, 1.0 - pred, pred)  # 1 − p(true class)
            scores[np.isnan(y)] = np.nan
        return cls(task, scores, check_alpha(alpha), beta, members, source)

    def quantiles(self, alpha: float | None = None) -> np.ndarray:
        """``[T]`` the conformal quantile of each target's scores (NaN: too few labels)."""
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        return np.array([conformal_quantile(self.scores[:, t], alpha)
                         for t in range(self.scores.shape[1])])

    def interval(self, pred: np.ndarray, std: np.ndarray | None = None,
                 alpha: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds, each ``[n, T]``, around ``pred`` ``[n, T]``; ``std`` (the
        members' spread) is needed by a locally adaptive calibration."""
        half = self.quantiles(alpha)[None, :]
        if self.beta is not None:
            if std is None:
                raise ValueError("this calibration scales by the ensemble's spread: give the "
                                 "members' std with the predictions")
            half = half * (np.asarray(std, dtype=np.float64) + self.beta)
        pred = np.asarray(pred, dtype=np.float64)
        return pred - half, pred + half

    def sets(self, prob: np.ndarray, alpha: float | None = None) -> np.ndarray:
        """``[n, T]`` set codes (see :data:`SET_LABELS`) for class-1 probabilities ``prob``
        ``[n, T]``; -1 where ``prob`` is NaN or the quantile unknown."""
        q = self.quantiles(alpha)[None, :]
        prob = np.asarray(prob, dtype=np.float64)
        codes = (prob <= q).astype(np.int8) + 2 * (1.0 - prob <= q).astype(np.int8)
        return np.where(np.isnan(prob) | np.isnan(q), -1, codes).astype(np.int8)

    def columns(self, target_names: Sequence[str]) -> list[str]:
        """The output columns: ``<target>_lower``, ``<target>_upper`` per target (regression),
        ``<target>_set`` (classification)."""
        suffixes = (LOWER, UPPER) if self.task == "regression" else (SET,)
        return [f"{name}{suffix}" for name in target_names for suffix in suffixes]

    def values(self, pred: np.ndarray, std: np.ndarray | None = None,
               alpha: float | None = None) -> np.ndarray:
        """``[n, len(columns)]`` float64, in :meth:`columns` order: the bounds, or set codes
        (NaN where unknown; :func:`set_labels` writes them)."""
        if self.task == "regression":
            lower, upper = self.interval(pred, std, alpha)
            return np.stack([lower, upper], axis=2).reshape(len(lower), -1)
        codes = self.sets(pred, alpha).astype(np.float64)
        return np.where(codes < 0, np.nan, codes)

    def output(self, target_names: Sequence[str], pred: np.ndarray,
               std: np.ndarray | None = None, alpha: float | None = None
               ) -> dict[str, np.ndarray]:
        """The columns ``predict`` writes, by name: float32 bounds, or sets as text."""
        values = self.values(pred, std, alpha)
        return {name: set_labels(values[:, k]) if self.task == "classification"
                else values[:, k].astype(np.float32)
                for k, name in enumerate(self.columns(target_names))}

    def save(self, directory: Path) -> dict[str, Any]:
        """Write ``conformal.npz`` into ``directory``; the entry for ``config.json``."""
        with sealed(directory / CONFORMAL_FILE) as target:
            np.savez_compressed(target, scores=self.scores,
                                beta=np.array([]) if self.beta is None else self.beta)
        score = ("absolute residual" if self.beta is None else "residual / (std + beta)") \
            if self.task == "regression" else "LAC: 1 - p(true class)"
        return {"file": CONFORMAL_FILE, "alpha": self.alpha, "score": score,
                "members": self.members, "source": self.source,
                "labels": [int(n) for n in np.isfinite(self.scores).sum(axis=0)]}

    @classmethod
    def load(cls, directory: Path, entry: dict, task: str) -> Calibration:
        """The calibration a model's ``config.json`` ``entry`` describes, read from
        ``directory``; a damaged file or entry is an error naming it."""
        path = directory / CONFORMAL_FILE
        source = opened(path)
        try:
            alpha, members = check_alpha(entry["alpha"]), int(entry["members"])
            with np.load(source, allow_pickle=False) as data:
                scores, beta = data["scores"].astype(np.float64), data["beta"]
        except (OSError, KeyError, TypeError, ValueError, EOFError) as err:
            raise ValueError(f"{path}: not readable as the model's conformal calibration "
                             f"({err}); copy the model directory again or retrain") from err
        if scores.ndim != 2 or (beta.size and beta.shape != (scores.shape[1],)):
            raise ValueError(f"{path}: the calibration's arrays do not fit together; copy the "
                             "model directory again or retrain")
        return cls(task, scores, alpha, beta if beta.size else None, members,
                   str(entry.get("source", "validation")))

    def same(self, other: Calibration | None) -> bool:
        """Whether ``other`` holds the same calibration (the members of one run share it)."""
        return other is self or (other is not None and other.members == self.members
                                 and np.array_equal(other.scores, self.scores, equal_nan=True))


def _median_spread(std: np.ndarray, labelled: np.ndarray) -> float:
    """``beta`` of one target: the median spread ``std`` ``[n]`` over the ``labelled`` rows;
    1 (absolute residuals, in effect) where it is 0 or unknown."""
    median = float(np.median(std[labelled])) if labelled.any() else math.nan
    return median if math.isfinite(median) and median > 0 else 1.0


def shared_calibration(models: Sequence[Any]) -> Calibration | None:
    """The calibration that applies to the mean of ``models``: the one they all hold, fitted
    on as many predictions per molecule (models, or MC dropout passes); ``None`` otherwise
    (a model saved before calibrations, or models from different runs scored together)."""
    first = getattr(models[0], "calibration", None) if models else None
    if first is None or first.members != sum(getattr(m, "samples", 1) for m in models):
        return None
    return first if all(first.same(getattr(m, "calibration", None)) for m in models) else None


def model_calibration(trained: Any) -> Calibration | None:
    """The calibration of a ``TrainedModel`` or an ``EnsembleModel`` (its members')."""
    return shared_calibration(getattr(trained, "members", None) or [trained])


def conformal_columns(trained: Any) -> list[str]:
    """The conformal columns the predictions of ``trained`` carry (none without a
    calibration)."""
    calibration = model_calibration(trained)
    return [] if calibration is None else calibration.columns(trained.target_names)


def set_labels(codes: np.ndarray) -> np.ndarray:
    """``[n]`` object array of set codes written as ``{0}``, ``{1}``, ``{0,1}``, ``{}``; an
    empty string where the code is NaN (an invalid row, or no quantile)."""
    codes = np.asarray(codes, dtype=np.float64)
    out = np.full(len(codes), "", dtype=object)
    known = ~np.isnan(codes)
    out[known] = np.asarray(SET_LABELS, dtype=object)[codes[known].astype(int)]
    return out
