"""Whether label columns can be learned: the one place molecule and gene runs ask.

A classifier learns 0/1 per column. A column of classes (0/1/2), of -1/1 or of measured values
given to it used to train to the last epoch and then fail in scikit-learn's words; a column, or a
validation part, with one class only gave NaN ROC-AUCs, on which the best epoch and the
SVM blend's weight were then chosen. These checks refuse such data before any training,
naming the file, the column, an example value with its row, and what to do.

Shapes: ``y`` is ``[n_items, n_columns]`` float, NaN = missing label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

#: what a classification column must hold
BINARY = (0.0, 1.0)


def label_kind(values: np.ndarray) -> str:
    """``"binary"`` (only 0 and 1), ``"classes"`` (whole numbers) or ``"continuous"``, for the
    labels ``values`` (NaN ignored)."""
    values = values[~np.isnan(values)]
    if np.isin(values, BINARY).all():
        return "binary"
    return "classes" if np.equal(np.mod(values, 1), 0).all() else "continuous"


def describe_values(values: np.ndarray) -> str:
    """The labels of a column in a few words, for a message."""
    values = values[~np.isnan(values)]
    distinct = np.unique(values)
    kind = label_kind(values)
    if kind == "continuous":
        return (f"the column looks continuous: {len(distinct)} distinct values from "
                f"{distinct[0]:g} to {distinct[-1]:g}")
    shown = ", ".join(f"{v:g}" for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
    return f"the column holds {len(distinct)} classes: {shown}"


def _what_to_do(values: np.ndarray) -> str:
    distinct = set(np.unique(values[~np.isnan(values)]).tolist())
    if distinct == {-1.0, 1.0}:
        return "write -1 as 0 (inactive) and keep 1 (active)"
    if label_kind(values) == "continuous":
        return ("use --task regression for a measured value, or binarise the column with a "
                "threshold (1 where the value passes it, else 0)")
    return ("binarise the column (one 0/1 column per class, or 1 for the class of interest), "
            "or use --task regression if the numbers are measured values")


def check_labels(y: np.ndarray, rows: np.ndarray | None, names: Sequence[str],
                 task: str | None, source: str) -> None:
    """Refuse labels that cannot be learned: an infinite value (any task), or for
    ``task="classification"`` a column with a value other than 0/1 or with one class only.

    Args:
        y: ``[n_rows, n_columns]`` labels as read.
        rows: ``[n_rows]`` the file's 1-based row numbers, for messages (``None``: not known).
        names: the column of each label.
        task: ``"regression"``, ``"classification"`` or ``None`` (only infinities checked).
        source: the file, as messages name it.
    """
    for j, name in enumerate(names):
        column = y[:, j]
        bad = np.isinf(column)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: {_row(rows, i)}column {name!r} holds {column[i]:g} "
                             f"({_rows(int(bad.sum()))} like it); give a finite number or "
                             "leave the cell empty")
        if task != "classification":
            continue
        bad = ~np.isnan(column) & ~np.isin(column, BINARY)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: {_row(rows, i)}column {name!r} holds {column[i]:g}, "
                             f"not 0 or 1 ({describe_values(column)}); classification learns "
                             f"0/1 labels: {_what_to_do(column)}")
    if task == "classification":  # a column without labels is refused by the caller, in its words
        one = {name: values for name, values in one_class_columns(y, names).items() if values}
        if one:
            n = int((~np.isnan(y)).any(axis=1).sum())
            raise ValueError(f"{source}: {one_class_text(one)} among its {_rows(n)} with "
                             "labels; a classifier needs both 0 and 1 in every column: check "
                             "the column, or give data with both classes")


def _row(rows: np.ndarray | None, i: int) -> str:
    return "" if rows is None else f"row {rows[i]}: "


def _rows(n: int) -> str:
    return f"{n} row" + ("s" if n != 1 else "")


def one_class_columns(y: np.ndarray, names: Sequence[str]) -> dict[str, list[float]]:
    """Columns of ``y`` whose labels hold fewer than two values, with the values they hold."""
    out = {}
    for j, name in enumerate(names):
        present = np.unique(y[~np.isnan(y[:, j]), j])
        if len(present) < 2:
            out[name] = present.tolist()
    return out


def one_class_text(one: dict[str, list[float]]) -> str:
    """``'Class' has only the label 1; ...`` for the columns :func:`one_class_columns` found."""
    parts = [f"{name!r} has " + (f"only the label {values[0]:g}" if values else "no label")
             for name, values in one.items()]
    return "; ".join(parts)


def check_split_classes(y: np.ndarray, parts: dict[str, np.ndarray], names: Sequence[str],
                        source: str, how: str) -> None:
    """Refuse a classification split whose training part lacks a class in some column, or
    whose validation part has both classes in no column (the ROC-AUC that picks the best epoch
    would be NaN); warn about columns that lack a class only in validation or test.

    Args:
        parts: ``{"train": index, "val": index, "test": index}`` into ``y``; an empty part is
            not checked.
        how: how the split was made (``--split random, --split-sizes ...``), for messages.
    """
    remedy = ("try another --seed, --split stratified, larger validation or test sizes, or "
              "more data")
    train = one_class_columns(y[parts["train"]], names)
    if train:
        raise ValueError(f"{source}: in the training part ({len(parts['train'])} molecules, "
                         f"{how}) {one_class_text(train)}; a classifier needs both 0 and 1 "
                         f"to learn from: {remedy}")
    for part, words in (("val", "validation"), ("test", "test")):
        index = parts.get(part, np.zeros(0, dtype=np.int64))
        if len(index) == 0:
            continue
        one = one_class_columns(y[index], names)
        if part == "val" and len(one) == len(names):
            raise ValueError(f"{source}: no column has both classes in the validation part "
                             f"({len(index)} molecules, {how}: {one_class_text(one)}), so "
                             "the ROC-AUC that picks the best epoch (and the SVM blend's "
                             f"weight) cannot be computed: {remedy}")
        if one:
            log.warning("%s: in the %s part (%d molecules) %s; the %s ROC-AUC of such a "
                        "column is NaN and left out of the mean", source, words, len(index),
                        one_class_text(one), words)


#: how messages name a part of a split
PART_WORDS = {"train": "training", "val": "validation", "test": "test"}


def labelled_counts(y: np.ndarray, parts: dict[str, np.ndarray], names: Sequence[str]
                    ) -> dict[str, dict[str, int]]:
    """Per part, the molecules with a label in each column (``{"val": {"logS": 1}}``): a
    part's size counts molecules, its metrics only these."""
    return {part: {name: int((~np.isnan(y[index, j])).sum()) for j, name in enumerate(names)}
            for part, index in parts.items()}


