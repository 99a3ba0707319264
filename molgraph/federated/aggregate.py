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

Plain numpy: no torch and no Flower here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


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
