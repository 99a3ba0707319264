"""Acquisition functions, batch selection and campaign metrics on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from molgraph.campaign import acquisition, metrics
from molgraph.campaign.config import CampaignConfig, amount
from molgraph.campaign.selection import Chunk, select_batch

MEAN = np.array([1.0, 2.0, 3.0, 2.0])
VAR = np.array([4.0, 0.0, 0.25, 1.0])


def test_greedy_and_ucb():
    np.testing.assert_allclose(acquisition.greedy(MEAN), MEAN)
    np.testing.assert_allclose(acquisition.ucb(MEAN, VAR, beta=2.0), [5.0, 2.0, 4.0, 4.0])
    np.testing.assert_allclose(acquisition.ucb(MEAN, VAR, beta=0.0), MEAN)


def test_ei_and_pi_against_the_formula():
    best, xi = 2.0, 0.0
    sd = np.sqrt(VAR)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (MEAN - best - xi) / sd
    expected = (MEAN - best) * norm.cdf(z) + sd * norm.pdf(z)
    expected[1] = 0.0  # no variance: the improvement itself (2 - 2)
    np.testing.assert_allclose(acquisition.ei(MEAN, VAR, best, xi), expected)
    prob = norm.cdf(z)
    prob[1] = 0.0  # no variance and no improvement
    np.testing.assert_allclose(acquisition.pi(MEAN, VAR, best, xi), prob)
    # certain molecules keep their order by improvement (negative ones included)
    assert acquisition.ei(np.array([1.0, 3.0]), np.zeros(2), 2.0, 0.0).tolist() == [-1.0, 1.0]
    assert acquisition.pi(np.array([1.0, 3.0]), np.zeros(2), 2.0, 0.0).tolist() == [0.0, 1.0]


def test_thompson_draws_from_the_predicted_normal():
    rng = np.random.default_rng(0)
    draws = np.stack([acquisition.thompson(MEAN, VAR, rng) for _ in range(4000)])
    np.testing.assert_allclose(draws.mean(0), MEAN, atol=0.1)
    np.testing.assert_allclose(draws.std(0), np.sqrt(VAR), atol=0.1)
    assert (draws[:, 1] == 2.0).all()  # no variance, no spread


def test_utility_maximises_and_never_picks_missing_predictions():
    mean = np.array([1.0, np.nan, 3.0])
    out = acquisition.utility("greedy", mean, None)
    assert out[1] == -np.inf and out[2] > out[0]
    with pytest.raises(ValueError, match="best value so far"):
        acquisition.utility("ei", mean, np.ones(3))
    with pytest.raises(ValueError, match="rng"):
        acquisition.utility("thompson", mean, np.ones(3))
    a = acquisition.utility("random", mean, None, rng=np.random.default_rng(3))
    b = acquisition.utility("random", mean, None, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def _chunks(utility: np.ndarray, size: int) -> list[Chunk]:
    rows = np.arange(1, len(utility) + 1)
    return [Chunk(rows[i:i + size], [f"C{'C' * int(r)}" for r in rows[i:i + size]],
                  utility[i:i + size]) for i in range(0, len(rows), size)]


def test_selection_is_the_same_whatever_the_chunks_and_breaks_ties_by_row():
    utility = np.array([0.5, 2.0, 2.0, -np.inf, 1.0, 2.0, np.nan, 3.0])
    for size in (1, 3, 8):
        batch = select_batch(_chunks(utility, size), 4, exclude={8})
        assert batch["row"].tolist() == [2, 3, 6, 5]  # 8 excluded; ties by row
        assert batch["rank"].tolist() == [1, 2, 3, 4]
    # the pool runs out: every usable row, no more
    assert len(select_batch(_chunks(utility, 3), 20, exclude=set())) == 6


def test_diversity_caps_the_similarity_within_a_batch():
    smiles = ["CCCCCCCCO", "CCCCCCCCCO", "c1ccccc1O", "CCCCCCCCCCO", "C1CCNCC1"]
    chunk = Chunk(np.arange(1, 6), smiles, np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    plain = select_batch([chunk], 3, set())
    assert plain["row"].tolist() == [1, 2, 3]
    diverse = select_batch([chunk], 3, set(), diversity=0.5)
    assert diverse["row"].tolist() == [1, 3, 5]  # the alkanols are too alike


def test_found_shares_follow_molpal_with_ties():
    true = np.array([10.0, 9.0, 9.0, 8.0])  # the true top-4 values, ties included
    acquired = np.array([9.0, 7.0, np.nan, 10.0, 8.0, 9.0, 6.0])
    assert metrics.found_scores(acquired, true) == 1.0  # any molecule of value 9 counts
    assert metrics.found_scores(np.array([10.0, 9.0, 7.0, 6.0]), true) == 0.5
    keys = ["a", "b", None, "c", "d", "e", "f"]
    assert metrics.found_smiles(acquired, keys, ["c", "a", "x", "d"]) == 0.75
    assert metrics.top_k_average(acquired, 2) == 9.5
    assert metrics.top_k_average(acquired, 7) is None  # only 6 values


def test_stopping_rule_on_the_top_k_average_window():
    assert metrics.stop_reason([None, -10.0, -9.0], window=2, delta=0.01) is None
    assert metrics.stop_reason([-10.0, -9.0, -8.0], window=2, delta=0.01) is None
    assert metrics.stop_reason([-10.0, -9.0, -8.0, -7.99], window=1, delta=0.01) is not None
    assert metrics.stop_reason([-10.0, -9.9, -9.9], window=2, delta=0.05) is not None
    assert metrics.stop_reason([-10.0, -9.9, -9.9], window=0, delta=0.05) is None


def test_amounts_and_settings_are_checked_before_any_work():
    assert amount("1%", 10_560, "init") == 106 and amount("106", 10, "batch") == 106
    for bad in ("0", "-5", "1.5", "0%", "101%", "lots"):
        with pytest.raises(ValueError, match="--batch"):
            amount(bad, 100, "batch")
    with pytest.raises(ValueError, match="--batch"):
        CampaignConfig("pool.csv", "out", batch="ten")
    with pytest.raises(ValueError, match="needs an uncertainty"):
        CampaignConfig("pool.csv", "out", surrogate="svm", acquisition="ucb")
    with pytest.raises(ValueError, match="ensemble-size"):
        CampaignConfig("pool.csv", "out", ensemble_size=1, acquisition="ei")
    assert CampaignConfig("p", "o", init="labelled.csv").init_file is not None
    assert CampaignConfig("p", "o").rounds == 5
    assert CampaignConfig("p", "o", budget="10%").rounds is None
