"""A run's conformal calibration, and how well its uncertainty holds on the test molecules.

:func:`fit_calibration` scores what the run predicts after the blend (the blend's prediction is
what is calibrated; an ensemble's mean, scaled by its spread) on the calibration molecules:

* by default the validation split. It also chose the epoch (and a blend's weights), so it is
  not quite unseen and the intervals may come out a little narrow; and the blend's validation
  predictions are those of the SVM fitted on the training split, while the saved SVM is
  refitted on training and validation molecules (the same, or better, on new molecules).
* with ``--calibration-data FILE``, a labelled file the model never saw, predicted by the saved
  model itself: the clean calibration, at the cost of labels not trained on.

:func:`uncertainty_report` is ``metrics.json``'s ``"uncertainty"``: the conformal intervals'
coverage and mean width (sets: coverage and mean size) on test, and for an ensemble how well its
spread ranks and sizes the errors (Spearman correlation of spread with absolute error;
miscalibration area of the Gaussian intervals ``ŷ ± z·σ``, regression).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from molgraph.data.dataset import load_dataset
from molgraph.inference.conformal import Calibration
from molgraph.inference.ensemble import member_distribution, spread
from molgraph.training.config import RunConfig
from molgraph.training.metrics import _with_means

log = logging.getLogger(__name__)
#: expected coverages at which the Gaussian intervals of the spread are checked
LEVELS = np.linspace(0.0, 1.0, 101)


def fit_calibration(config: RunConfig, members: Sequence, y_val: np.ndarray,
                    stacked_val: np.ndarray, variances_val: np.ndarray | None) -> Calibration:
    """The calibration of ``members`` (``TrainedModel``, blends attached) on
    ``config.data.calibration_data`` when given, else on the validation labels ``y_val``
    ``[n, T]`` and the members' predictions there, ``stacked_val`` ``[K, n, T]``, with their
    mean-variance heads' variances ``variances_val`` (``None`` without)."""
    source = config.data.calibration_data
    if source:
        data = config.data
        found = load_dataset(source, data.smiles_column, data.target_columns,
                             cache_dir=True if data.cache else None, delimiter=data.delimiter,
                             task=config.task)
        if len(found.graphs) == 0:
            raise ValueError(f"{source}: no valid molecule to calibrate on (--calibration-data)")
        y = found.y
        stacked, variances = member_distribution(members, found.graphs, smiles=found.smiles)
    else:
        y, stacked, variances = y_val, stacked_val, variances_val
    std = spread(stacked, variances)
    calibration = Calibration.fit(config.task, y, stacked.mean(axis=0), std,
                                  config.conformal_alpha, len(stacked), source or "validation")
    names = members[0].target_names
    for name, q, n in zip(names, calibration.quantiles(), np.isfinite(calibration.scores).sum(0)):
        if np.isnan(q):
            log.warning("target %s: %d calibration labels (%s) are too few for "
                        "--conformal-alpha %s; its intervals (sets) stay empty: give more labelled "
                        "molecules (--calibration-data) or a larger alpha", name, n,
                        source or "validation", config.conformal_alpha)
    log.info("conformal calibration on %s (%d molecules), alpha %s", source or "validation",
             len(y), config.conformal_alpha)
    return calibration


def uncertainty_report(calibration: Calibration, y: np.ndarray, pred: np.ndarray,
                       std: np.ndarray | None) -> dict:
    """``metrics.json``'s ``"uncertainty"`` on test labels ``y`` and predictions ``pred``
    (``[n, T]``; ``std`` the members' spread, ensembles): ``"conformal"`` (alpha, source,
    ``test`` coverage and width or set size, per target ``_<i>`` and averaged) and, with
    ``std``, ``"spread"`` (``test`` Spearman correlation and miscalibration area)."""
    labelled = ~np.isnan(y)
    per_target: dict[str, float] = {}
    if calibration.task == "regression":
        lower, upper = calibration.interval(pred, std)
        covered, size, size_name = (lower <= y) & (y <= upper), upper - lower, "mean_width"
    else:
        codes = calibration.sets(pred)
        has = np.where(y == 1, codes >= 2, codes % 2 == 1)  # bit 1: class 1, bit 0: class 0
        covered, size, size_name = has, (codes % 2) + (codes >= 2), "mean_set_size"
    known = labelled & np.isfinite(calibration.quantiles())[None, :]
    for t in range(y.shape[1]):
        rows = known[:, t]
        per_target[f"coverage_{t}"] = float(covered[rows, t].mean()) if rows.any() else np.nan
        per_target[f"{size_name}_{t}"] = float(size[rows, t].mean()) if rows.any() else np.nan
    report = {"conformal": {
        "alpha": calibration.alpha, "calibrated_on": calibration.source,
        "n_calibration": [int(n) for n in np.isfinite(calibration.scores).sum(axis=0)],
        "locally_adaptive": calibration.beta is not None,
        "test": _with_means(per_target, ("coverage", size_name), y.shape[1])}}
    if std is not None:
        report["spread"] = {"test": spread_metrics(calibration.task, y, pred, std)}
    return report


def spread_metrics(task: str, y: np.ndarray, pred: np.ndarray, std: np.ndarray
                   ) -> dict[str, float]:
    """How well an uncertainty ``std`` ``[n, T]`` tells the errors of ``pred`` from labels
    ``y`` (NaN = none): ``spearman`` (of ``std`` with ``|y − pred|``) and, for regression,
    ``miscalibration_area`` (area between the observed coverage of ``pred ± z·std`` and the
    coverage the normal distribution promises, over 0-100 %; 0 is perfect, 0.5 the worst),
    per target ``_<i>`` and averaged."""
    out: dict[str, float] = {}
    for t in range(y.shape[1]):
        rows = ~np.isnan(y[:, t])
        error, spread = np.abs(y[rows, t] - pred[rows, t]), std[rows, t]
        out[f"spearman_{t}"] = spearman(spread, error)
        if task == "regression":
            out[f"miscalibration_area_{t}"] = miscalibration_area(error, spread)
    names = ("spearman", "miscalibration_area") if task == "regression" else ("spearman",)
    return _with_means(out, names, y.shape[1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of ``a`` and ``b`` ``[n]``; NaN when either is constant
    (an ensemble whose members agree everywhere, a blend that kept the SVM alone)."""
    ranks = [pd.Series(v).rank().to_numpy() for v in (a, b)]
    if len(a) < 2 or min(r.std() for r in ranks) == 0:
        return np.nan
    return float(np.corrcoef(*ranks)[0, 1])


def miscalibration_area(error: np.ndarray, std: np.ndarray) -> float:
    """Area between observed and expected coverage of Gaussian intervals (``error`` and
    ``std`` ``[n]``): the mean over :data:`LEVELS` of ``|P(|e| ≤ z_p·σ) − p|``."""
    if len(error) == 0:
        return np.nan
    z = np.array([NormalDist().inv_cdf((1 + p) / 2) if p < 1 else np.inf for p in LEVELS])
    with np.errstate(invalid="ignore"):
        bound = z[:, None] * std[None, :]
    observed = (error[None, :] <= np.where(np.isnan(bound), np.inf, bound)).mean(axis=1)
    gap = np.abs(observed - LEVELS)
    return float(np.sum((gap[1:] + gap[:-1]) / 2) * (LEVELS[1] - LEVELS[0]))

