"""Membership-inference scores from a target's and its shadow models' predictions (pure numpy).

Two attacks of the likelihood-ratio family, both "online" (the shadow, or reference, models
are trained with each molecule in for about half of them and out for the rest):

- **LiRA** (Carlini et al., "Membership inference attacks from first principles", IEEE S&P
  2022): per molecule and target, a Gaussian of the statistic over the shadows that trained
  on the molecule (in) and one over those that did not (out); the score is the log-likelihood
  ratio ``log N(s; μ_in, σ_in²) − log N(s; μ_out, σ_out²)`` of the target's statistic ``s``,
  summed over the molecule's labelled targets. With fewer than ``PER_MOLECULE_VARIANCE``
  shadows one variance per target is used, that of all the in (out) values of every molecule
  (the paper's "fixed variance"): a per-molecule variance from four values is noise, and from
  one (two shadows) none.
- **RMIA** (Zarifzadeh et al., "Low-cost high-power membership inference attacks", ICML 2024):
  the ratio ``p(x|θ) / p(x)`` of the target's likelihood of the molecule's label to its mean
  over the reference models, compared with the same ratio of every other population molecule
  ``z``; the score is the fraction of ``z`` it beats by a factor ``γ``.

Statistics (:func:`statistics`): classification, the logit of the probability given to the
true label, ``log p − log(1 − p)`` (the paper's scaling, which makes it near Gaussian);
regression, the prediction itself, whose in and out Gaussians sit around the label and away
from it. A missing label is left out of a molecule's sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: shadows from which LiRA fits a variance per molecule (Carlini et al.: pooled below 64)
PER_MOLECULE_VARIANCE = 64
#: probabilities are clipped to [EPS, 1 − EPS] before the logit (a forest gives 0 and 1)
EPS = 1e-6
#: the false-positive rates the audit reports the true-positive rate at
FPRS = (0.001, 0.01)


def statistics(predictions: np.ndarray, labels: np.ndarray, task: str) -> np.ndarray:
    """The per-molecule statistic, ``[..., n, T]`` from predictions of the same shape
    (probabilities for classification) and labels ``[n, T]`` (NaN = missing, kept NaN)."""
    if task == "regression":
        return np.where(np.isnan(labels), np.nan, predictions).astype(np.float64)
    p = np.clip(predictions.astype(np.float64), EPS, 1 - EPS)
    p_true = np.where(labels == 1, p, 1 - p)
    return np.where(np.isnan(labels), np.nan, np.log(p_true) - np.log1p(-p_true))


def _gaussians(stats: np.ndarray, chosen: np.ndarray, pooled: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[n, T]`` and standard deviation of ``stats`` ``[K, n, T]`` over the shadows
    ``chosen`` ``[K, n]`` (the mean is NaN for a molecule no chosen shadow has a value for)."""
    mask = chosen[:, :, None] & ~np.isnan(stats)
    values = np.where(mask, stats, 0.0)
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=0) / count
        squares = np.where(mask, (stats - mean) ** 2, 0.0)
        if pooled:  # one per target, over every chosen value (Carlini et al.'s fixed variance)
            std = np.broadcast_to(np.nanstd(np.where(mask, stats, np.nan), axis=(0, 1)),
                                  mean.shape)
        else:
            std = np.sqrt(squares.sum(axis=0) / np.maximum(count - 1, 1))
    return mean, np.maximum(std, 1e-6)


def _log_normal(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std)


def lira_scores(target: np.ndarray, shadows: np.ndarray, shadow_in: np.ndarray) -> np.ndarray:
    """LiRA's likelihood-ratio scores ``[n]`` (higher: more likely a member).

    Shapes:
        target: ``[n, T]`` the target model's statistic (NaN = no label).
        shadows: ``[K, n, T]`` each shadow model's statistic on the same molecules.
        shadow_in: ``[K, n]`` bool, which molecules each shadow trained on.
    """
    pooled = len(shadows) < PER_MOLECULE_VARIANCE
    mean_in, std_in = _gaussians(shadows, shadow_in, pooled)
    mean_out, std_out = _gaussians(shadows, ~shadow_in, pooled)
    shift = np.nanmean(mean_in - mean_out, axis=0)  # fills a molecule no in (out) shadow saw
    mean_in = np.where(np.isnan(mean_in), mean_out + shift, mean_in)
    mean_out = np.where(np.isnan(mean_out), mean_in - shift, mean_out)
    ratio = _log_normal(target, mean_in, std_in) - _log_normal(target, mean_out, std_out)
    return np.nansum(ratio, axis=1)


