"""The server's aggregation beyond Flower's weighted mean (``molgraph.federated.aggregate``):
each task's output rows from the owners that label it, and the round kept by the owners'
validation scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from molgraph.federated.aggregate import output_layer, per_task_rows, round_score
from molgraph.models.config import ModelConfig
from molgraph.models.registry import build_model


def test_the_output_layer_is_the_heads_last_linear():
    model = build_model(ModelConfig(hidden_channels=8, out_channels=3, ffn_layers=2))
    keys = output_layer(list(model.state_dict()))
    assert sorted(keys) == ["head.4.bias", "head.4.weight"]
    assert model.state_dict()["head.4.weight"].shape[0] == 3


def test_a_tasks_rows_are_averaged_over_the_owners_that_label_it():
    # owner 0 labels task 0 only, owner 1 both (1 label of task 0, 3 of task 1), owner 2 none
    owners = [{"w": np.array([[1.0, 1.0], [5.0, 5.0]]), "b": np.array([1.0, 5.0])},
              {"w": np.array([[3.0, 3.0], [7.0, 7.0]]), "b": np.array([3.0, 7.0])},
              {"w": np.array([[9.0, 9.0], [9.0, 9.0]]), "b": np.array([9.0, 9.0])}]
    labels = [[3, 0], [1, 3], [0, 0]]
    fedavg = {"w": np.full((2, 2), -1.0, np.float32), "b": np.full(2, -1.0, np.float32),
              "shared": np.ones(4, np.float32)}
    mixed = per_task_rows(fedavg, owners, labels, ["w", "b"])
    np.testing.assert_allclose(mixed["b"], [(3 * 1 + 1 * 3) / 4, 7.0])  # owner 2 adds nothing
    np.testing.assert_allclose(mixed["w"], [[1.5, 1.5], [7.0, 7.0]])
    assert mixed["w"].dtype == np.float32
    assert mixed["shared"] is fedavg["shared"]  # shared layers keep FedAvg's mean


def test_a_mean_variance_heads_two_rows_of_a_task_follow_that_task_and_unlabelled_keep_fedavg():
    owners = [{"b": np.array([1.0, 2.0, 10.0, 20.0])}, {"b": np.array([3.0, 4.0, 30.0, 40.0])}]
    fedavg = {"b": np.array([0.0, -1.0, 0.0, -1.0])}
    mixed = per_task_rows(fedavg, owners, [[1, 0], [1, 0]], ["b"])  # task 1: nobody's
    np.testing.assert_allclose(mixed["b"], [2.0, -1.0, 20.0, -1.0])


def test_a_rounds_score_weights_owners_by_their_validation_molecules():
    val = {"a": {"roc_auc": 0.8}, "b": {"roc_auc": 0.6}, "c": {"roc_auc": None},
           "d": {"pr_auc": 0.3}}
    assert round_score(val, {"a": 30, "b": 10, "c": 100, "d": 5}, "roc_auc") == \
        pytest.approx(0.75)
    assert math.isnan(round_score({"a": {"roc_auc": None}}, {"a": 3}, "roc_auc"))
