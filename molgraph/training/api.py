"""``molgraph.train``: one call from labelled molecules to a trained, scored model.

The molecules can be a file (CSV/TSV/SMI/SDF, plain or gzipped, or ``moleculeace:NAME``), a
DataFrame, or SMILES with labels; the settings are keywords (or a whole
:class:`~molgraph.training.config.RunConfig`). The run is the one ``molgraph train`` makes:
split, training with progress you can see, the blend with the in-run SVM chosen on
validation, the ECFP baseline, and with ``out`` the run directory; with ``tracking`` an MLflow
run holding all of it and the model itself.

Example (in a notebook)::

    import molgraph
    run = molgraph.train(df, ["logS"], model="dmpnn", epochs=30)        # a DataFrame
    run = molgraph.train(smiles, y=labels, split="random")              # SMILES and labels
    run = molgraph.train("delaney.csv", ["logS"], out="runs/esol")      # a file
    print(run.summary())
    run.model.predict(["CCO", "c1ccccc1O"])
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from molgraph.chem.frame import FRAME, frame_of
from molgraph.data.memory import dataset_from_frame
from molgraph.runtime.distributed import init_from_env, is_main
from molgraph.runtime.files import check_writable
from molgraph.tracking.config import TrackingConfig, tracked_run
from molgraph.tracking.contracts import Callback, Tracker
from molgraph.training.config import DataConfig, RunConfig
from molgraph.training.job import (
    TrainRun,
    add_baseline,
    final_metrics,
    load_run_data,
    train_on_dataset,
    write_run,
)
from molgraph.training.metrics import monitored_metric

log = logging.getLogger(__name__)


def run_config(data: str | Path = "", target_columns: Sequence[str] = (),
               task: str = "regression", model: str | None = None, split: str = "scaffold",
               seed: int = 0, epochs: int | None = None, smiles_column: str | None = None,
               model_options: dict | None = None, train_options: dict | None = None,
               **settings: Any) -> RunConfig:
    """A :class:`RunConfig` from keyword arguments: ``model_options`` are ``ModelConfig``
    fields, ``train_options`` ``TrainConfig`` fields, ``settings`` any other run fields by
    dotted name (``split_sizes=(0.7, 0.1, 0.2)``, ``blend=False``). A setting given twice
    with different values is an error."""
    values = {f"model.{k}": v for k, v in (model_options or {}).items()}
    values.update({f"train.{k}": v for k, v in (train_options or {}).items()})
    for name, value in (("model.name", model), ("train.epochs", epochs)):
        if value is None:
            continue
        if name in values and values[name] != value:
            raise ValueError(f"{name} given twice: {value!r} and {values[name]!r}")
        values[name] = value
    values.update(settings)
    base = RunConfig(data=DataConfig(str(data), list(target_columns), smiles_column),
                     task=task, split=split, seed=seed)
    return base.with_values(values)


def _in_memory(data: Any) -> bool:
    return not isinstance(data, str | Path | RunConfig)


def train(data: str | Path | pd.DataFrame | Sequence[str] | RunConfig,
          target_columns: Sequence[str] | str | None = None, *, y: Any = None,
          out: str | Path | None = None, tracking: TrackingConfig | str | None = None,
          progress: bool | None = None, callbacks: Sequence[Callback] = (),
          tracker: Tracker | None = None, cache_dir: str | Path | bool | None = True,
          **settings: Any) -> TrainRun:
    """Train a model on labelled molecules; with ``out`` write the run directory.

    Args:
        data: a molecule file or ``moleculeace:NAME``; a DataFrame (SMILES column found
            automatically, or ``smiles_column=``); SMILES (list, Series, array) with ``y``;
            or a :class:`RunConfig` describing the whole run (then give no other setting).
        target_columns: label columns of a file or DataFrame (one name or several); for
            SMILES with ``y``, the targets' names (default: ``y``'s own, else ``y``).
        y: labels of ``data`` given as SMILES, ``[n]`` or ``[n, T]``; NaN = missing.
        out: run directory to write (``model/``, metrics, predictions, pictures).
        tracking: log the run to MLflow (a :class:`TrackingConfig`, or its URI).
        progress: a bar (``True``), log lines (``False``); default: a bar on a terminal and
            in Jupyter.
        callbacks: hear every epoch's metrics (``on_epoch_end``).
        tracker: an open run tracker to report to instead of ``tracking``.
        cache_dir: featurized-graph cache: ``True`` for ``$MOLGRAPH_CACHE``, a directory, or
            ``None``/``False`` for none.
        **settings: ``task``, ``model``, ``split``, ``seed``, ``epochs``, ``smiles_column``,
            ``model_options``, ``train_options`` and any run setting by dotted name (see
            :func:`run_config`).

    Returns:
        The :class:`~molgraph.training.job.TrainRun`: ``run.model`` predicts,
        ``run.metrics`` holds the scores, ``print(run.summary())`` shows them.
    """
    if isinstance(data, RunConfig):
        if target_columns is not None or y is not None or settings:
            raise TypeError("give the run as a RunConfig or as keyword settings, not both")
        config, frame = data, None
    else:
        targets = [target_columns] if isinstance(target_columns, str) else target_columns
        frame = None
        if isinstance(data, pd.DataFrame) or not _in_memory(data):
            if y is not None:
                raise ValueError("y labels SMILES given as a list; the labels of a file or a "
                                 "DataFrame are its columns: name them in target_columns")
            frame = data if isinstance(data, pd.DataFrame) else None
        else:  # SMILES with their labels
            if y is None:
                raise ValueError("SMILES without labels: give them as y (one per SMILES)")
            frame = frame_of(data, y, targets)
            targets = [c for c in frame.columns if c != "smiles"]
        if frame is not None:
            data = ""
        config = run_config(data, targets or (), **settings)
        config.data.cache = cache_dir not in (None, False)
    if isinstance(tracking, str):
        tracking = TrackingConfig(tracking)
    directory = None if isinstance(cache_dir, bool) else cache_dir
    return train_config(config, out, frame=frame, tracking=tracking, progress=progress,
                        callbacks=callbacks, tracker=tracker, cache_dir=directory)


def train_config(config: RunConfig, out: str | Path | None = None, *,
                 frame: pd.DataFrame | None = None, tracking: TrackingConfig | None = None,
                 progress: bool | None = None, callbacks: Sequence[Callback] = (),
                 tracker: Tracker | None = None, cache_dir: str | Path | None = None
                 ) -> TrainRun | None:
    """Run ``config`` (on ``frame`` instead of ``config.data.path`` when given): read and
    featurize, train with a progress bar, blend, fit the baseline, write ``out``, and with
    ``tracking`` log it all to an MLflow run (settings, every epoch, the final scores, the
    run directory and the model as an MLflow pyfunc model for ``mlflow models serve``).

    Launched by torchrun (``runtime.distributed``), every process trains its share and
    rank 0 alone tracks, scores, writes and returns the run; the others return ``None``."""
    if init_from_env(config.train.device) and config.train.dp_epsilon is not None:
        raise ValueError("differentially private training runs in one process: its "
                         "accountant assumes one sampler; leave --devices and torchrun out")
    main = is_main()
    if not main:
        tracking, tracker, out, progress = None, None, None, False
    if frame is None:
        config.check_data()
    elif not config.data.target_columns:
        raise ValueError("training needs target columns: give target_columns (or y)")
    if out is not None:  # found now, not after the training
        check_writable(Path(out) / "metrics.json")
    from molgraph.tracking.mlflow_runs import config_tags
    from molgraph.training.watch import EpochProgress

    source = Path(config.data.path).stem if config.data.path else "a DataFrame"
    with tracked_run(tracking, out, config_tags(config.flat()),
                     name=f"{config.model.name} on {source}") as opened:
        tracker = opened or tracker
        cache = (cache_dir or True) if config.data.cache else None
        if frame is None:
            dataset = load_run_data(config, cache)
        else:
            data = config.data
            dataset = dataset_from_frame(frame, data.smiles_column, data.target_columns,
                                         data.split_column, cache, config.task, FRAME,
                                         data.weight_column)
        watcher = EpochProgress(config.train.epochs, *monitored_metric(config.task),
                                enabled=progress)
        with watcher:
            run = train_on_dataset(dataset, config, [*callbacks, watcher] if main else (),
                                   tracker)
        if run is None:  # a process other than rank 0 of a distributed run
            return None
        if config.baseline and len(run.split[2]):
            add_baseline(run, dataset)
        if tracker is not None:
            tracker.log_metrics(final_metrics(run), step=run.fit.best_epoch)
        if opened is not None:  # the run page's description: what was kept, and the scores
            opened.set_tags({"mlflow.note.content": f"```\n{run.summary()}\n```"})
        if out is not None:
            write_run(run, dataset, out)
        if opened is not None and out is not None:  # the model, for `mlflow models serve`
            from molgraph.inference.mlflow_model import log_pyfunc_model

            uri = log_pyfunc_model(out, opened.tracking_uri, opened.run_id)
            opened.set_tags({"molgraph.model_uri": uri})
            log.info("model logged to MLflow as %s", uri)
    key, _ = monitored_metric(config.task)
    if "test" in run.metrics:
        log.info("test %s = %.4f", key, run.metrics["test"].get(key, math.nan))
    return run

