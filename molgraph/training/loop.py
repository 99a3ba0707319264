"""Training loop for graph-level models: masked losses, warm-up, early stopping, callbacks.

The loop knows nothing of Optuna or MLflow. Each epoch's metrics go to every callback (an Optuna
pruning callback raises ``optuna.TrialPruned`` from there) and to an optional tracker (see
``molgraph.tracking``), so both plug in from outside. Callbacks that want them also hear of each
batch (``on_batch_end``: a bar that moves within an epoch) and of the end of training
(``on_train_end``). Epochs are counted from 1: in callbacks, tracker steps, ``history`` and
``best_epoch``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from molgraph.chem.graphs import GraphBatch, MolGraphs
from molgraph.models.base import mve_variance
from molgraph.models.predict import predict_graphs
from molgraph.models.scaling import Scaler
from molgraph.runtime.distributed import (
    gather_rows,
    process_device,
    shard,
    sum_over_processes,
    world,
    wrap,
)
from molgraph.runtime.prefetch import prefetched
from molgraph.runtime.system import default_threads
from molgraph.tracking.contracts import Callback, Tracker, notify, notify_each
from molgraph.training.config import TrainConfig
from molgraph.training.metrics import compute_metrics, monitored_metric

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Outcome of :func:`fit`; the model passed in holds the best weights afterwards.

    ``best_epoch`` counts from 1, like the ``epoch`` of each ``history`` row; ``privacy`` is
    a private run's noise and the ε it spent (``training.private``).
    """

    best_epoch: int
    best_score: float
    scaler: Scaler
    history: list[dict[str, float]] = field(default_factory=list)
    privacy: dict | None = None


