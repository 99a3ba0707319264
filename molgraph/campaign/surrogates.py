"""Surrogates: models of the oracle, trained from scratch each round on every value so far, that
predict a mean and a variance for every molecule of the pool.

One interface (MolPAL's ``train``/``apply``): :meth:`Surrogate.fit` learns from SMILES and values
(signed to maximise), and :meth:`Surrogate.score_pool` writes the scored pool, one row per pool
row, to ``DIR/rounds/NNN/scores.parquet``; :func:`scored_chunks` reads it back as means and
variances chunk by chunk. A molgraph model (``campaign.gnn``) scores with the screening engine;
the fingerprint models here score the store's shards in this process:

- ``rf``: a random forest on ECFP4 (2,048 bits) as MolPAL's (100 trees, depth at most 8), the
  variance of its trees' predictions as the uncertainty;
- ``svm``: the Tanimoto-kernel SVM of molgraph's in-run baseline (``training.baseline``, ``C``
  chosen on a tenth of the values held out, then refitted on all), without uncertainty.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from molgraph.campaign.pool import Pool
from molgraph.chem.featurize import valid_smiles
from molgraph.chem.fingerprints import morgan_bits
from molgraph.runtime.files import write_json
from molgraph.runtime.system import default_threads
from molgraph.screening.output import TableWriter

SCORES = "scores.parquet"
#: what a round's fit was (written by the surrogate once it is trained)
FIT = "fit.json"
#: the target name surrogates are trained and scored under
TARGET = "value"
#: values a surrogate needs before it can be trained
LEAST_VALUES = 10
#: rows read at a time from a scored pool
READ_ROWS = 65_536


class Surrogate(Protocol):
    """A model of the oracle (see the module docstring)."""

    def fit(self, smiles: list[str], y: np.ndarray, seed: int, directory: Path) -> dict:
        """Learn from ``smiles`` and their values ``y`` ``[n]``; keep what is worth keeping in
        ``directory``; return what to record of the fit."""

    def score_pool(self, pool: Pool, directory: Path) -> Path:
        """Write ``directory/scores.parquet`` (``row``, ``smiles``, ``status`` and the mean
        and standard deviation columns) for every pool row; return its path."""


def scored_chunks(path: Path) -> Iterator[tuple[np.ndarray, list[str], np.ndarray,
                                                 np.ndarray | None]]:
    """``(rows [n], smiles, mean [n], var [n] or None)`` of a scored pool, ``READ_ROWS`` rows
    at a time; NaN means for rows without a molecule."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    names = table.schema_arrow.names
    mean = f"{TARGET}_mean" if f"{TARGET}_mean" in names else TARGET
    sd = f"{TARGET}_std" if f"{TARGET}_std" in names else None
    for batch in table.iter_batches(READ_ROWS, columns=["row", "smiles", mean]
                                    + ([sd] if sd else [])):
        frame = batch.to_pandas()
        var = None if sd is None else frame[sd].to_numpy(dtype=np.float64) ** 2
        yield (frame["row"].to_numpy(dtype=np.int64), frame["smiles"].tolist(),
               frame[mean].to_numpy(dtype=np.float64), var)


class FingerprintSurrogate:
    """``rf`` or ``svm`` on ECFP4 bits (see the module docstring)."""

    def __init__(self, kind: str, threads: int | None = None) -> None:
        self.kind, self.threads = kind, threads or default_threads()
        self.model_: Any = None

    def fit(self, smiles: list[str], y: np.ndarray, seed: int, directory: Path) -> dict:
        bits, y = morgan_bits(smiles), np.asarray(y, dtype=np.float64)
        if self.kind == "rf":
            from sklearn.ensemble import RandomForestRegressor

            self.model_ = RandomForestRegressor(n_estimators=100, max_depth=8,
                                                random_state=seed, n_jobs=self.threads)
            self.model_.fit(bits, y)
            return _recorded(directory, {"surrogate": "rf", "trees": 100, "max_depth": 8})
        from molgraph.training.baseline import fit_svm, refit_svm

        order = np.random.default_rng(seed).permutation(len(y))
        held = max(1, len(y) // 10)
        split = (order[held:], order[:held], np.zeros(0, dtype=np.int64))
        chosen = fit_svm(bits, y[:, None], split, "regression", seed).setting
        self.model_ = refit_svm(chosen, bits, y[:, None], np.arange(len(y)), "regression", seed)
        return _recorded(directory, {"surrogate": "svm", **chosen})

    def predict(self, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean and standard deviation ``[n]`` (``None`` for the SVM) for ECFP4 ``bits``."""
        if self.kind == "rf":
            trees = np.stack([tree.predict(bits) for tree in self.model_.estimators_])
            return trees.mean(axis=0), trees.std(axis=0)
        return self.model_.predict(bits)[:, 0], None

    def score_pool(self, pool: Pool, directory: Path) -> Path:
        path = Path(directory) / SCORES
        writer = TableWriter(path)
        for shard in pool.shards():
            mean = np.full(len(shard), np.nan)
            sd = np.full(len(shard), np.nan)
            if shard.valid.any():
                mean[shard.valid], spread = self.predict(
                    morgan_bits(valid_smiles(shard.smiles, shard.valid)))
                sd[shard.valid] = 0.0 if spread is None else spread
            columns = {"row": np.asarray(shard.rows, dtype=np.int64), "smiles": shard.smiles,
                       f"{TARGET}_mean": mean}
            if self.kind == "rf":
                columns[f"{TARGET}_std"] = sd
            writer.write(pd.DataFrame({**columns, "status": np.where(shard.valid, "ok",
                                                                      "invalid")}))
        writer.close()
        return path


def _recorded(directory: Path, info: dict) -> dict:
    write_json(Path(directory) / FIT, info)
    return info

