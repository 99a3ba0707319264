"""molgraph.data.labels: which label columns a classifier (or any run) can learn, on BACE's
``Class`` column and ESOL's ``logS`` read from tests/data."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from molgraph.chem.parse import read_molecules
from molgraph.data.labels import (
    check_labels,
    check_part_labels,
    check_split_classes,
    label_kind,
    labelled_counts,
)


@pytest.fixture
def bace(data_dir):
    table = read_molecules(data_dir / "bace_80.csv", target_columns=["Class"])
    return table.targets.astype(np.float64), table.rows


def test_kinds_of_labels(bace, data_dir):
    y, _ = bace
    esol = read_molecules(data_dir / "esol_120.csv", target_columns=["logS"]).targets[:, 0]
    assert label_kind(y[:, 0]) == "binary"
    assert label_kind(np.where(y[:, 0] == 1, 2.0, 0.0)) == "classes"
    assert label_kind(esol.astype(np.float64)) == "continuous"
    assert label_kind(np.array([np.nan, 1.0, 0.0])) == "binary"


def test_binary_labels_pass(bace):
    y, rows = bace
    check_labels(y, rows, ["Class"], "classification", "bace_80.csv")


@pytest.mark.parametrize("change, words", [
    (lambda y: y + np.arange(len(y))[:, None] % 3 * (y == 0), ["2", "3 classes", "binarise"]),
    (lambda y: 2 * y - 1, ["-1", "write -1 as 0"]),
    (lambda y: y * 0.5 + 0.2, ["continuous", "--task regression", "threshold"]),
])
def test_labels_other_than_0_1_name_row_column_and_fix(bace, change, words):
    y, rows = bace
    bad = change(y.copy())
    first = int(np.flatnonzero(~np.isin(bad[:, 0], (0.0, 1.0)))[0])
    with pytest.raises(ValueError) as err:
        check_labels(bad, rows, ["Class"], "classification", "bace_80.csv")
    message = str(err.value)
    assert message.startswith(f"bace_80.csv: row {rows[first]}: column 'Class' holds "
                              f"{bad[first, 0]:g}, not 0 or 1"), message
    assert all(w in message for w in words), message


def test_regression_takes_any_finite_number(bace):
    y, rows = bace
    check_labels(y * 0.5 + 0.2, rows, ["Class"], "regression", "bace_80.csv")


def test_infinite_label_is_refused_for_any_task(bace):
    y, rows = bace
    y[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"bace_80.csv: row 5: column 'Class' holds inf"):
        check_labels(y, rows, ["Class"], None, "bace_80.csv")


def test_one_class_in_the_file_is_refused(bace):
    y, rows = bace
    with pytest.raises(ValueError, match=r"'Class' has only the label 1 among its 80 rows with "
                       "labels; a classifier needs both 0 and 1"):
        check_labels(np.ones_like(y), rows, ["Class"], "classification", "bace_80.csv")


def _parts(y: np.ndarray, val: np.ndarray) -> dict[str, np.ndarray]:
    rest = np.setdiff1d(np.arange(len(y)), val)
    return {"train": rest[:-8], "val": val, "test": rest[-8:]}


def test_validation_part_of_one_class_is_refused(bace):
    y, _ = bace
    val = np.flatnonzero(y[:, 0] == 1)[:6]
    with pytest.raises(ValueError, match=r"no column has both classes in the validation part "
                       r"\(6 molecules, --split random.*'Class' has only the label 1.*"
                       r"SVM blend.*another --seed, --split stratified"):
        check_split_classes(y, _parts(y, val), ["Class"], "bace_80.csv",
                            "--split random, --split-sizes 0.8 0.1 0.1")


def test_training_part_of_one_class_is_refused(bace):
    y, _ = bace
    ones, zeros = np.flatnonzero(y[:, 0] == 1), np.flatnonzero(y[:, 0] == 0)
    parts = {"train": ones[:20], "val": np.r_[ones[20:23], zeros[:3]], "test": zeros[3:]}
    with pytest.raises(ValueError, match=r"in the training part \(20 molecules, the split "
                       r"given by file s.json\) 'Class' has only the label 1"):
        check_split_classes(y, parts, ["Class"], "bace_80.csv", "the split given by file s.json")


def test_a_task_without_a_class_in_validation_or_test_is_only_warned(bace, caplog):
    y, _ = bace
    two = np.c_[y, y[::-1]]  # a second task, so validation keeps one column with both classes
    val = np.r_[np.flatnonzero((two[:, 0] == 1) & (two[:, 1] == 1))[:2],
                np.flatnonzero((two[:, 0] == 1) & (two[:, 1] == 0))[:2]]
    parts = _parts(two, val)
    parts["test"] = np.zeros(0, dtype=np.int64)  # an empty part (a sweep's fold) is skipped
    with caplog.at_level(logging.WARNING, "molgraph.data.labels"):
        check_split_classes(two, parts, ["A", "B"], "bace_80.csv", "--split random")
    assert [r.getMessage() for r in caplog.records] == [
        "bace_80.csv: in the validation part (4 molecules) 'A' has only the label 1; the "
        "validation ROC-AUC of such a column is NaN and left out of the mean"]


def test_labelled_molecules_are_counted_per_part_and_column():
    y = np.array([[1.0, np.nan], [np.nan, np.nan], [2.0, 3.0], [4.0, np.nan]])
    parts = {"train": np.array([0, 1]), "val": np.array([2, 3]), "test": np.array([], int)}
    assert labelled_counts(y, parts, ["a", "b"]) == {
        "train": {"a": 1, "b": 0}, "val": {"a": 2, "b": 1}, "test": {"a": 0, "b": 0}}


@pytest.mark.parametrize("part, words", [("val", "validation part (8 molecules, --split random)"),
                                         ("test", "test part (8 molecules, --split random)")])
def test_a_part_without_any_label_is_refused(bace, part, words):
    y, _ = bace
    parts = _parts(y, np.arange(8))
    y = y.copy()
    y[parts[part]] = np.nan
    with pytest.raises(ValueError) as err:
        check_part_labels(y, parts, ["Class"], {"val": "b.csv", "test": "t.csv"},
                          "--split random")
    message = str(err.value)
    assert message.startswith("b.csv" if part == "val" else "t.csv")
    assert all(w in message for w in (words, "no label in 'Class'", "molgraph predict")), message


def test_a_column_with_fewer_than_two_labels_in_a_part_is_warned(bace, caplog):
    y, _ = bace
    two = np.c_[y, y]
    parts = _parts(two, np.arange(8))
    two[parts["val"][1:], 1] = np.nan  # column B: one label in validation
    with caplog.at_level(logging.WARNING, "molgraph.data.labels"):
        check_part_labels(two, parts, ["A", "B"], {"val": "b.csv", "test": "b.csv"}, "how")
    assert [r.getMessage() for r in caplog.records] == [
        "b.csv: in the validation part (8 molecules) 'B' has 1 label; its validation "
        "metrics rest on fewer than 2 molecules (NaN or meaningless)"]