def masked_loss(pred: torch.Tensor, target: torch.Tensor, task: str, loss: str = "mse",
                task_weights: torch.Tensor | None = None,
                weights: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean loss over the labels present; NaN targets (missing labels) add nothing.

    Shapes: ``pred`` and ``target`` are ``[batch, n_tasks]``; a mean-variance head's ``pred``
    is ``[batch, 2 · n_tasks]`` (means, then raw variances), its loss the Gaussian negative
    log-likelihood (without the constant). ``loss``: a regression's squared error, absolute
    error or Huber loss (δ = 1 standard deviation of the target; the OpenADMET winners'
    choice of MAE is robust to assay outliers). ``task_weights`` ``[n_tasks]`` and
    ``weights`` ``[batch]`` (per molecule) multiply each label's loss; the sum is divided by
    the number of labels present, so weights that average 1 keep the loss's scale.
    """
    mask = ~torch.isnan(target)
    target = torch.nan_to_num(target)
    if task == "regression" and pred.shape[1] == 2 * target.shape[1]:
        mean, raw = pred.chunk(2, dim=1)
        variance = mve_variance(raw)
        losses = 0.5 * (torch.log(variance) + (mean - target) ** 2 / variance)
    elif task == "regression":
        losses = REGRESSION_LOSSES[loss](pred, target)
    else:
        losses = nn.functional.binary_cross_entropy_with_logits(pred, target, reduction="none")
    scale = mask.to(losses.dtype)
    if task_weights is not None:
        scale = scale * task_weights
    if weights is not None:
        scale = scale * weights[:, None]
    return (losses * scale).sum() / mask.sum().clamp(min=1)


#: ``TrainConfig.loss`` → the loss of each label (keys: ``training.config.LOSSES``)
REGRESSION_LOSSES = {
    "mse": lambda pred, target: (pred - target) ** 2,
    "mae": lambda pred, target: (pred - target).abs(),
    "huber": lambda pred, target: nn.functional.huber_loss(pred, target, reduction="none"),
}


def lr_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig,
                steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from lr / 10 over ``config.warmup_epochs``, then exponential decay to
    lr / 10 at the last of ``config.epochs``, stepped once per optimiser step."""
    warmup = max(1, config.warmup_epochs * steps_per_epoch)
    total = max(warmup + 1, config.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return 0.1 + 0.9 * step / warmup
        return 0.1 ** ((step - warmup) / (total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def loss_function(config: TrainConfig, task: str) -> Callable[..., torch.Tensor]:
    """:func:`masked_loss` with the run's loss and task weights: ``f(pred, target,
    weights=None)``."""
    task_weights = None
    if config.task_weights:  # scaled to average 1
        task_weights = torch.tensor(config.task_weights, dtype=torch.float32)
        task_weights = task_weights / task_weights.mean()
    return partial(masked_loss, task=task, loss=config.loss, task_weights=task_weights)


def _batches(graphs: MolGraphs, y_scaled: np.ndarray, order: np.ndarray, batch_size: int,
             weights: np.ndarray | None) -> Iterator[tuple[int, GraphBatch | None, Any]]:
    """``(molecules done, this process's batch or None, its weights)`` per global batch of
    ``order``: a batch too small to give every process two graphs (batch norm) is skipped."""
    rank, size = world()
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        done = start + len(index)
        if len(index) < 2 * size:
            yield done, None, None
            continue
        mine = shard(index, rank, size)
        yield (done, graphs.tensors(mine, y=y_scaled[mine]),
               None if weights is None else torch.from_numpy(weights[mine]))


def train_epoch(model: nn.Module, graphs: MolGraphs, y_scaled: np.ndarray, order: np.ndarray,
                config: TrainConfig, task: str, optimizer, scheduler, device,
                on_batch: Callable[[int, int], None],
                weights: np.ndarray | None = None) -> float:
    """One pass over the training graphs in ``order``; the mean training loss (over all
    processes). ``on_batch(done, total)`` hears the molecules done, 0 first, then after each
    batch. ``weights`` ``[n]``: each molecule's loss weight (mean 1).

    Under several processes (``runtime.distributed``), ``model`` is the DDP-wrapped one and
    each takes its share of every global batch of ``config.batch_size``; batches are built in
    a background thread (``runtime.prefetch``)."""
    model.train()
    loss_of = loss_function(config, task)
    total, count = 0.0, 0
    on_batch(0, len(order))
    for done, batch, w in prefetched(_batches(graphs, y_scaled, order, config.batch_size,
                                              weights)):
        if batch is not None:
            batch = batch.to(device)
            loss = loss_of(model(batch), batch.y,
                           weights=None if w is None else w.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * batch.num_graphs
            count += batch.num_graphs
        on_batch(done, len(order))
    total, count = sum_over_processes([total, count])
    return total / max(count, 1)


def validation_predictions(model: nn.Module, graphs: MolGraphs, task: str, scaler: Scaler,
                           device) -> np.ndarray:
    """``[len(graphs), T]`` predictions in molecule order, each process predicting its
    share (``runtime.distributed.shard``) and all of them gathered."""
    rank, size = world()
    if size == 1:
        return predict_graphs(model, graphs, task, scaler, device=device)
    mine = shard(np.arange(len(graphs)), rank, size)
    return gather_rows(predict_graphs(model, graphs.take(mine), task, scaler, device=device),
                       len(graphs))


def fit(
    model: nn.Module,
    train: tuple[MolGraphs, np.ndarray],
    val: tuple[MolGraphs, np.ndarray],
    config: TrainConfig,
    task: str = "regression",
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None,
    weights: np.ndarray | None = None,
) -> FitResult:
    """Train ``model`` on ``train`` = (graphs, labels ``[n, n_tasks]``, NaN = missing), pick the
    epoch with the best validation metric (RMSE or ROC-AUC), and leave those weights in
    ``model``. ``seed`` fixes the order of the training graphs. Epochs count from 1.
    ``weights`` ``[n]``: each training molecule's loss weight (scaled here to mean 1).

    Under several processes (torchrun; ``runtime.distributed``) every process calls this with
    the same data and seed: they draw the same order, each trains on its share of every
    batch, and the validation predictions are gathered so that all take the same decisions.
    Parameters that do not require a gradient (a frozen encoder) are not optimised.
    """
    device = process_device(config.device)
    torch.set_num_threads(config.threads or default_threads())
    model.to(device)
    graphs, y = train
    scaler = Scaler.fit(y, task)
    y_scaled = scaler.transform(y).astype(np.float32)
    if weights is not None:
        weights = (weights / weights.mean()).astype(np.float32)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    steps = max(1, math.ceil(len(graphs) / config.batch_size))
    private = None
    if config.dp_epsilon is not None:
        from molgraph.training import private as dp

        plan = dp.PrivacyPlan.for_run(config, len(graphs))
        dp.log_plan(plan, config.epochs)
        private, steps = dp.Accountant(plan), plan.steps_per_epoch
        noise = torch.Generator().manual_seed(seed)
    scheduler = lr_schedule(optimizer, config, steps)
    trained = wrap(model, device)  # DDP under several processes
    rng = np.random.default_rng(seed)
    monitor, higher_better = monitored_metric(task)
    best = FitResult(best_epoch=0, best_score=-math.inf if higher_better else math.inf,
                     scaler=scaler)  # best_epoch 0: none yet
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(1, config.epochs + 1):
        on_batch = partial(notify_each, callbacks, "on_batch_end", epoch)
        started = time.perf_counter()
        if private is None:
            loss = train_epoch(trained, graphs, y_scaled, rng.permutation(len(graphs)), config,
                               task, optimizer, scheduler, device, on_batch, weights)
        else:
            loss = dp.private_epoch(model, graphs, y_scaled, private.plan, private,
                                    loss_function(config, task), optimizer, scheduler, rng,
                                    noise, device, on_batch)
        speed = len(graphs) / max(time.perf_counter() - started, 1e-9)
        pred = validation_predictions(model, val[0], task, scaler, device)
        if not (math.isfinite(loss) and np.isfinite(pred).all()):
            raise ValueError(  # a setting the data cannot bear: the user's to change
                f"training diverged at epoch {epoch}: the training loss is {loss:.4g} and "
                f"{int((~np.isfinite(pred)).sum())} validation predictions are not finite; "
                f"lower the learning rate (train.lr {config.lr:g})")
        metrics = {"train_loss": loss}
        if private is not None:
            metrics["epsilon_spent"] = private.spent()
        metrics.update({f"val_{k}": v for k, v in compute_metrics(task, val[1], pred).items()
                        if "_" not in k or k in ("roc_auc", "pr_auc")})
        best.history.append({"epoch": epoch, **metrics, "train_mol_per_s": round(speed, 1)})
        score = metrics[f"val_{monitor}"]
        improved = score > best.best_score if higher_better else score < best.best_score
        if improved or best.best_epoch == 0:
            best.best_epoch, best.best_score = epoch, score
            best_state = copy.deepcopy(model.state_dict())
        log.info("epoch %d %s (%.0f molecules/s)", epoch,
                 " ".join(f"{k}={v:.4f}" for k, v in metrics.items()), speed)
        if not notify(callbacks, tracker, epoch, metrics):
            break
        if config.patience and epoch - best.best_epoch >= config.patience:
            log.info("early stop after epoch %d: no better val_%s for %d epochs (best: epoch %d)",
                     epoch, monitor, config.patience, best.best_epoch)
            break
    model.load_state_dict(best_state)
    if private is not None:
        best.privacy = private.report()
    notify_each(callbacks, "on_train_end")
    return best