def check_part_labels(y: np.ndarray, parts: dict[str, np.ndarray], names: Sequence[str],
                      sources: dict[str, str], how: str) -> None:
    """Refuse a validation or test part in which no molecule has a label: the validation
    metric picks the best epoch and the test metrics are the run's scores, and both would be
    NaN. Warn about a column with fewer than two labels in such a part.

    Args:
        parts: ``{"val": index, "test": index}`` into ``y``; an empty part is not checked.
        sources: the file each part came from (a test file may be its own), for messages.
        how: how the split was made, for messages.
    """
    for part, counts in labelled_counts(y, parts, names).items():
        size, words = len(parts[part]), PART_WORDS[part]
        if size == 0:
            continue
        if not any(counts.values()):
            raise ValueError(f"{sources[part]}: the {words} part ({size} molecules, {how}) "
                             f"has no label in {', '.join(map(repr, names))}; molecules without "
                             "labels can only be predicted (molgraph predict): give this part "
                             "labelled molecules")
        few = [f"{name!r} has {n} label" + ("s" if n != 1 else "")
               for name, n in counts.items() if n < 2]
        if few:
            log.warning("%s: in the %s part (%d molecules) %s; its %s metrics rest on fewer "
                        "than 2 molecules (NaN or meaningless)", sources[part], words, size,
                        ", ".join(few), words)