def likelihoods(predictions: np.ndarray, labels: np.ndarray, task: str,
                residual_std: np.ndarray | None = None) -> np.ndarray:
    """``p(x|θ)`` per molecule, ``[..., n]``, from predictions ``[..., n, T]``: the product over
    labelled targets of the probability of the true class, or for regression of the Gaussian
    density of the label around the prediction with ``residual_std`` ``[T]``."""
    labelled = ~np.isnan(labels)
    if task == "regression":
        z = (np.nan_to_num(labels) - predictions) / residual_std
        log_p = -0.5 * z ** 2 - np.log(residual_std)
    else:
        p = np.clip(predictions.astype(np.float64), EPS, 1 - EPS)
        log_p = np.log(np.where(labels == 1, p, 1 - p))
    return np.exp(np.where(labelled, log_p, 0.0).sum(axis=-1))


def rmia_scores(target: np.ndarray, references: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """RMIA scores ``[n]`` in [0, 1]: for each molecule ``x`` the fraction of the other
    molecules ``z`` with ``(p(x|θ)/p(x)) / (p(z|θ)/p(z)) ≥ γ``, where ``p(·)`` is the mean
    likelihood over the reference models (online: those in and out alike).

    Shapes:
        target: ``[n]`` the target's likelihoods ``p(x|θ)`` (:func:`likelihoods`).
        references: ``[K, n]`` the reference (shadow) models' likelihoods.
    """
    ratio = target / np.maximum(references.mean(axis=0), 1e-300)
    ordered = np.sort(ratio)
    beaten = np.searchsorted(ordered, ratio / gamma, side="right")  # z with ratio_z ≤ ratio_x/γ
    beaten = beaten - (ratio <= ratio / gamma)  # x itself is no z
    return beaten / max(len(ratio) - 1, 1)


@dataclass
class AttackFigures:
    """How well one attack tells members from non-members.

    Attributes:
        auc: area under the ROC curve (0.5: no better than a coin).
        tpr_at_fpr: ``{"0.001": tpr, "0.01": tpr}``, the most members found while at most
            that fraction of non-members is called a member.
        exposed_at_fpr0: members scored above every non-member.
        exposed_actives_at_fpr0: of those, molecules with an active label (classification).
        members, non_members: how many molecules of each the figures are over.
        fpr_resolution: ``1 / non_members``, the least false-positive rate there is: a TPR
            at a smaller FPR is the TPR at FPR 0.
        fpr, tpr: the ROC curve's points.
    """

    auc: float
    tpr_at_fpr: dict[str, float]
    exposed_at_fpr0: int
    exposed_actives_at_fpr0: int | None
    members: int
    non_members: int
    fpr_resolution: float
    fpr: np.ndarray
    tpr: np.ndarray

    def summary(self) -> dict:
        """The figures for ``audit.json`` (without the curve's points)."""
        return {"auc": self.auc, "tpr_at_fpr": self.tpr_at_fpr,
                "exposed_at_fpr0": self.exposed_at_fpr0,
                "exposed_actives_at_fpr0": self.exposed_actives_at_fpr0,
                "members": self.members, "non_members": self.non_members,
                "fpr_resolution": self.fpr_resolution}


def attack_figures(scores: np.ndarray, members: np.ndarray,
                   actives: np.ndarray | None = None) -> AttackFigures:
    """The ROC curve, its AUC and the low-FPR figures of ``scores`` ``[n]`` against the
    ground truth ``members`` ``[n]`` bool; ``actives`` ``[n]`` bool marks active molecules."""
    from sklearn.metrics import roc_auc_score, roc_curve

    members = np.asarray(members, dtype=bool)
    if members.all() or not members.any():
        raise ValueError("an attack is scored on members and non-members both; the population "
                         f"has {int(members.sum())} members of {len(members)} molecules")
    fpr, tpr, _ = roc_curve(members, scores)
    top = scores[~members].max()
    exposed = members & (scores > top)
    return AttackFigures(
        float(roc_auc_score(members, scores)),
        {str(a): float(tpr[fpr <= a].max()) for a in FPRS},
        int(exposed.sum()),
        None if actives is None else int((exposed & actives).sum()),
        int(members.sum()), int((~members).sum()), 1.0 / int((~members).sum()), fpr, tpr)
