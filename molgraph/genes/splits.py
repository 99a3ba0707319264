"""Cross-validation folds over the labelled genes: stratified, group-aware, or read from a file.

Paralogs share function, so a gene family that straddles train and test inflates every metric;
with ``groups`` (or a split file built that way, like DepMap's ``family_5fold``) a family stays on
one side. Each fold also holds out a validation set from its training genes for early stopping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import (
    GroupShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    train_test_split,
)

from molgraph.genes._io import PathLike, malformed, numeric_column, read_table
from molgraph.genes.graph import GeneGraph
from molgraph.genes.idmap import IdMap, MatchReport, match_genes
from molgraph.genes.labels import NodeLabels

log = logging.getLogger(__name__)

_ROLES = {"train": "train", "training": "train", "validation": "val", "valid": "val",
          "val": "val", "test": "test"}


@dataclass
class Fold:
    """Node positions of one fold's training, validation and test genes (all labelled)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _validation(train: np.ndarray, key: np.ndarray, groups: np.ndarray | None,
                fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``train`` into (train, val), stratified and, with groups, group-aware."""
    if fraction <= 0 or len(train) < 4:
        return train, train[:0]
    if groups is not None:
        smallest = np.unique(key[train], return_counts=True)[1].min()
        n_splits = min(round(1 / fraction), smallest, len(np.unique(groups[train])))
        if n_splits >= 2:
            splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
            fit, val = next(splitter.split(train, key[train], groups[train]))
        else:
            splitter = GroupShuffleSplit(1, test_size=fraction, random_state=seed)
            fit, val = next(splitter.split(train, groups=groups[train]))
        return np.sort(train[fit]), np.sort(train[val])
    stratify = key[train] if np.bincount(key[train] + 1).max() < len(train) else None
    try:
        fit, val = train_test_split(train, test_size=fraction, random_state=seed,
                                    stratify=stratify)
    except ValueError:  # a class too small to stratify
        fit, val = train_test_split(train, test_size=fraction, random_state=seed)
    return np.sort(fit), np.sort(val)


def kfold_splits(
    labels: NodeLabels,
    folds: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    val_fraction: float = 0.1,
) -> list[Fold]:
    """Stratified k-fold over labelled genes (``StratifiedGroupKFold`` when ``groups`` given).

    Args:
        folds: number of folds (≥ 2).
        groups: ``[num_genes]`` group id per gene (e.g. gene family); genes with ``-1`` form a
            group of their own.
        val_fraction: share of each fold's training genes held out for early stopping.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, not {folds}")
    nodes = np.flatnonzero(labels.labelled)
    key = labels.stratify_key() + 1  # multi-label rows without a first-task label → 0
    classes, counts = np.unique(key[nodes], return_counts=True)
    if len(nodes) and counts.min() < folds:
        k, n = int(classes[counts.argmin()]), int(counts.min())
        what = (labels.names[k - 1] if labels.task == "multiclass" else
                f"{labels.names[0]} = {k - 1}" if k else f"no {labels.names[0]} label")
        fewer = f"fewer folds (--folds {n})" if n >= 2 else "fewer folds"
        raise ValueError(f"only {n} labelled genes have {what}, fewer than {folds} folds: "
                         f"label more such genes, or use {fewer}")
    if groups is not None:
        groups = np.where(groups < 0, -np.arange(len(groups)) - 2, groups)
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        parts = splitter.split(nodes, key[nodes], groups[nodes])
    else:
        parts = StratifiedKFold(folds, shuffle=True, random_state=seed).split(nodes, key[nodes])
    out = []
    for train, test in parts:
        fit, val = _validation(nodes[train], key, groups, val_fraction, seed)
        out.append(Fold(fit, val, np.sort(nodes[test])))
    return out


