"""``molgraph.pretrain``: train an encoder on a library's descriptors, one checkpoint an epoch.

The output directory holds ``pretrain_config.json``, ``library.npz`` (the molecules and their
raw descriptors), ``checkpoint.pt`` (weights, optimiser and schedule after the last epoch:
tensors and numbers only, read with ``weights_only=True``), ``history.csv``, and the encoder
of the best validation epoch as ``encoder.pt`` + ``encoder.json`` (``models.encoder``), with
``MODEL_CARD.md``. Run again with the same settings, it continues after the last epoch saved
(``--epochs`` may grow). Under torchrun every process trains its share of each batch
(``runtime.distributed``); rank 0 writes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molgraph.data.dataset import default_cache_dir
from molgraph.models.encoder import save_encoder
from molgraph.models.registry import build_model
from molgraph.models.scaling import Scaler
from molgraph.pretrain.card import write_card
from molgraph.pretrain.config import CONFIG_FILE, PretrainConfig
from molgraph.pretrain.library import build_library
from molgraph.pretrain.result import PretrainResult
from molgraph.pretrain.targets import DescriptorScaling, masked
from molgraph.runtime.distributed import barrier, init_from_env, is_main, process_device, wrap
from molgraph.runtime.files import atomic_path
from molgraph.runtime.system import default_threads, seed_everything
from molgraph.tracking.config import TrackingConfig, tracked_run
from molgraph.tracking.contracts import notify_each
from molgraph.training.loop import lr_schedule, train_epoch, validation_predictions
from molgraph.training.watch import EpochProgress

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
#: what MLflow keeps of the output directory (not the library or the checkpoint: large, and
#: the library is the data)
UPLOADED = ("encoder.pt", "encoder.json", "MODEL_CARD.md", "history.csv", CONFIG_FILE)


def pretrain_encoder(config: PretrainConfig, out: str | Path, *,
                     tracking: TrackingConfig | str | None = None,
                     progress: bool | None = None,
                     cache_dir: str | Path | bool | None = True) -> PretrainResult | None:
    """Pretrain (or continue pretraining) the encoder ``config`` describes into ``out``.
    Returns the result; ``None`` in processes other than rank 0 of a distributed run."""
    started = time.perf_counter()
    init_from_env(config.train.device)
    main, out = is_main(), Path(out)
    _check_continuation(config, out)
    if isinstance(tracking, str):
        tracking = TrackingConfig(tracking)
    cache = default_cache_dir() if cache_dir is True else (Path(cache_dir) if cache_dir else None)
    if main:
        library = build_library(config, out, cache)
        config.save(out / CONFIG_FILE)
    barrier()
    if not main:  # rank 0 built the library file
        library = build_library(config, out, None)
    rng = np.random.default_rng(config.seed)
    n_val = max(1, round(config.val_fraction * len(library)))
    order = rng.permutation(len(library))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    scaling = DescriptorScaling.fit(library.raw, train)
    targets = scaling.transform(library.raw)
    log.info("pretraining on %s molecules (%s held out) to predict %d RDKit descriptors",
             f"{len(train):,}", f"{len(val):,}", len(scaling.names))
    model_config = replace(config.model, out_channels=len(scaling.names))  # one per target
    device = process_device(config.train.device)
    torch.set_num_threads(config.train.threads or default_threads())
    seed_everything(config.seed)
    model = build_model(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr,
                                  weight_decay=config.train.weight_decay)
    scheduler = lr_schedule(optimizer, config.train,
                            max(1, math.ceil(len(train) / config.train.batch_size)))
    result = PretrainResult(config, out, n_molecules=len(library),
                            descriptors=scaling.names)
    first = _resume(out / CHECKPOINT, model, optimizer, scheduler, result)
    trained = wrap(model, device)
    graphs, val_graphs = library.graphs.take(train), library.graphs.take(val)
    identity = Scaler([0.0] * len(scaling.names), [1.0] * len(scaling.names))
    recipe = {"library": config.data, "molecules": len(library), "train": len(train),
              "val": len(val), "descriptors": scaling.names, "mask_fraction": config.mask_fraction,
              "scaling": scaling.__dict__}
    watcher = EpochProgress(config.train.epochs, "val_loss", False,
                            enabled=progress if main else False)
    with tracked_run(tracking if main else None, out, {"molgraph.job": "pretrain"},
                     upload=UPLOADED, name=f"pretrain on {config.data}") as tracker, watcher:
        if tracker is not None:
            tracker.log_params({f"pretrain.{k}": v for k, v in config.to_dict().items()
                                if not isinstance(v, dict)})
        for epoch in range(first, config.train.epochs + 1):
            epoch_rng = np.random.default_rng([config.seed, epoch])
            began = time.perf_counter()
            loss = train_epoch(trained, graphs, masked(targets[train], config.mask_fraction,
                                                       epoch_rng),
                               epoch_rng.permutation(len(train)), config.train, "regression",
                               optimizer, scheduler, device,
                               partial(notify_each, [watcher], "on_batch_end", epoch))
            seconds = time.perf_counter() - began
            pred = validation_predictions(model, val_graphs, "regression", identity, device)
            val_loss = float(np.nanmean((pred - targets[val]) ** 2))
            row = {"epoch": epoch, "train_loss": loss, "val_loss": val_loss,
                   "seconds": round(seconds, 1), "train_mol_per_s": round(len(train) / seconds, 1)}
            result.history.append(row)
            improved = val_loss < result.best_val_loss
            if improved:
                result.best_epoch, result.best_val_loss = epoch, val_loss
            watcher.on_epoch_end(epoch, {"train_loss": loss, "val_loss": val_loss})
            if tracker is not None:
                tracker.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)
            if main:
                if improved:
                    save_encoder(model, out, {**recipe, "epoch": epoch, "val_loss": val_loss})
                _save_checkpoint(out / CHECKPOINT, model, optimizer, scheduler, result)
                pd.DataFrame(result.history).to_csv(out / "history.csv", index=False)
            barrier()
        watcher.on_train_end()
        result.seconds = time.perf_counter() - started
        if main:
            write_card(result, recipe)
    return result if main else None


def _check_continuation(config: PretrainConfig, out: Path) -> None:
    """Refuse an output directory holding a pretraining with other settings."""
    saved = out / CONFIG_FILE
    if saved.exists() and not PretrainConfig.load(saved).same_run(config):
        raise ValueError(f"{out} holds a pretraining with other settings ({saved}); continue it "
                         "with the same settings (more --epochs allowed) or give another --out")


def _save_checkpoint(path: Path, model, optimizer, scheduler, result: PretrainResult) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "history": result.history,
             "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(path: Path, model, optimizer, scheduler, result: PretrainResult) -> int:
    """Load the checkpoint at ``path`` when there is one; the first epoch to run."""
    if not path.exists():
        return 1
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    result.history = list(state["history"])
    result.best_epoch, result.best_val_loss = state["best_epoch"], state["best_val_loss"]
    log.info("continuing %s after epoch %d", path.parent, len(result.history))
    return len(result.history) + 1
