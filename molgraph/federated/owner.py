"""A data owner's side of a federation, without Flower: its molecules featurized with
molgraph's fixed vocabulary, its labels placed in the federation's task columns, a validation
part drawn from its own molecules, local training of the shared weights, and scores.

Nothing here sends anything: ``molgraph.federated.app`` decides what leaves the owner (the
weights after local training, molecule counts, validation scores and, for regression, the
per-task label count, sum and sum of squares from which the server standardises the targets).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from molgraph.chem.graphs import MolGraphs
from molgraph.data.dataset import load_dataset
from molgraph.data.split import split_indices
from molgraph.federated.config import FederationConfig, OwnerConfig
from molgraph.models.predict import predict_graphs
from molgraph.models.scaling import Scaler
from molgraph.runtime.system import default_threads, resolve_device
from molgraph.training.loop import train_epoch
from molgraph.training.metrics import compute_metrics

log = logging.getLogger(__name__)


@dataclass
class OwnerData:
    """One owner's molecules in the federation's task columns.

    Attributes:
        name: the owner, as metrics name it.
        train: graphs and labels ``[n_train, n_tasks]`` (NaN: missing, and every task the
            owner lacks).
        val: the same for its validation part.
        own: indices of the tasks the owner has labels for.
    """

    name: str
    train: tuple[MolGraphs, np.ndarray]
    val: tuple[MolGraphs, np.ndarray]
    own: list[int]


def load_owner(owner: OwnerConfig, tasks: list[str], federation: FederationConfig
               ) -> OwnerData:
    """Featurize ``owner``'s file (cached under $MOLGRAPH_CACHE, as ``molgraph train`` does),
    put its labels in the columns of ``tasks`` and split off its validation part by
    ``federation.local_split`` and seed."""
    missing = [c for c in owner.target_columns if c not in tasks]
    if missing:
        raise ValueError(f"{owner.data}: target column(s) {missing} are not tasks of this "
                         f"federation ({tasks}); give --target-columns among them, or start "
                         "the server with them")
    dataset = load_dataset(owner.data, owner.smiles_column, owner.target_columns,
                           delimiter=owner.delimiter)  # one class in a column is allowed here
    _check_binary(dataset.y, owner, federation.task)
    n = len(dataset.graphs)
    if n < 4:
        raise ValueError(f"{owner.data}: {n} valid molecules; an owner needs at least 4 (some "
                         "to train on, some to validate)")
    own = [tasks.index(c) for c in owner.target_columns]
    y = np.full((n, len(tasks)), np.nan, dtype=np.float32)
    y[:, own] = dataset.y
    train, val = local_parts(dataset.smiles, y[:, own], federation)
    log.info("%s: %d training and %d validation molecules, tasks %s", owner.name, len(train),
             len(val), owner.target_columns)
    return OwnerData(owner.name, (dataset.graphs.take(train), y[train]),
                     (dataset.graphs.take(val), y[val]), own)


def local_parts(smiles: list[str], y: np.ndarray, federation: FederationConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """An owner's training and validation indices: ``federation.local_split`` with
    ``val_fraction`` (at least one molecule) and the seed; a random split where that leaves a
    part empty (e.g. a scaffold split of molecules that all share one scaffold)."""
    n = len(smiles)
    sizes = (1 - max(federation.val_fraction, 1.5 / n), max(federation.val_fraction, 1.5 / n),
             0.0)
    train, val, rest = split_indices(smiles, federation.local_split, sizes, federation.seed, y)
    if len(rest) or not len(train) or not len(val):
        log.warning("a %s split of %d molecules leaves a part empty; split at random instead",
                    federation.local_split, n)
        train, val, _ = split_indices(smiles, "random", sizes, federation.seed)
    return train, val


def _check_binary(y: np.ndarray, owner: OwnerConfig, task: str) -> None:
    """Refuse classification labels other than 0/1; unlike a run of its own, an owner may
    hold one class only of a task (the other owners may hold the other)."""
    if task != "classification":
        return
    for j, name in enumerate(owner.target_columns):
        bad = ~np.isnan(y[:, j]) & ~np.isin(y[:, j], (0.0, 1.0))
        if bad.any():
            raise ValueError(f"{owner.data}: column {name!r} holds {y[bad, j][0]:g} "
                             f"({int(bad.sum())} such labels); a classification federation "
                             "learns 0/1 labels")


def label_moments(data: OwnerData) -> dict[str, list[float]]:
    """Per task, the training labels' count, sum and sum of squares (zeros for a task the
    owner lacks): what a regression federation pools into its target standardisation."""
    y = data.train[1]
    present = ~np.isnan(y)
    values = np.nan_to_num(y).astype(np.float64)
    return {"count": present.sum(axis=0).astype(float).tolist(),
            "sum": values.sum(axis=0).tolist(), "sumsq": (values ** 2).sum(axis=0).tolist()}


def pooled_scaler(moments: list[dict[str, list[float]]], tasks: list[str], task: str) -> Scaler:
    """The federation's target scaling from the owners' :func:`label_moments`: the pooled
    mean and standard deviation per task (identity for classification)."""
    if task != "regression":
        return Scaler([0.0] * len(tasks), [1.0] * len(tasks))
    count, total, squares = (np.sum([m[k] for m in moments], axis=0)
                             for k in ("count", "sum", "sumsq"))
    if (count == 0).any():
        empty = [t for t, c in zip(tasks, count) if c == 0]
        raise ValueError(f"task(s) {empty} have no labelled training molecule at any owner; "
                         "leave them out of --target-columns")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
    return Scaler(mean.tolist(), np.where(std > 0, std, 1.0).tolist())


def train_locally(model: nn.Module, data: OwnerData, federation: FederationConfig,
                  scaler: Scaler, proximal_mu: float, seed: int) -> float:
    """``federation.train.epochs`` passes over the owner's training molecules starting from
    the shared weights in ``model``; the mean training loss of the last pass.

    FedProx (``proximal_mu`` > 0): each parameter's gradient gets mu·(w − w_global), the
    gradient of (mu/2)·||w − w_global||², added by a hook as autograd writes it, so
    molgraph's training epoch runs unchanged."""
    config = federation.train
    device = resolve_device(config.device)
    torch.set_num_threads(config.threads or default_threads())
    model.to(device)
    hooks = []
    if proximal_mu > 0:
        for param in model.parameters():
            anchor = param.detach().clone()
            hooks.append(param.register_hook(
                lambda grad, p=param, a=anchor: grad + proximal_mu * (p.detach() - a)))
    graphs, y = data.train
    y_scaled = scaler.transform(y).astype(np.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    constant = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    rng = np.random.default_rng(seed)
    loss = math.nan
    try:
        for _ in range(config.epochs):
            loss = train_epoch(model, graphs, y_scaled, rng.permutation(len(graphs)), config,
                               federation.task, optimizer, constant, device,
                               lambda done, total: None)
    finally:
        for hook in hooks:
            hook.remove()
    return loss


def score(model: nn.Module, data: OwnerData, federation: FederationConfig,
          scaler: Scaler) -> dict[str, float]:
    """The model's scores on the owner's validation part, over the tasks it has labels for
    (``roc_auc``, ``pr_auc``, ``f1`` or ``rmse``, ``mae``, ``r2``: means over its tasks;
    NaN where its validation part has one class only)."""
    graphs, y = data.val
    pred = predict_graphs(model, graphs, federation.task, scaler,
                          device=resolve_device(federation.train.device))
    metrics = compute_metrics(federation.task, y[:, data.own], pred[:, data.own])
    return {k: float(v) for k, v in metrics.items() if not k.rsplit("_", 1)[-1].isdigit()}

