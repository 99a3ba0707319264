import numpy as np
import pandas as pd
import pytest

from molgraph.data.split import bemis_murcko_scaffold, split_indices


@pytest.fixture
def bace(data_dir):
    frame = pd.read_csv(data_dir / "bace_80.csv")
    return frame["mol"].tolist(), frame[["Class"]].to_numpy(dtype=float)


@pytest.mark.parametrize("method", ["random", "scaffold", "stratified"])
def test_split_is_a_seeded_partition(bace, method):
    smiles, y = bace
    a = split_indices(smiles, method, seed=3, y=y)
    b = split_indices(smiles, method, seed=3, y=y)
    for x, z in zip(a, b):
        np.testing.assert_array_equal(x, z)
    joined = np.concatenate(a)
    assert sorted(joined.tolist()) == list(range(len(smiles)))
    assert abs(len(a[0]) - 0.8 * len(smiles)) <= 8


def test_different_seeds_give_different_scaffold_splits(bace):
    smiles, _ = bace
    a = split_indices(smiles, "scaffold", seed=0)
    b = split_indices(smiles, "scaffold", seed=1)
    assert not np.array_equal(a[2], b[2])


def test_scaffold_split_keeps_scaffolds_apart(data_dir):
    smiles = pd.read_csv(data_dir / "esol_120.csv")["smiles"].tolist()
    train, val, test = split_indices(smiles, "scaffold", seed=0)
    scaffolds = [{bemis_murcko_scaffold(smiles[i]) for i in part} for part in (train, val, test)]
    assert not scaffolds[0] & scaffolds[2]
    assert not scaffolds[0] & scaffolds[1]
    assert not scaffolds[1] & scaffolds[2]


def test_stratified_keeps_positive_rate(bace):
    smiles, y = bace
    train, _, test = split_indices(smiles, "stratified", seed=0, y=y)
    assert abs(y[train].mean() - y[test].mean()) < 0.15


def test_bad_sizes_rejected(bace):
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(bace[0], "random", sizes=(0.5, 0.1, 0.1))


def test_a_scaffold_split_without_a_test_part_keeps_the_test_part_empty():
    """One scaffold (every molecule acyclic) too big for training or validation: with no test
    part asked for, it stays in training rather than filling a test part of size 0."""
    acyclic = ["C" * k + "O" for k in range(1, 41)] + ["c1ccccc1" + "C" * k for k in range(10)]
    for size in (50, 47):  # 47: 42 + 4 leaves one molecule over, which is not a test part
        train, val, test = split_indices(acyclic[:size], "scaffold", (0.9, 0.1, 0.0), seed=0)
        assert len(test) == 0 and len(train) + len(val) == size
