"""Blend a trained GNN with the Tanimoto-kernel SVM on ECFP4 (``train``, unless ``--no-blend``).

The SVM is fitted on the training split (``C`` chosen on validation, as the baseline does); then
each target's share of the GNN, ``w`` in 0, 0.1, …, 1, is chosen on the validation split (ties
keep more GNN). With ``C`` and ``w`` chosen, the SVM is fitted again on training plus
validation molecules, as fingerprint models are usually refitted once their setting is chosen
(the GNN keeps its early-stopped weights), and the test split is scored once with that blend.
``w = 1`` is the GNN alone, ``w = 0`` the SVM alone: the run says which it chose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from molgraph.inference.blend import Blend
from molgraph.training.baseline import SVM_MAX_TRAIN, SVMFit, fit_svm, refit_svm
from molgraph.training.metrics import compute_metrics, monitored_metric

#: the GNN's share tried per target
WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)


def choose_weights(task: str, y: np.ndarray, gnn: np.ndarray, svm: np.ndarray) -> np.ndarray:
    """``[T]`` the GNN's share per target with the best validation score of
    ``w·gnn + (1 − w)·svm`` (all ``[n, T]``, NaN labels masked)."""
    metric, higher = monitored_metric(task)
    chosen = np.ones(y.shape[1])
    for t in range(y.shape[1]):
        best = None
        for w in WEIGHTS[::-1]:  # from the GNN alone down: a tie keeps more GNN
            blend = w * gnn[:, [t]] + (1.0 - w) * svm[:, [t]]
            score = compute_metrics(task, y[:, [t]], blend)[metric]
            if math.isfinite(score) and (best is None or (score > best if higher
                                                          else score < best)):
                best, chosen[t] = score, w
    return chosen


def blend_refusal(n_fit: int) -> str | None:
    """Why a run cannot blend, or ``None``: the SVM would need an ``n_fit²`` kernel matrix
    beyond the limit (``n_fit``: training plus validation molecules, what the final SVM is
    fitted on)."""
    if n_fit > SVM_MAX_TRAIN:
        return (f"the SVM's kernel is n² and {n_fit} training + validation molecules are more "
                f"than {SVM_MAX_TRAIN}")
    return None


@dataclass
class Blended:
    """What blending did to a run.

    Attributes:
        stacked: each member's blended predictions per part, ``{"val": [K, n, T], ...}``:
            validation with the SVM fitted on training molecules (what chose ``w``), test
            with the SVM refitted on training and validation molecules (the saved one).
        svm: the SVM fitted on the training split (the baseline reuses it).
        report: ``{"weights": {target: w}, "svm": {"setting", "fitted_on", "val", "test"},
            "gnn": {"val", "test"}}`` for ``metrics.json``: the GNN alone and the SVM alone,
            each part scored as it is in the blend.
    """

    stacked: dict[str, np.ndarray]
    svm: SVMFit
    report: dict[str, Any]


def blend_members(members: list, stacked: dict[str, np.ndarray], bits: np.ndarray,
                  y: np.ndarray, split: tuple[np.ndarray, np.ndarray, np.ndarray], task: str,
                  target_names: list[str], seed: int) -> Blended:
    """Fit the SVM on ``split`` (ECFP4 ``bits`` ``[n, 2048]``, labels ``y`` ``[n, T]``),
    choose the weights on the validation part of the members' mean, refit the SVM on training
    plus validation molecules, attach the blend to every member (a ``TrainedModel``), and
    return their blended predictions.

    ``stacked``: the members' GNN predictions ``{"val": [K, n_val, T], "test": ...}``.
    """
    svm = fit_svm(bits, y, split, task, seed)
    train, val, test = split
    weights = choose_weights(task, y[val], stacked["val"].mean(axis=0), svm.val)
    final = refit_svm(svm.setting, bits, y, np.concatenate([train, val]), task, seed)
    blend = Blend(final, weights)
    for member in members:
        member.blend = blend
    parts = {"val": (val, svm.val)}
    if len(test):
        parts["test"] = (test, final.predict(bits[test]))
    blended = {name: blend.combine(stacked[name], parts[name][1][None]) for name in stacked}
    report = {"weights": dict(zip(target_names, map(float, weights))),
              "svm": {"setting": svm.setting, "fitted_on": "train+val",
                      **{name: compute_metrics(task, y[idx], pred)
                         for name, (idx, pred) in parts.items()}},
              "gnn": {name: compute_metrics(task, y[idx], stacked[name].mean(axis=0))
                      for name, (idx, _) in parts.items()}}
    return Blended(blended, svm, report)
