"""Split conformal calibration (``molgraph.inference.conformal``) on synthetic scores: the
finite-sample rank, the coverage guarantee, locally adaptive intervals, classification sets,
missing labels, and the saved numbers; the uncertainty metrics of ``training.calibrate``."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from molgraph.inference.conformal import (
    Calibration,
    conformal_quantile,
    set_labels,
    shared_calibration,
)
from molgraph.inference.model_dir import CONFORMAL_FILE
from molgraph.training.calibrate import miscalibration_area, spread_metrics


@pytest.mark.parametrize(("n", "alpha", "rank"), [(9, 0.1, 9), (19, 0.1, 18), (29, 0.1, 27),
                                                   (99, 0.1, 90), (113, 0.1, 103),
                                                   (9, 0.3, 7), (8, 0.1, None)])
def test_the_quantile_is_the_finite_sample_rank(n, alpha, rank):
    """The ⌈(n+1)(1−alpha)⌉-th smallest score: at n = 19 and alpha 0.1 the 18th, where a
    rounding of (1 − 0.9)·20 down gives the 19th (crepes 0.9.1 does); too few scores: NaN."""
    scores = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))
    q = conformal_quantile(scores, alpha)
    assert (math.isnan(q) if rank is None else q == rank)


def test_coverage_is_at_least_one_minus_alpha_on_held_out_scores():
    """Exchangeable calibration and test points: over 20,000 independent calibrations (one per
    column) of 19 heavy-tailed residuals each, a new point is covered with probability in
    [1 − alpha, 1 − alpha + 1/(n + 1)] = [0.90, 0.95]."""
    rng = np.random.default_rng(0)
    trials, n = 20_000, 19
    pred = rng.normal(size=(n + 1, trials))
    y = pred + rng.standard_t(df=2, size=(n + 1, trials))
    calibration = Calibration.fit("regression", y[:n], pred[:n], alpha=0.1)
    lower, upper = calibration.interval(pred[n:])
    covered = ((lower <= y[n:]) & (y[n:] <= upper)).mean()
    assert 0.90 - 0.007 <= covered <= 0.95 + 0.007  # 0.007: over three standard errors
    # on the calibration set itself, by construction at least (1 − alpha)(n + 1)/n
    low, high = calibration.interval(pred[:n])
    assert ((low <= y[:n]) & (y[:n] <= high)).mean(axis=0).min() >= 0.9


def test_locally_adaptive_intervals_follow_the_spread_and_keep_coverage():
    """Noise proportional to the members' spread: intervals scale with it (the ratio of two
    widths is the ratio of ``std + beta``) and still cover about 90 %."""
    rng = np.random.default_rng(1)
    std = rng.uniform(0.1, 2.0, size=(4000, 1))
    pred = rng.normal(size=(4000, 1))
    y = pred + std * rng.normal(size=(4000, 1))
    calibration = Calibration.fit("regression", y[:2000], pred[:2000], std[:2000], members=3)
    assert calibration.beta is not None and calibration.beta[0] == pytest.approx(
        np.median(std[:2000]))
    lower, upper = calibration.interval(pred[2000:], std[2000:])
    width = (upper - lower)[:, 0]
    expected = (std[2000:, 0] + calibration.beta[0]) / (std[2000, 0] + calibration.beta[0])
    np.testing.assert_allclose(width / width[0], expected, rtol=1e-9)
    assert 0.88 <= ((lower <= y[2000:]) & (y[2000:] <= upper)).mean() <= 0.92
    with pytest.raises(ValueError, match="spread"):
        calibration.interval(pred)


def test_classification_sets_from_lac_scores():
    """LAC: score 1 − p(true class); q of five scores at alpha 0.5 is the 3rd smallest."""
    y = np.array([[1], [0], [1], [0], [1]], dtype=float)
    prob = np.array([[0.9], [0.2], [0.6], [0.7], [0.4]])  # scores 0.1 0.2 0.4 0.7 0.6
    calibration = Calibration.fit("classification", y, prob, alpha=0.5)
    assert calibration.quantiles()[0] == pytest.approx(0.4)
    # class 1 in the set when 1 − p ≤ 0.4, class 0 when p ≤ 0.4
    codes = calibration.sets(np.array([[0.95], [0.5], [0.05], [np.nan]]))[:, 0]
    assert set_labels(np.where(codes < 0, np.nan, codes)).tolist() == ["{1}", "{}", "{0}", ""]
    assert set_labels(calibration.values(np.array([[0.6], [0.4]]), alpha=0.5)[:, 0]).tolist() \
        == ["{1}", "{0}"]
    both = calibration.sets(np.array([[0.5]]), alpha=0.2)  # the 5th score, 0.7: both classes
    assert set_labels(both[:, 0].astype(float)).tolist() == ["{0,1}"]


def test_classification_sets_cover_calibrated_probabilities():
    """Labels drawn from the probabilities: the sets hold the label at least 90 % of the time
    (20,000 calibrations of 49 molecules, one new molecule each)."""
    rng = np.random.default_rng(2)
    prob = rng.uniform(size=(50, 20_000))
    y = (rng.uniform(size=prob.shape) < prob).astype(float)
    calibration = Calibration.fit("classification", y[:49], prob[:49], alpha=0.1)
    codes = calibration.sets(prob[49:])
    covered = np.where(y[49:] == 1, codes >= 2, codes % 2 == 1).mean()
    assert 0.90 - 0.007 <= covered <= 0.92 + 0.007


def test_missing_labels_are_left_out_per_target():
    """Target 0 has 19 labels, target 1 only 5 (too few at alpha 0.1: its bounds are NaN)."""
    rng = np.random.default_rng(3)
    y, pred = rng.normal(size=(19, 2)), np.zeros((19, 2))
    y[5:, 1] = np.nan
    calibration = Calibration.fit("regression", y, pred)
    q = calibration.quantiles()
    assert q[0] == np.sort(np.abs(y[:, 0]))[17] and math.isnan(q[1])
    values = calibration.values(np.zeros((3, 2)))
    assert calibration.columns(["a", "b"]) == ["a_lower", "a_upper", "b_lower", "b_upper"]
    assert np.isfinite(values[:, :2]).all() and np.isnan(values[:, 2:]).all()
    assert calibration.quantiles(alpha=0.5)[1] == np.sort(np.abs(y[:5, 1]))[2]


def test_saved_as_numbers_and_read_back(tmp_path):
    rng = np.random.default_rng(4)
    y, pred, std = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)), rng.uniform(size=(30, 2))
    y[3, 1] = np.nan
    calibration = Calibration.fit("regression", y, pred, std, alpha=0.2, members=2,
                                  source="cal.csv")
    entry = calibration.save(tmp_path)
    with np.load(tmp_path / CONFORMAL_FILE, allow_pickle=False) as data:
        assert {k: data[k].dtype.kind for k in data.files} == {"scores": "f", "beta": "f"}
    back = Calibration.load(tmp_path, entry, "regression")
    assert back.same(calibration) and (back.alpha, back.members, back.source) == (0.2, 2,
                                                                                  "cal.csv")
    np.testing.assert_array_equal(back.interval(pred, std)[1], calibration.interval(pred, std)[1])
    (tmp_path / CONFORMAL_FILE).write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=f"{CONFORMAL_FILE}: not readable"):
        Calibration.load(tmp_path, entry, "regression")
    with pytest.raises(ValueError, match="conformal-alpha"):
        Calibration.fit("regression", y, pred, alpha=1.5)


def test_a_calibration_applies_only_to_the_models_it_was_fitted_for():
    y, pred = np.arange(20.0)[:, None], np.zeros((20, 1))
    one = Calibration.fit("regression", y, pred)
    two = Calibration.fit("regression", y, pred, members=2)
    member = SimpleNamespace(calibration=two)
    assert shared_calibration([SimpleNamespace(calibration=one)]) is one
    assert shared_calibration([member, SimpleNamespace(calibration=two)]) is two
    assert shared_calibration([member]) is None  # one member of an ensemble, alone
    other = Calibration.fit("regression", y + 1, pred, members=2)  # another run's
    assert shared_calibration([member, SimpleNamespace(calibration=other)]) is None
    assert shared_calibration([SimpleNamespace(calibration=None)]) is None


def test_spread_metrics_tell_a_calibrated_spread_from_an_overconfident_one():
    rng = np.random.default_rng(5)
    std = rng.uniform(0.2, 2.0, size=(5000, 1))
    y = std * rng.normal(size=(5000, 1))
    pred = np.zeros_like(y)
    assert miscalibration_area(np.abs(y[:, 0]), std[:, 0]) < 0.02
    assert miscalibration_area(np.abs(y[:, 0]), std[:, 0] / 10) > 0.3
    metrics = spread_metrics("regression", y, pred, std)
    assert metrics["spearman"] == metrics["spearman_0"] and 0.3 < metrics["spearman"] < 0.7
    assert set(spread_metrics("classification", (y > 0).astype(float), pred + 0.5, std)) == {
        "spearman", "spearman_0"}
