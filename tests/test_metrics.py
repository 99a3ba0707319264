import math

import numpy as np

from molgraph.training.metrics import classification_metrics, regression_metrics


def test_regression_metrics_skip_missing():
    y = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 3.0]])
    p = np.array([[1.0, 100.0], [2.0, 1.0], [4.0, 3.0]])
    m = regression_metrics(y, p)
    assert math.isclose(m["rmse_0"], math.sqrt(1 / 3))
    assert m["rmse_1"] == 0.0 and m["mae_1"] == 0.0
    assert math.isclose(m["rmse"], (m["rmse_0"] + m["rmse_1"]) / 2)


def test_single_class_task_is_nan_and_left_out_of_mean():
    y = np.array([[1, 1], [0, 1], [1, 1]], dtype=float)
    p = np.array([[0.9, 0.2], [0.1, 0.3], [0.8, 0.9]])
    m = classification_metrics(y, p)
    assert m["roc_auc_0"] == 1.0 and math.isnan(m["roc_auc_1"])
    assert m["roc_auc"] == 1.0
    assert {"roc_auc", "pr_auc", "f1"} <= set(m)
