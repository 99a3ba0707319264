"""Train/validation/test splits: seeded random, balanced scaffold and stratified.

Random and stratified splits use DeepChem's splitters. The scaffold split is Chemprop's
"balanced" Bemis–Murcko split: scaffold groups larger than half the validation/test size go to
training first, the rest are shuffled by the seed, so each seed gives a different, still
scaffold-disjoint split. DeepChem's ``ScaffoldSplitter`` is deterministic (largest groups first,
whatever the seed) and so cannot give the seed-to-seed spread the benchmarks report.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import warnings
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

SPLITS = ("random", "scaffold", "stratified")
Split = tuple[np.ndarray, np.ndarray, np.ndarray]


def _deepchem_splitters():
    """Import DeepChem's splitters without its import-time warnings reaching the user."""
    quiet = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), \
                contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            import deepchem.data
            import deepchem.splits
    finally:
        logging.disable(previous)
    return deepchem.data, deepchem.splits


def bemis_murcko_scaffold(smiles: str) -> str:
    """Bemis–Murcko scaffold SMILES (no chirality); ``""`` for acyclic molecules."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    from molgraph.chem.featurize import quiet_rdkit

    with quiet_rdkit():
        return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=False)


def scaffold_split(smiles: Sequence[str], sizes: Sequence[float], seed: int) -> Split:
    """Balanced scaffold split (Chemprop's ``scaffold_balanced``)."""
    n = len(smiles)
    train_size, val_size = int(sizes[0] * n), int(sizes[1] * n)
    test_size = n - train_size - val_size
    groups: dict[str, list[int]] = defaultdict(list)
    for i, smi in enumerate(smiles):
        groups[bemis_murcko_scaffold(smi)].append(i)
    sets = list(groups.values())
    big = [s for s in sets if len(s) > val_size / 2 or len(s) > test_size / 2]
    small = [s for s in sets if not (len(s) > val_size / 2 or len(s) > test_size / 2)]
    rng = random.Random(seed)
    rng.shuffle(big)
    rng.shuffle(small)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for group in big + small:
        if len(train) + len(group) <= train_size:
            train += group
        elif len(val) + len(group) <= val_size:
            val += group
        elif sizes[2] > 0:  # (its rounded size may be 1 when none was asked for)
            test += group
        else:  # no test part asked for: a scaffold too big for the others stays in training
            train += group
    return tuple(np.sort(np.asarray(part, dtype=np.int64)) for part in (train, val, test))


def split_indices(
    smiles: Sequence[str],
    method: str = "scaffold",
    sizes: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    y: np.ndarray | None = None,
) -> Split:
    """Indices of the train, validation and test molecules.

    Args:
        smiles: one SMILES per (valid) molecule.
        method: ``"random"``, ``"scaffold"`` or ``"stratified"`` (classification: keeps each
            task's positive rate in every part; needs ``y``).
        sizes: fractions for train, validation, test (summing to 1).
        seed: fixes the split.
        y: ``[n, n_tasks]`` labels with NaN for missing (stratified only).
    """
    if abs(sum(sizes) - 1.0) > 1e-6:
        raise ValueError(f"split sizes must sum to 1, got {list(sizes)}")
    if method == "scaffold":
        return scaffold_split(smiles, sizes, seed)
    if method not in SPLITS:
        raise ValueError(f"unknown split {method!r}; choose from {', '.join(SPLITS)}")
    dc_data, dc_splits = _deepchem_splitters()
    n = len(smiles)
    if method == "random":
        dataset = dc_data.NumpyDataset(X=np.zeros((n, 1)), ids=np.asarray(smiles, dtype=object))
        splitter = dc_splits.RandomSplitter()
    else:
        if y is None:
            raise ValueError("a stratified split needs labels")
        y = np.atleast_2d(np.asarray(y, dtype=np.float64).T).T
        dataset = dc_data.NumpyDataset(X=np.zeros((n, 1)), y=np.nan_to_num(y),
                                       w=(~np.isnan(y)).astype(np.float64),
                                       ids=np.asarray(smiles, dtype=object))
        splitter = dc_splits.RandomStratifiedSplitter()
    parts = splitter.split(dataset, frac_train=sizes[0], frac_valid=sizes[1],
                           frac_test=sizes[2], seed=seed)
    return tuple(np.sort(np.asarray(p, dtype=np.int64)) for p in parts)


def kfold_indices(smiles: Sequence[str], method: str = "scaffold", k: int = 5, seed: int = 0,
                  y: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs whose validation parts cover every molecule once.

    ``scaffold``: whole Bemis–Murcko groups per fold (big groups first, then the rest, each
    shuffled by the seed, each group to the smallest fold so far), so no scaffold is on both
    sides, as in the scaffold split; ``stratified``: scikit-learn's ``StratifiedKFold`` on the
    first task's labels (missing labels as a class of their own); ``random``: ``KFold``.
    """
    n = len(smiles)
    if not 2 <= k <= n:
        raise ValueError(f"cross-validation needs 2 to {n} folds (one molecule each at least), "
                         f"not {k}")
    if method == "scaffold":
        groups: dict[str, list[int]] = defaultdict(list)
        for i, smi in enumerate(smiles):
            groups[bemis_murcko_scaffold(smi)].append(i)
        sets = list(groups.values())
        big = [s for s in sets if len(s) > n / (2 * k)]
        small = [s for s in sets if len(s) <= n / (2 * k)]
        rng = random.Random(seed)
        rng.shuffle(big)
        rng.shuffle(small)
        folds: list[list[int]] = [[] for _ in range(k)]
        for group in sorted(big, key=len, reverse=True) + small:
            min(folds, key=len).extend(group)
        if min(len(f) for f in folds) == 0:
            raise ValueError(f"{len(sets)} scaffold group(s) cannot fill {k} folds; give fewer "
                             "folds or --split random")
        parts = [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]
        everything = np.arange(n)
        return [(np.setdiff1d(everything, part), part) for part in parts]
    from sklearn.model_selection import KFold, StratifiedKFold

    if method == "stratified":
        if y is None:
            raise ValueError("a stratified split needs labels")
        first = np.atleast_2d(np.asarray(y, dtype=np.float64).T).T[:, 0]
        classes = np.where(np.isnan(first), -1, first)
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
        pairs = splitter.split(np.zeros(n), classes)
    elif method == "random":
        pairs = KFold(k, shuffle=True, random_state=seed).split(np.zeros(n))
    else:
        raise ValueError(f"unknown split {method!r}; choose from {', '.join(SPLITS)}")
    return [(np.sort(a).astype(np.int64), np.sort(b).astype(np.int64)) for a, b in pairs]
