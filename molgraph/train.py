"""Training loop for graph-level models: masked losses, early stopping, callbacks, tracking.

The loop knows nothing of Optuna or MLflow. Each epoch's metrics go to every callback (an Optuna
pruning callback raises ``optuna.TrialPruned`` from there) and to an optional tracker with
``log_params``/``log_metrics`` (an MLflow tracker logs them), so both plug in from outside.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import nn

from molgraph.graphs import MolGraphs
from molgraph.metrics import compute_metrics

log = logging.getLogger(__name__)
TASKS = ("regression", "classification")


class Callback(Protocol):
    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...


class Tracker(Protocol):
    def log_params(self, params: dict) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...


class StopTraining(Exception):
    """Raised by a callback to end training early; the best checkpoint is kept."""


@dataclass
class TrainConfig:
    """Optimisation settings (the model's own settings live in ``ModelConfig``).

    Attributes:
        task: ``regression`` (targets standardised) or ``classification`` (0/1 per task).
        epochs: maximum epochs.
        batch_size: molecules per step.
        lr: peak learning rate (linear warm-up, then exponential decay to ``lr / 10``).
        weight_decay: AdamW weight decay.
        warmup_epochs: epochs of linear warm-up from ``lr / 10``.
        patience: epochs without validation improvement before stopping (0 = never stop).
        seed: fixes initialisation, shuffling and dropout.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        threads: torch intra-op CPU threads (default: see :func:`default_threads`).
    """

    task: str = "regression"
    epochs: int = 50
    batch_size: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_epochs: int = 2
    patience: int = 20
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")

    @property
    def monitor(self) -> tuple[str, bool]:
        """Validation metric that picks the best epoch, and whether higher is better."""
        return ("rmse", False) if self.task == "regression" else ("roc_auc", True)


@dataclass
class Scaler:
    """Per-task standardisation of regression targets (identity for classification)."""

    mean: list[float]
    std: list[float]

    @staticmethod
    def fit(y: np.ndarray, task: str) -> Scaler:
        if task != "regression":
            return Scaler([0.0] * y.shape[1], [1.0] * y.shape[1])
        mean = np.nanmean(y, axis=0)
        std = np.nanstd(y, axis=0)
        return Scaler(mean.tolist(), np.where(std > 0, std, 1.0).tolist())

    def transform(self, y: np.ndarray) -> np.ndarray:
        return (y - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return y * np.asarray(self.std, dtype=np.float32) + np.asarray(self.mean, np.float32)


@dataclass
class FitResult:
    """Outcome of :func:`fit`; the model passed in holds the best weights afterwards."""

    best_epoch: int
    best_score: float
    scaler: Scaler
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so splits, initialisation and dropout repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_threads() -> int:
    """Half the usable CPUs, at most 4. Small molecular graphs gain little from more intra-op
    threads, and when another process holds a core torch's spinning threads wait on it: on a
    2-core machine an epoch took 13x longer with 2 threads than with 1 while a core was busy.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, (cpus or 1) // 2))


def resolve_device(device: str = "auto") -> torch.device:
    """CUDA when present and asked for by ``auto``, else the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here")
    return torch.device(device)


def masked_loss(pred: torch.Tensor, target: torch.Tensor, task: str) -> torch.Tensor:
    """Mean loss over the labels present; NaN targets (missing labels) add nothing."""
    mask = ~torch.isnan(target)
    target = torch.nan_to_num(target)
    if task == "regression":
        losses = (pred - target) ** 2
    else:
        losses = nn.functional.binary_cross_entropy_with_logits(pred, target, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def predict_graphs(model: nn.Module, graphs: MolGraphs, task: str, scaler: Scaler,
                   batch_size: int = 256, device: torch.device | str = "cpu") -> np.ndarray:
    """Predictions ``[n_graphs, n_tasks]`` in label units (probabilities for classification)."""
    model.eval()
    device = torch.device(device)
    outputs = []
    for start in range(0, len(graphs), batch_size):
        index = np.arange(start, min(start + batch_size, len(graphs)))
        out = model(graphs.tensors(index).to(device)).float()  # bf16 models give bf16
        outputs.append((torch.sigmoid(out) if task == "classification" else out).cpu().numpy())
    if not outputs:
        return np.zeros((0, model.config.out_channels), dtype=np.float32)
    pred = np.concatenate(outputs)
    return scaler.inverse(pred) if task == "regression" else pred


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
               steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, config.warmup_epochs * steps_per_epoch)
    total = max(warmup + 1, config.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return 0.1 + 0.9 * step / warmup
        return 0.1 ** ((step - warmup) / (total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit(
    model: nn.Module,
    train: tuple[MolGraphs, np.ndarray],
    val: tuple[MolGraphs, np.ndarray],
    config: TrainConfig,
    callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None,
) -> FitResult:
    """Train ``model`` on ``train`` = (graphs, labels ``[n, n_tasks]``, NaN = missing), pick the
    epoch with the best validation metric, and leave those weights in ``model``.
    """
    device = resolve_device(config.device)
    torch.set_num_threads(config.threads or default_threads())
    model.to(device)
    graphs, y = train
    scaler = Scaler.fit(y, config.task)
    y_scaled = scaler.transform(y).astype(np.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(graphs) / config.batch_size))
    scheduler = _scheduler(optimizer, config, steps_per_epoch)
    rng = np.random.default_rng(config.seed)
    monitor, higher_better = config.monitor
    best = FitResult(best_epoch=-1, best_score=-math.inf if higher_better else math.inf,
                     scaler=scaler)
    best_state = copy.deepcopy(model.state_dict())
    if tracker is not None:
        tracker.log_params({f"train.{k}": v for k, v in asdict(config).items()})

    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(graphs))
        total, count = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            if len(index) < 2:  # batch norm needs more than one graph
                continue
            batch = graphs.tensors(index, y=y_scaled[index]).to(device)
            loss = masked_loss(model(batch), batch.y, config.task)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(index)
            count += len(index)
        pred = predict_graphs(model, val[0], config.task, scaler, device=device)
        metrics = {"train_loss": total / max(count, 1)}
        metrics.update({f"val_{k}": v for k, v in compute_metrics(config.task, val[1], pred).items()
                        if "_" not in k or k in ("roc_auc", "pr_auc")})
        best.history.append({"epoch": epoch, **metrics})
        score = metrics[f"val_{monitor}"]
        improved = score > best.best_score if higher_better else score < best.best_score
        if improved or best.best_epoch < 0:
            best.best_epoch, best.best_score = epoch, score
            best_state = copy.deepcopy(model.state_dict())
        log.info("epoch %d %s", epoch, " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        if tracker is not None:
            tracker.log_metrics(metrics, step=epoch)
        try:
            for callback in callbacks:
                callback.on_epoch_end(epoch, metrics)
        except StopTraining:
            break
        if config.patience and epoch - best.best_epoch >= config.patience:
            log.info("early stop at epoch %d (best %d)", epoch, best.best_epoch)
            break
    model.load_state_dict(best_state)
    return best
