"""Acquisition functions: pure functions of the surrogate's predictions, as MolPAL writes them.

Every array is ``[n]`` (one value per pool molecule) and every function maximises: a campaign
that minimises its oracle flips the oracle's sign once, where values enter the campaign
(``campaign.state``), so the surrogate already predicts a value to maximise and ``best`` is the
largest value so far. The utility is what ranks the pool; the batch is its top (``selection``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def greedy(mean: np.ndarray) -> np.ndarray:
    """The predicted mean itself: exploit only."""
    return np.asarray(mean, dtype=np.float64)


def ucb(mean: np.ndarray, var: np.ndarray, beta: float = 2.0) -> np.ndarray:
    """Upper confidence bound ``mean + beta * sd``."""
    return np.asarray(mean, dtype=np.float64) + beta * np.sqrt(np.maximum(var, 0.0))


def thompson(mean: np.ndarray, var: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw from each molecule's predicted normal ``N(mean, var)``."""
    return rng.normal(np.asarray(mean, dtype=np.float64), np.sqrt(np.maximum(var, 0.0)))


def _improvement(mean: np.ndarray, var: np.ndarray, best: float, xi: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``I = mean - best - xi``, ``sd`` and ``Z = I / sd`` (``Z`` undefined where sd is 0)."""
    improvement = np.asarray(mean, dtype=np.float64) - best - xi
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = improvement / sd
    return improvement, sd, z


def ei(mean: np.ndarray, var: np.ndarray, best: float, xi: float = 0.01) -> np.ndarray:
    """Expected improvement over ``best + xi``: ``I Φ(Z) + sd φ(Z)``; where the predicted
    variance is 0, the improvement itself (negative ones included, so the ranking stays)."""
    improvement, sd, z = _improvement(mean, var, best, xi)
    certain = sd == 0
    z = np.where(certain, 0.0, z)
    out = improvement * norm.cdf(z) + sd * norm.pdf(z)
    return np.where(certain, improvement, out)


def pi(mean: np.ndarray, var: np.ndarray, best: float, xi: float = 0.01) -> np.ndarray:
    """Probability of improving on ``best + xi``: ``Φ(Z)``; 1 or 0 where the variance is 0."""
    improvement, sd, z = _improvement(mean, var, best, xi)
    certain = sd == 0
    return np.where(certain, (improvement > 0).astype(np.float64),
                    norm.cdf(np.where(certain, 0.0, z)))


def random_utility(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random keys: the top ``k`` of them is a uniform random sample of ``k``."""
    return rng.random(n)


def utility(name: str, mean: np.ndarray, var: np.ndarray | None, *, best: float | None = None,
            beta: float = 2.0, xi: float = 0.01,
            rng: np.random.Generator | None = None) -> np.ndarray:
    """The utility ``[n]`` of acquisition ``name`` (``config.ACQUISITIONS``) for predicted
    means and variances ``[n]`` (``var`` ``None``: a surrogate without uncertainty, read as 0).

    ``best``: the largest value acquired so far (``ei``, ``pi``); ``rng``: for ``thompson``
    and ``random``. NaN means (molecules without a prediction) get ``-inf``: never chosen
    before a molecule with one.
    """
    mean = np.asarray(mean, dtype=np.float64)
    var = np.zeros_like(mean) if var is None else np.asarray(var, dtype=np.float64)
    if name == "greedy":
        out = greedy(mean)
    elif name == "ucb":
        out = ucb(mean, var, beta)
    elif name == "thompson":
        out = thompson(mean, var, _needed(rng, name))
    elif name in ("ei", "pi"):
        if best is None:
            raise ValueError(f"acquisition {name} needs the best value so far, and none of the "
                             "acquired molecules has one yet")
        out = (ei if name == "ei" else pi)(mean, var, best, xi)
    elif name == "random":
        return random_utility(len(mean), _needed(rng, name))
    else:
        raise ValueError(f"unknown acquisition {name!r}")
    return np.where(np.isnan(out), -np.inf, out)


def _needed(rng: np.random.Generator | None, name: str) -> np.random.Generator:
    if rng is None:
        raise ValueError(f"acquisition {name} draws random numbers: give rng")
    return rng