def read_split_assignments(
    path: PathLike,
    graph: GeneGraph,
    labels: NodeLabels,
    id_map: IdMap | None = None,
    gene_column: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> tuple[list[Fold], MatchReport]:
    """Folds from a file: ``gene, fold[, role]`` rows (CSV/TSV).

    With a ``role`` column (``train``/``validation``/``test``) each row places a gene in one
    fold's set — DepMap's ``depmap_split_assignments.csv.gz`` layout (``outer_fold``). Without
    it, ``fold`` is the gene's test fold and validation genes are drawn from the other folds.
    Only labelled genes are used; labelled genes the file leaves out are counted and warned
    about.
    """
    table, lines = read_table(path)
    gene_column = gene_column or table.columns[0]
    fold_column = next((c for c in ("fold", "outer_fold", "split") if c in table), None)
    if fold_column is None or gene_column not in table:
        raise malformed(path, 1, f"need a gene column and a 'fold' (or 'outer_fold') column; "
                        f"columns are {list(table.columns)}")
    fold_of = numeric_column(table[fold_column], lines, path, fold_column)
    if np.isnan(fold_of).any() or (fold_of != np.round(fold_of)).any():
        first = int(np.argmax(np.isnan(fold_of) | (fold_of != np.round(fold_of))))
        raise malformed(path, int(lines[first]), f"fold {table[fold_column].iloc[first]!r} is "
                        "not an integer")
    genes = list(dict.fromkeys(table[gene_column]))
    positions, report = match_genes(genes, graph.index, id_map, str(path))
    report.log()
    node_of = dict(zip(genes, positions))
    nodes = table[gene_column].map(node_of).to_numpy()
    labelled = labels.labelled
    keep = (nodes >= 0) & labelled[np.maximum(nodes, 0)]
    key = labels.stratify_key()
    fold_ids = sorted({int(f) for f in fold_of})
    if "role" in table:
        roles = table["role"].str.strip().str.lower()
        bad = ~roles.isin(list(_ROLES))
        if bad.any():
            first = int(np.argmax(bad.to_numpy()))
            raise malformed(path, int(lines[first]), f"role {table['role'].iloc[first]!r} is not "
                            "train, validation or test")
        roles = roles.map(_ROLES).to_numpy()
        folds = []
        for f in fold_ids:
            here = keep & (fold_of == f)
            sets = {r: np.unique(nodes[here & (roles == r)]) for r in ("train", "val", "test")}
            if len(np.intersect1d(sets["test"], np.r_[sets["train"], sets["val"]])):
                raise malformed(path, None, f"fold {f}: a gene is both in test and train/val")
            folds.append(Fold(sets["train"], sets["val"], sets["test"]))
    else:
        test_fold = np.full(graph.num_genes, -1)
        test_fold[nodes[keep]] = fold_of[keep]
        folds = []
        for f in fold_ids:
            test = np.flatnonzero(test_fold == f)
            train = np.flatnonzero((test_fold >= 0) & (test_fold != f))
            fit, val = _validation(train, key, None, val_fraction, seed)
            folds.append(Fold(fit, val, test))
    assigned = np.zeros(graph.num_genes, dtype=bool)
    assigned[nodes[keep]] = True
    left_out = int((labelled & ~assigned).sum())
    if left_out:
        log.warning("%s: %d labelled genes have no split assignment and are not used",
                    path, left_out)
    report.notes["labelled_without_assignment"] = left_out
    return folds, report


def read_groups(
    path: PathLike,
    graph: GeneGraph,
    group_column: str,
    gene_column: str | None = None,
    id_map: IdMap | None = None,
) -> tuple[np.ndarray, MatchReport]:
    """Group id per gene (``[num_genes]``, ``-1`` = none) from a table, e.g. gene families."""
    table, _ = read_table(path)
    gene_column = gene_column or table.columns[0]
    if group_column not in table or gene_column not in table:
        raise malformed(path, 1, f"no column {group_column!r} or {gene_column!r}; columns are "
                        f"{list(table.columns)}")
    positions, report = match_genes(list(table[gene_column]), graph.index, id_map, str(path))
    report.log()
    codes = {g: i for i, g in enumerate(dict.fromkeys(table[group_column]))}
    groups = np.full(graph.num_genes, -1, dtype=np.int64)
    ok = positions >= 0
    groups[positions[ok]] = table[group_column].map(codes).to_numpy()[ok]
    return groups, report
