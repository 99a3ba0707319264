"""A classical baseline beside every model: ECFP4 fingerprints with a random forest and an SVM,
fitted on exactly the same train/validation/test split.

On activity data a fingerprint model is often as good as a GNN (MoleculeACE: SVM on ECFP,
mean test RMSE 0.671 over 30 ChEMBL sets, against 0.914 for GCN), so a run reports its own
baseline and the difference. Each family tries a few settings and keeps the one with the best
validation score; the family reported as ``best`` is also chosen on validation, so the test
set is scored once per family. Multi-task labels: one model per task on the rows that have
that label (missing labels are masked, never imputed).

- Random forest (scikit-learn): 300 trees, ``max_features`` ∈ {sqrt, 0.3} for regression
  (0.3 ≈ Breiman's p/3) and {sqrt, log2} for classification. On ECFP bits 0.3 never won
  validation in classification (Tox21, BBBP, BACE) and cost 10–30× more: an hour of one
  thread for Tox21's 12 tasks, against about five minutes now.
- SVM with the Tanimoto kernel on the bits (as MoleculeACE's SVM), ``C`` ∈ {0.1, 1, 10}:
  SVR on standardised labels, or SVC whose decision values pass through a sigmoid (a score
  in (0, 1) for ROC-AUC; 0.5 is the decision boundary). The kernel matrix is
  ``n_train × n_train``: beyond ``SVM_MAX_TRAIN`` training molecules the SVM is left out
  and the result says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from molgraph.chem.fingerprints import morgan_bits, tanimoto_kernel
from molgraph.inference.blend import TanimotoSVM
from molgraph.runtime.progress import duration
from molgraph.training.metrics import compute_metrics, monitored_metric

log = logging.getLogger(__name__)
FEATURES = "ECFP4 (Morgan radius 2, 2048 bits)"
SVM_MAX_TRAIN = 10_000
RF_SETTINGS: dict[str, tuple[dict[str, Any], ...]] = {
    "regression": ({"max_features": "sqrt"}, {"max_features": 0.3}),
    "classification": ({"max_features": "sqrt"}, {"max_features": "log2"})}
SVM_SETTINGS: tuple[dict[str, Any], ...] = ({"C": 0.1}, {"C": 1.0}, {"C": 10.0})


@dataclass
class SVMFit:
    """The SVM family fitted on one split, its setting chosen on validation.

    Attributes:
        setting: the chosen ``C``.
        val, test: ``[len(val), T]`` and ``[len(test), T]`` predictions in label units
            (classification: sigmoid of the decision value).
        model: the fitted kernel models, the part a blended model saves.
    """

    setting: dict[str, Any]
    val: np.ndarray
    test: np.ndarray
    model: TanimotoSVM


def _fit_svm_tasks(setting: dict[str, Any], task: str, gram: np.ndarray, y: np.ndarray,
                   bits: np.ndarray, seed: int) -> TanimotoSVM:
    """Kernel models for every target from the training Gram matrix ``[n, n]`` and labels
    ``y`` ``[n, T]`` (NaN = missing: each target uses its labelled rows)."""
    from sklearn.svm import SVC, SVR

    n, n_targets = y.shape
    coef = np.zeros((n, n_targets))
    intercept, mean, std = np.zeros(n_targets), np.zeros(n_targets), np.ones(n_targets)
    constant = np.full(n_targets, np.nan)
    for t in range(n_targets):
        rows = np.flatnonzero(~np.isnan(y[:, t]))
        labels = y[rows, t]
        if len(rows) < 2 or len(np.unique(labels)) < 2:  # nothing to fit: the labels' mean
            constant[t] = float(labels.mean()) if len(rows) else np.nan
            continue
        kernel = gram[np.ix_(rows, rows)]
        if task == "regression":
            mean[t], std[t] = labels.mean(), labels.std() or 1.0
            model = SVR(kernel="precomputed", **setting).fit(kernel, (labels - mean[t]) / std[t])
        else:
            model = SVC(kernel="precomputed", random_state=seed, **setting).fit(kernel, labels)
            if list(model.classes_) != [0.0, 1.0]:
                raise ValueError(f"classification labels must be 0/1, not {model.classes_}")
        coef[rows[model.support_], t] = model.dual_coef_[0]
        intercept[t] = model.intercept_[0]
    return TanimotoSVM(task, bits, coef, intercept, mean, std, constant)


def fit_svm(bits: np.ndarray, y: np.ndarray, split: tuple[np.ndarray, np.ndarray, np.ndarray],
            task: str, seed: int = 0) -> SVMFit:
    """The Tanimoto-kernel SVM on ECFP4 ``bits`` ``[n, 2048]`` and labels ``y`` ``[n, T]``,
    trained on ``split[0]``, ``C`` chosen on ``split[1]``, scored on both held-out parts."""
    train, val, test = (np.asarray(part) for part in split)
    metric, higher = monitored_metric(task)
    gram = tanimoto_kernel(bits[train], bits[train])
    cross = tanimoto_kernel(bits[np.concatenate([val, test])], bits[train])
    best, best_score = None, None
    for setting in SVM_SETTINGS:
        model = _fit_svm_tasks(setting, task, gram, y[train], bits[train], seed)
        pred = model.predict_kernel(cross)
        score = compute_metrics(task, y[val], pred[:len(val)])[metric]
        if best is None or _better(score, best_score, higher):
            best, best_score = SVMFit(setting, pred[:len(val)], pred[len(val):],
                                      model.compact()), score
    return best


def refit_svm(setting: dict[str, Any], bits: np.ndarray, y: np.ndarray, rows: np.ndarray,
              task: str, seed: int = 0) -> TanimotoSVM:
    """The SVM with a chosen ``setting`` fitted again on ``rows`` (a blend's training and
    validation molecules, once validation has chosen ``C`` and the weights)."""
    gram = tanimoto_kernel(bits[rows], bits[rows])
    return _fit_svm_tasks(setting, task, gram, y[rows], bits[rows], seed).compact()


def fit_forest(setting: dict[str, Any], task: str, bits: np.ndarray, y: np.ndarray,
                train: np.ndarray, evaluate: np.ndarray, seed: int, threads: int) -> np.ndarray:
    """``[len(evaluate), T]`` random-forest predictions, one forest per target on its
    labelled training rows."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    out = np.full((len(evaluate), y.shape[1]), np.nan)
    for t in range(y.shape[1]):
        rows = train[~np.isnan(y[train, t])]
        if len(rows) < 2:
            continue
        if task == "classification" and len(np.unique(y[rows, t])) < 2:  # one class: its rate
            out[:, t] = float(y[rows, t].mean())
            continue
        kind = RandomForestRegressor if task == "regression" else RandomForestClassifier
        model = kind(n_estimators=300, random_state=seed, n_jobs=threads, **setting)
        model.fit(bits[rows], y[rows, t])
        if task == "regression":
            out[:, t] = model.predict(bits[evaluate])
        else:
            out[:, t] = model.predict_proba(bits[evaluate])[:, list(model.classes_).index(1.0)]
    return out


