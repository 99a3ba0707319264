"""CV folds: stratified, group-aware, and given split assignments keep families apart."""

from __future__ import annotations

import numpy as np
import pytest

from molgraph.genes import kfold_splits, labels_from_lists, read_groups, read_split_assignments


@pytest.fixture
def labels(tiny_graph, genes_dir):
    return labels_from_lists(tiny_graph, genes_dir / "positives.txt", genes_dir / "negatives.txt")


def _family_sides(fold, groups):
    test = set(groups[fold.test])
    return test & set(groups[np.r_[fold.train, fold.val]])


def test_stratified_kfold_partitions_labelled_genes(labels):
    folds = kfold_splits(labels, folds=3, seed=0)
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests) == sorted(np.flatnonzero(labels.labelled))  # each labelled gene once
    for fold in folds:
        assert not set(fold.test) & set(fold.train) and not set(fold.val) & set(fold.train)
        assert set(labels.y[fold.test, 0]) == {0.0, 1.0}  # stratified
        assert labels.labelled[np.r_[fold.train, fold.val, fold.test]].all()
    again = kfold_splits(labels, folds=3, seed=0)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again))


def test_group_kfold_keeps_families_on_one_side(tiny_graph, genes_dir, labels):
    groups, report = read_groups(genes_dir / "families.csv", tiny_graph, "family")
    assert report.matched == 43
    folds = kfold_splits(labels, folds=3, seed=1, groups=groups)
    for fold in folds:
        assert not _family_sides(fold, groups)


def test_too_many_folds_for_a_class(labels):
    with pytest.raises(ValueError, match="fewer than 20 folds"):
        kfold_splits(labels, folds=20)


def test_given_split_assignments_long_layout(tiny_graph, genes_dir, labels):
    groups, _ = read_groups(genes_dir / "families.csv", tiny_graph, "family")
    folds, report = read_split_assignments(genes_dir / "splits.csv", tiny_graph, labels)
    assert len(folds) == 3 and report.notes["labelled_without_assignment"] == 0
    kras = tiny_graph.index["KRAS"]
    assert kras in folds[0].test and kras in folds[1].train and kras in folds[2].val
    for fold in folds:
        assert not _family_sides(fold, groups)


def test_given_split_assignments_wide_layout(tiny_graph, genes_dir, labels):
    folds, _ = read_split_assignments(genes_dir / "splits_wide.tsv", tiny_graph, labels)
    assert [len(f.test) for f in folds] == [7, 8, 8]
    for fold in folds:
        assert len(fold.val) > 0 and not set(fold.val) & set(fold.test)


def test_split_assignment_errors(tiny_graph, labels, tmp_path):
    path = tmp_path / "splits.csv"
    path.write_text("gene,fold,role\nTP53,0,test\nKRAS,0,holdout\n")
    with pytest.raises(ValueError, match="splits.csv, line 3: role 'holdout'"):
        read_split_assignments(path, tiny_graph, labels)
    path.write_text("gene,fold\nTP53,0\nKRAS,first\n")
    with pytest.raises(ValueError, match="splits.csv, line 3: fold 'first' is not a number"):
        read_split_assignments(path, tiny_graph, labels)


def test_labelled_genes_missing_from_split_file_are_counted(tiny_graph, labels, tmp_path):
    path = tmp_path / "splits.csv"
    path.write_text("gene,fold\nTP53,0\nHBB,0\nKRAS,1\nKRT1,1\n")
    _, report = read_split_assignments(path, tiny_graph, labels)
    assert report.notes["labelled_without_assignment"] == 19
