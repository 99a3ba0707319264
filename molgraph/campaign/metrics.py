"""How a campaign is doing: best so far, the top-k average, the share of the true top-k found,
and the stopping rule. Pure functions of ``[n]`` arrays signed to maximise (a minimising
campaign passes its values times -1), NaN for an acquired molecule without a value.

The shares follow MolPAL (Graff et al., Chem. Sci. 2021) so its published figures compare:

- top-k *scores* found: the ``k`` best acquired values matched as a multiset against the true
  best ``k`` values, so that ties near the top do not matter;
- top-k *SMILES* found: the true top-``k`` molecules among the ``k`` best acquired ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def best_k(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest non-NaN ``values``, best first (ties: first acquired)."""
    values = np.asarray(values, dtype=np.float64)
    labelled = np.flatnonzero(~np.isnan(values))
    return labelled[np.argsort(-values[labelled], kind="stable")][:k]


def top_k_average(values: np.ndarray, k: int) -> float | None:
    """Mean of the ``k`` best values, or ``None`` while fewer than ``k`` have one."""
    chosen = best_k(values, k)
    return float(np.mean(np.asarray(values)[chosen])) if len(chosen) == k else None


def found_scores(values: np.ndarray, true_values: np.ndarray) -> float:
    """Share of the true top-k values (``[k]``) among the ``k`` best acquired ``values``,
    matched as multisets."""
    k = len(true_values)
    found = np.asarray(values, dtype=np.float64)[best_k(values, k)]
    matched = Counter(found.tolist()) & Counter(np.asarray(true_values, dtype=float).tolist())
    return sum(matched.values()) / k if k else float("nan")


def found_smiles(values: np.ndarray, keys: Sequence[str | None],
                 true_keys: Sequence[str]) -> float:
    """Share of the true top-k molecules (their ``true_keys``) among the ``k`` best acquired
    molecules (``keys``: each acquired molecule's key, ``None`` when it has none)."""
    k = len(true_keys)
    found = {keys[i] for i in best_k(values, k)} - {None}
    return len(found & set(true_keys)) / k if k else float("nan")


def stop_reason(averages: Sequence[float | None], window: int, delta: float) -> str | None:
    """Why to stop now, or ``None``: the top-k average (one per round, ``None`` while fewer
    than ``k`` values) improved by less than ``delta`` times its value ``window`` rounds ago
    (in absolute value) over those ``window`` rounds. ``window`` 0: never."""
    if window < 1 or len(averages) <= window:
        return None
    now, before = averages[-1], averages[-1 - window]
    if now is None or before is None:
        return None
    if now - before < delta * abs(before):
        return (f"the top-k average improved by {now - before:.4g} over the last {window} "
                f"rounds, less than {delta:g} of {abs(before):.4g}")
    return None
