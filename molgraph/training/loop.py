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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch import nn

from molgraph.chem.graphs import MolGraphs
from molgraph.models.base import mve_variance
from molgraph.models.predict import predict_graphs
from molgraph.models.scaling import Scaler
from molgraph.runtime.system import default_threads, resolve_device
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


def masked_loss(pred: torch.Tensor, target: torch.Tensor, task: str) -> torch.Tensor:
    """Mean loss over the labels present; NaN targets (missing labels) add nothing.

    Shapes: ``pred`` and ``target`` are ``[batch, n_tasks]``; a mean-variance head's ``pred``
    is ``[batch, 2 · n_tasks]`` (means, then raw variances), its loss the Gaussian negative
    log-likelihood (without the constant).
    """
    mask = ~torch.isnan(target)
    target = torch.nan_to_num(target)
    if task == "regression" and pred.shape[1] == 2 * target.shape[1]:
        mean, raw = pred.chunk(2, dim=1)
        variance = mve_variance(raw)
        losses = 0.5 * (torch.log(variance) + (mean - target) ** 2 / variance)
    elif task == "regression":
        losses = (pred - target) ** 2
    else:
        losses = nn.functional.binary_cross_entropy_with_logits(pred, target, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1)


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


def train_epoch(model: nn.Module, graphs: MolGraphs, y_scaled: np.ndarray, order: np.ndarray,
                config: TrainConfig, task: str, optimizer, scheduler, device,
                on_batch: Callable[[int, int], None]) -> float:
    """One pass over the training graphs in ``order``; the mean training loss.
    ``on_batch(done, total)`` hears the molecules done, 0 first, then after each batch."""
    model.train()
    total, count = 0.0, 0
    on_batch(0, len(order))
    for start in range(0, len(order), config.batch_size):
        index = order[start:start + config.batch_size]
        if len(index) > 1:  # batch norm needs more than one graph
            batch = graphs.tensors(index, y=y_scaled[index]).to(device)
            loss = masked_loss(model(batch), batch.y, task)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(index)
            count += len(index)
        on_batch(start + len(index), len(order))
    return total / max(count, 1)


def fit(
    model: nn.Module,
    train: tuple[MolGraphs, np.ndarray],
    val: tuple[MolGraphs, np.ndarray],
    config: TrainConfig,
    task: str = "regression",
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None,
) -> FitResult:
    """Train ``model`` on ``train`` = (graphs, labels ``[n, n_tasks]``, NaN = missing), pick the
    epoch with the best validation metric (RMSE or ROC-AUC), and leave those weights in
    ``model``. ``seed`` fixes the order of the training graphs. Epochs count from 1.
    """
    device = resolve_device(config.device)
    torch.set_num_threads(config.threads or default_threads())
    model.to(device)
    graphs, y = train
    scaler = Scaler.fit(y, task)
    y_scaled = scaler.transform(y).astype(np.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps = max(1, math.ceil(len(graphs) / config.batch_size))
    private = None
    if config.dp_epsilon is not None:
        from molgraph.training import private as dp

        plan = dp.PrivacyPlan.for_run(config, len(graphs))
        dp.log_plan(plan, config.epochs)
        private, steps = dp.Accountant(plan), plan.steps_per_epoch
        noise = torch.Generator().manual_seed(seed)
    scheduler = lr_schedule(optimizer, config, steps)
    rng = np.random.default_rng(seed)
    monitor, higher_better = monitored_metric(task)
    best = FitResult(best_epoch=0, best_score=-math.inf if higher_better else math.inf,
                     scaler=scaler)  # best_epoch 0: none yet
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(1, config.epochs + 1):
        on_batch = partial(notify_each, callbacks, "on_batch_end", epoch)
        if private is None:
            loss = train_epoch(model, graphs, y_scaled, rng.permutation(len(graphs)), config,
                               task, optimizer, scheduler, device, on_batch)
        else:
            loss = dp.private_epoch(model, graphs, y_scaled, private.plan, private,
                                    partial(masked_loss, task=task), optimizer, scheduler, rng,
                                    noise, device, on_batch)
        pred = predict_graphs(model, val[0], task, scaler, device=device)
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
        best.history.append({"epoch": epoch, **metrics})
        score = metrics[f"val_{monitor}"]
        improved = score > best.best_score if higher_better else score < best.best_score
        if improved or best.best_epoch == 0:
            best.best_epoch, best.best_score = epoch, score
            best_state = copy.deepcopy(model.state_dict())
        log.info("epoch %d %s", epoch, " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
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
