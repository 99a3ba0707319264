"""A molgraph model as the surrogate: ``molgraph.train`` in memory on every value so far, then
the whole pool scored by the screening engine. ``--surrogate`` names the model.

Each round trains from scratch (``training.api.train_config``: the run ``molgraph train``
makes, split at random 90/10 so the tenth held out chooses the epoch and the SVM blend, no test
part, no baseline) an ensemble of ``ensemble_size`` members, whose spread is the uncertainty
(or, with ``mc_samples``, one model whose MC dropout passes' spread is; ``mve`` adds a
mean-variance head's variance),
and saves it to ``DIR/rounds/NNN/model/``. ``screening.screen.run_screen`` then scores the pool's
store into ``scores.parquet``, every row written, in worker processes or on Dask as
``ScreenConfig`` allows, resumable. Model and training settings come from ``run_config`` (a
``run_config.json``) where given; the campaign sets the seed, ensemble size, epochs, blend and
split.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molgraph.campaign.pool import Pool
from molgraph.campaign.surrogates import FIT, SCORES, TARGET
from molgraph.runtime.files import temporary_path, write_json
from molgraph.screening.screen import ScreenConfig, run_screen
from molgraph.training.config import RunConfig

log = logging.getLogger(__name__)

MODEL = "model"
#: training and validation shares of each round's values (no test part: the oracle is the test)
SPLIT_SIZES = (0.9, 0.1, 0.0)
#: dropout of an MC dropout surrogate whose run configuration has none
MC_DROPOUT = 0.1


class GraphSurrogate:
    """A molgraph model ensemble (see the module docstring); ``config``: the
    ``CampaignConfig``."""

    def __init__(self, config: Any, progress: bool | None = None) -> None:
        base = RunConfig.load(config.run_config) if config.run_config else RunConfig()
        values = {"model.name": config.surrogate, "ensemble_size": config.ensemble_size,
                  "train.epochs": config.epochs, "split": "random",
                  "split_sizes": SPLIT_SIZES, "baseline": False, "task": "regression",
                  "data.target_columns": [TARGET], "data.cache": False,
                  "blend": config.blend}
        if config.threads:
            values["train.threads"] = config.threads
        if config.mve:
            values["model.mve"] = True
        if config.mc_samples:  # one model, its dropout kept on at prediction
            values.update({"ensemble_size": 1, "model.mc_samples": config.mc_samples,
                           "model.dropout": base.model.dropout or MC_DROPOUT})
        self.base = base.with_values(values)
        self.workers, self.scheduler = config.workers, config.scheduler
        self.progress = progress

    def fit(self, smiles: list[str], y: np.ndarray, seed: int, directory: Path) -> dict:
        """Train and save the ensemble, unless this round's was saved before a kill."""
        directory = Path(directory)
        record = directory / FIT
        if record.exists():
            return json.loads(record.read_text())
        from molgraph.training.api import train_config

        config = self.base.with_values({"seed": seed})
        frame = pd.DataFrame({"smiles": list(smiles), TARGET: np.asarray(y, dtype=np.float64)})
        run = train_config(config, frame=frame, progress=self.progress)
        target = directory / MODEL
        staged = temporary_path(target)
        shutil.rmtree(staged, ignore_errors=True)
        run.model.save(staged)
        shutil.rmtree(target, ignore_errors=True)  # one saved before a kill, not yet recorded
        os.replace(staged, target)
        info = {"surrogate": config.model.name, "ensemble_size": config.ensemble_size,
                "mc_samples": config.model.mc_samples, "mve": config.model.mve,
                "seed": seed, "best_epoch": run.fit.best_epoch,
                "validation": run.metrics.get("val", {}), "blend": run.blend,
                "train_seconds": round(run.seconds, 2)}
        write_json(record, info)
        return info

    def score_pool(self, pool: Pool, directory: Path) -> Path:
        """Score every pool row with the saved ensemble (``molgraph screen`` on the store)."""
        out = Path(directory) / SCORES
        if not out.exists():
            run_screen(ScreenConfig(models=[str(Path(directory) / MODEL)],
                                    libraries=[str(pool.store)], out=str(out),
                                    workers=self.workers, scheduler=self.scheduler,
                                    resume=True, pictures=False, progress=self.progress))
        return out
