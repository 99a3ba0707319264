"""molgraph's split conformal intervals and sets against crepes (a well-kept conformal
library, used here as the reference: the runtime keeps its own ~20 lines so that a calibration
is plain numbers in the model directory, applied in torch-free screening workers without a
pickled object)."""

from __future__ import annotations

import numpy as np
import pytest

from molgraph.inference.conformal import Calibration

crepes = pytest.importorskip("crepes")

# sizes where (n + 1) · alpha is not a whole number: at whole numbers crepes' floating-point
# index ((1 − 0.9) · 20 = 1.9999…) takes the next larger score, a stricter interval than the
# finite-sample rank ⌈(n + 1)(1 − alpha)⌉ both follow
SIZES = (50, 113, 331)


@pytest.mark.parametrize("n", SIZES)
def test_intervals_match_crepes_standard_and_normalised(n):
    rng = np.random.default_rng(n)
    y = rng.normal(size=(n, 1))
    pred = y + rng.normal(scale=0.5, size=(n, 1))
    new = rng.normal(size=(20, 1))
    lower, upper = Calibration.fit("regression", y, pred, None, 0.1, 1).interval(new)
    reference = crepes.ConformalRegressor().fit(residuals=(y - pred)[:, 0])
    expected = reference.predict_int(y_hat=new[:, 0], confidence=0.9)
    np.testing.assert_allclose(np.c_[lower, upper], expected)

    spread = np.abs(rng.normal(size=(n, 1))) + 0.1  # an ensemble's std on the calibration set
    calibration = Calibration.fit("regression", y, pred, spread, 0.1, 3)
    new_spread = np.abs(rng.normal(size=(20, 1))) + 0.1
    lower, upper = calibration.interval(new, new_spread)
    beta = calibration.beta[0]  # crepes' normalised regressor with sigmas σ + β
    reference = crepes.ConformalRegressor().fit(residuals=(y - pred)[:, 0],
                                                sigmas=spread[:, 0] + beta)
    expected = reference.predict_int(y_hat=new[:, 0], sigmas=new_spread[:, 0] + beta,
                                     confidence=0.9)
    np.testing.assert_allclose(np.c_[lower, upper], expected)


@pytest.mark.parametrize("n", SIZES)
def test_sets_match_crepes_without_smoothing(n):
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, size=(n, 1)).astype(float)
    prob = np.clip(0.6 * y + 0.5 * rng.uniform(size=(n, 1)), 0.01, 0.99)
    codes = Calibration.fit("classification", y, prob, None, 0.1, 1).sets(
        new := rng.uniform(size=(200, 1)))[:, 0].astype(int)
    true_class = np.where(y[:, 0] == 1, prob[:, 0], 1 - prob[:, 0])
    reference = crepes.ConformalClassifier().fit(alphas=1 - true_class)  # LAC scores
    expected = reference.predict_set(alphas=np.c_[new[:, 0], 1 - new[:, 0]], confidence=0.9,
                                     smoothing=False)
    np.testing.assert_array_equal(np.c_[codes & 1 > 0, codes & 2 > 0], expected.astype(bool))
