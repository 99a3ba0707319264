"""What the server does with the owners' weights and scores beyond Flower's weighted mean.

- **Each task's output row from the owners that label it.** FedAvg weights every owner by its
  molecules, so when owners hold different assays (MELLODDY's setting) the output row of an
  assay one owner of three labels moves a third of that owner's step: the others send it back
  untouched. Here the last layer's rows of a task are averaged over the owners weighted by
  their labels of that task (an owner without any adds nothing); the shared layers keep
  FedAvg's weights.
- **The round to keep.** As ``fit`` keeps the best validation epoch, a federation keeps the
  round whose averaged model scores best on the owners' validation parts (their scores,
  weighted by validation molecules; only scores leave an owner).

:class:`RoundBook` keeps both strategies' accounts (Flower's Message API one and the SecAgg+
one of ``federated.secure``). Plain numpy: no torch and no Flower here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: a train reply's metrics that score the weights it was sent (the previous round's model)
GLOBAL = "global_val_"


def output_layer(keys: Sequence[str]) -> list[str]:
    """The state-dict names of the head's last linear layer (weight ``[out, in]``, bias
    ``[out]``): the head's highest-numbered module."""
    head = [k for k in keys if k.startswith("head.")]
    if not head:
        return []
    last = max(int(k.split(".")[1]) for k in head)
    return [k for k in head if int(k.split(".")[1]) == last]


def per_task_rows(averaged: dict[str, np.ndarray], owners: Sequence[dict[str, np.ndarray]],
                  labels: Sequence[Sequence[float]], keys: Sequence[str]
                  ) -> dict[str, np.ndarray]:
    """``averaged`` with the rows of ``keys`` (the output layer) replaced by each task's
    label-weighted mean over ``owners``' weights.

    ``labels[j][t]``: owner ``j``'s training labels of task ``t`` (``T`` tasks); row ``i``
    belongs to task ``i % T`` (a mean-variance head has a mean and a variance row per task).
    A task no owner labels keeps FedAvg's row."""
    counts = np.asarray(labels, dtype=np.float64)  # [owners, T]
    tasks = counts.shape[1]
    out = dict(averaged)
    for key in keys:
        stacked = np.stack([np.asarray(o[key], dtype=np.float64) for o in owners])
        rows = stacked.shape[1]
        weights = counts[:, np.arange(rows) % tasks]  # [owners, rows]
        total = weights.sum(axis=0)
        mixed = np.einsum("jr,jr...->r...", weights / np.where(total > 0, total, 1), stacked)
        keep = (total > 0).reshape(-1, *[1] * (stacked.ndim - 2))
        out[key] = np.where(keep, mixed, averaged[key]).astype(averaged[key].dtype)
    return out


def round_score(val: dict[str, dict[str, float | None]], sizes: dict[str, int],
                metric: str) -> float:
    """The owners' validation ``metric`` of one round's model, weighted by each owner's
    validation molecules (owners whose score is missing or undefined left out); NaN if
    none scored it."""
    scored = [(v[metric], sizes.get(name, 0)) for name, v in val.items()
              if v.get(metric) is not None and math.isfinite(v[metric])]
    total = sum(n for _, n in scored)
    return sum(s * n for s, n in scored) / total if total else math.nan


def _number(value) -> float | None:
    """A metric as JSON can hold it (NaN: a score the owner could not compute)."""
    value = float(value)
    return value if math.isfinite(value) else None


class RoundBook:
    """Per round: payload bytes to and from the owners, who trained, who failed and why,
    each owner's metrics by name, the seconds taken, and the round's ``score``; and the
    round whose averaged model scores best (``best_round``, ``best``: its weights, any form).

    Each round's averaged model is scored by every owner at the start of the next round's
    training (train metrics ``global_val_*``), the last round's by an evaluation step.

    Args:
        rounds: the federation's rounds.
        val_sizes: each owner's validation molecules, by name (the scores' weights).
        monitor: the metric that ranks rounds and whether higher is better.
    """

    def __init__(self, rounds: int, val_sizes: dict[str, int], monitor: tuple[str, bool]
                 ) -> None:
        self.last_round, self.val_sizes, self.monitor = rounds, val_sizes, monitor
        self.rounds: dict[int, dict] = {}
        self.unscored: dict[int, Any] = {}  # averaged models awaiting their scores
        self.best_round, self.best, self.best_score = 0, None, math.nan

    def round(self, number: int) -> dict:
        return self.rounds.setdefault(number, {
            "round": number, "started": time.time(), "bytes_to_clients": 0,
            "bytes_from_clients": 0, "clients_trained": [], "failures": [], "train": {},
            "val": {}})

    def failed(self, number: int, stage: str, asked: Iterable[str], answered: set[str],
               reasons: Iterable[str]) -> None:
        """Owners asked but not answered (matched by elimination: Flower's error replies
        come from the SuperLink, not from the owner; their reasons are kept)."""
        reason = "; ".join(sorted(set(reasons))) or "no answer within the round timeout"
        self.round(number)["failures"] += [{"owner": name, "stage": stage, "reason": reason}
                                           for name in asked if name not in answered]

    def trained(self, number: int, name: str, metrics: dict) -> None:
        """An owner's train reply: its metrics, and its score of the previous round's model."""
        metrics = {k: _number(v) for k, v in metrics.items()}
        scored = {k[len(GLOBAL):]: metrics.pop(k) for k in list(metrics) if k.startswith(GLOBAL)}
        if number > 1:
            self.round(number - 1)["val"][name] = scored
        record = self.round(number)
        record["clients_trained"].append(name)
        record["train"][name] = metrics

    def evaluated(self, number: int, name: str, metrics: dict) -> None:
        self.round(number)["val"][name] = {k: _number(v) for k, v in metrics.items()}

    def averaged(self, number: int, weights: Any) -> None:
        """Round ``number``'s averaged model; the previous round's is judged now that its
        scores have come with this round's replies."""
        if weights is not None:
            self.unscored[number] = weights
        self.judge(number - 1)

    def judge(self, number: int) -> None:
        """Score round ``number``'s model from its owners' validation scores; keep it if no
        round scored better."""
        weights = self.unscored.pop(number, None)
        if weights is None:
            return
        metric, higher_better = self.monitor
        value = round_score(self.round(number)["val"], self.val_sizes, metric)
        self.round(number)["score"] = None if math.isnan(value) else value
        better = value > self.best_score if higher_better else value < self.best_score
        if self.best is None or (math.isfinite(value) and (better or math.isnan(self.best_score))):
            self.best_round, self.best, self.best_score = number, weights, value

    def clocked(self, number: int) -> None:
        record = self.round(number)
        record["seconds"] = round(time.time() - record["started"], 3)

    def records(self) -> list[dict]:
        return [self.rounds[r] for r in sorted(self.rounds)]