def _better(score: float, best: float | None, higher: bool) -> bool:
    if not math.isfinite(score):
        return False
    return best is None or (score > best if higher else score < best)


def fit_baselines(smiles: Sequence[str], y: np.ndarray,
                  split: tuple[np.ndarray, np.ndarray, np.ndarray], task: str, seed: int = 0,
                  threads: int = 1, svm: SVMFit | None = None) -> dict[str, Any]:
    """Fit the ECFP baselines on ``split`` (indices into ``smiles`` and ``y`` ``[n, T]``,
    NaN = missing) and score them on validation and test; ``svm``: the SVM family already
    fitted on this split (a blended run's), not fitted again.

    Returns ``{"features", "best", "val", "test", "models": {"rf": {"setting", "val",
    "test"}, "svm": {...}}, "seconds"}``: ``val``/``test`` are the metrics of the family
    with the better validation score; a family left out has ``{"skipped": why}``.
    """
    started = time.perf_counter()
    train, val, test = (np.asarray(part) for part in split)
    metric, higher = monitored_metric(task)
    svm_how = "SVM" if svm is None else "SVM (the blend's)"
    if svm is None and len(train) > SVM_MAX_TRAIN:
        svm_how = f"no SVM (more than {SVM_MAX_TRAIN:,} training molecules)"
    log.info("fitting ECFP4 baselines on %s training molecules: random forest, %s …",
             f"{len(train):,}", svm_how)
    bits = morgan_bits(smiles)
    evaluate = np.concatenate([val, test])
    result: dict[str, Any] = {"features": FEATURES, "models": {}}
    best = None
    for setting in RF_SETTINGS[task]:
        pred = fit_forest(setting, task, bits, y, train, evaluate, seed, threads)
        scores = {"val": compute_metrics(task, y[val], pred[:len(val)]),
                  "test": compute_metrics(task, y[test], pred[len(val):])}
        if best is None or _better(scores["val"][metric], best[1]["val"][metric], higher):
            best = (setting, scores)
    result["models"]["rf"] = {"setting": best[0], **best[1]}
    if svm is None and len(train) <= SVM_MAX_TRAIN:
        svm = fit_svm(bits, y, split, task, seed)
    if svm is None:
        result["models"]["svm"] = {"skipped": f"more than {SVM_MAX_TRAIN} training "
                                              "molecules (the kernel matrix is n²)"}
    else:
        result["models"]["svm"] = {"setting": svm.setting,
                                   "val": compute_metrics(task, y[val], svm.val),
                                   "test": compute_metrics(task, y[test], svm.test)}
    chosen, chosen_score = None, None
    for family, scores in result["models"].items():
        if "val" in scores and (chosen is None or _better(scores["val"][metric], chosen_score,
                                                          higher)):
            chosen, chosen_score = family, scores["val"][metric]
    result["best"] = chosen
    result["val"] = result["models"][chosen]["val"]
    result["test"] = result["models"][chosen]["test"]
    seconds = time.perf_counter() - started
    result["seconds"] = round(seconds, 1)
    log.info("baseline %s on %s: test %s = %.4f (validation %.4f); baselines fitted in %s",
             chosen, FEATURES, metric, result["test"][metric], result["val"][metric],
             duration(seconds))
    return result
