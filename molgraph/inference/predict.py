"""Predict with a trained model on molecules in memory or in a file, every input row in order.

An invalid row keeps its place: its predictions are empty and ``error`` says why, so the
output lines up with the input row for row. Each valid row says how near it is to the molecules
the model learned from (``train_similarity``, ``in_domain``: ``molgraph.inference.domain``).
``predict_table`` is the one place this is computed; ``molgraph.predict`` (SMILES, a Series or
DataFrame, or a file), ``predict_file`` (``molgraph predict``) and the MLflow model use it.

Example::

    molgraph.predict("runs/esol", ["CCO", "not a smiles"])   # or a model in memory
    #    row smiles  logS_pred  train_similarity  in_domain  error   (one row per input)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molgraph.chem.featurize import valid_smiles
from molgraph.chem.frame import FRAME, table_from_frame
from molgraph.chem.parse import read_molecules
from molgraph.chem.sources import resolve_data_path
from molgraph.chem.table import MoleculeTable
from molgraph.data.dataset import MAX_LOGGED_ERRORS, featurize_cached, report_invalid
from molgraph.inference.conformal import check_alpha, model_calibration
from molgraph.inference.domain import (
    DEFAULT_THRESHOLD,
    IN_DOMAIN,
    SIMILARITY,
    check_threshold,
    in_domain,
    train_similarity,
)
from molgraph.inference.ensemble import spread
from molgraph.inference.loading import load_model
from molgraph.inference.size_limit import size_notes
from molgraph.runtime.files import check_writable, write_csv

log = logging.getLogger(__name__)


def predict_table(trained: Any, table: MoleculeTable, where: str | Path, batch_size: int = 256,
                  domain_threshold: float = DEFAULT_THRESHOLD,
                  conformal_alpha: float | None = None) -> pd.DataFrame:
    """Predictions of ``trained`` (a ``TrainedModel`` or ``EnsembleModel``) for each row of
    ``table``: ``row``, (``id``), ``smiles``, ``<target>_pred`` (an ensemble, MC dropout or a
    mean-variance head adds ``<target>_std``), the conformal ``<target>_lower``/
    ``<target>_upper`` (regression) or ``<target>_set`` (classification) at
    ``conformal_alpha`` (default: the one chosen at training; none for a model saved without
    a calibration: ``inference.conformal``),
    ``train_similarity`` and ``in_domain`` (empty for invalid rows, and for a model saved
    without a domain) and ``error`` (empty when the row is valid); invalid rows are reported
    as read from ``where``."""
    if batch_size < 1:
        raise ValueError(f"batch size (--batch-size) must be at least 1, not {batch_size}")
    check_threshold(domain_threshold)
    calibration = model_calibration(trained)
    if conformal_alpha is not None:
        check_alpha(conformal_alpha)
        if calibration is None:
            log.warning("the model has no conformal calibration (saved before molgraph had "
                        "them): no intervals at alpha %s; train it again to have them",
                        conformal_alpha)
    chunk = featurize_cached(table.smiles, cache_dir=None)
    errors = {**chunk.errors, **table.errors}
    report_invalid(table, errors, where)
    n_targets = len(trained.target_names)
    pred = np.full((len(table), n_targets), np.nan, dtype=np.float32)
    std = np.full_like(pred, np.nan) if trained.spread else None
    smiles, cache = valid_smiles(table.smiles, chunk.valid), {}  # cache: ECFP4 bits, shared
    if not chunk.valid.any():
        pass
    elif std is not None:  # an ensemble, MC dropout, MVE: the mean and, as uncertainty, the spread
        means, variances = trained.predict_distribution(chunk.graphs, batch_size, smiles, cache)
        pred[chunk.valid], std[chunk.valid] = means.mean(axis=0), spread(means, variances)
    else:
        pred[chunk.valid] = trained.predict_graphs(chunk.graphs, batch_size, smiles, cache)
    similarity = np.full(len(table), np.nan, dtype=np.float32)
    if chunk.valid.any():
        similarity[chunk.valid] = train_similarity(trained.domain, smiles, cache)
        _report_size_limited(size_notes(trained, chunk.graphs), table,
                             np.flatnonzero(chunk.valid), where)
    frame = pd.DataFrame({"row": table.rows})
    if table.ids is not None:
        frame["id"] = table.ids
    frame["smiles"] = table.smiles
    for j, name in enumerate(trained.target_names):
        frame[f"{name}_pred"] = pred[:, j]
        if std is not None:
            frame[f"{name}_std"] = std[:, j]
    if calibration is not None:
        for column, values in calibration.output(trained.target_names, pred, std,
                                                 conformal_alpha).items():
            frame[column] = values
    frame[SIMILARITY] = similarity
    frame[IN_DOMAIN] = in_domain(similarity, domain_threshold)
    frame["error"] = [errors.get(i, "") for i in range(len(table))]
    return frame


def _report_size_limited(notes: dict[int, str], table: MoleculeTable, positions: np.ndarray,
                         where: str | Path) -> None:
    """Log each molecule of ``notes`` (positions among ``positions``, the valid rows of
    ``table``) with its row number and SMILES (the first ``MAX_LOGGED_ERRORS``), and a count."""
    for k in sorted(notes)[:MAX_LOGGED_ERRORS]:
        smiles = table.smiles[positions[k]]
        shown = smiles if len(smiles) <= 40 else smiles[:40] + "..."
        log.warning("%s: row %d (%s): %s", where, table.rows[positions[k]], shown, notes[k])
    if len(notes) > MAX_LOGGED_ERRORS:
        log.warning("%s: %d rows in all with rdkit2d descriptors read as the training mean "
                    "for their size", where, len(notes))


def predict_file(model: str | Path, data: str | Path, out: str | Path | None = None,
                 smiles_column: str | None = None, id_column: str | None = None,
                 device: str = "auto", batch_size: int = 256,
                 delimiter: str | None = None,
                 domain_threshold: float = DEFAULT_THRESHOLD,
                 conformal_alpha: float | None = None) -> pd.DataFrame:
    """:func:`predict_table` for each row of the molecule file ``data``, written to ``out``.

    Args:
        model: a model directory written by ``molgraph train``.
        data: molecule file (CSV/TSV/SMI/SDF, optionally gzipped).
        out: CSV to write (optional).
        smiles_column: SMILES column (found automatically for common names).
        id_column: id column to carry over (found automatically for common names).
        device: ``auto``, ``cpu`` or ``cuda``.
        batch_size: molecules per forward pass.
        delimiter: CSV/TSV field delimiter (default: found from the file's first lines).
        domain_threshold: the least ``train_similarity`` that is ``in_domain``.
        conformal_alpha: the conformal intervals' miscoverage (default: the training's).
    """
    check_threshold(domain_threshold)
    if out is not None:  # found now, not after the predictions
        check_writable(out)
    trained = load_model(model, device)
    path = resolve_data_path(data)
    table = read_molecules(path, smiles_column, id_column=id_column, delimiter=delimiter)
    frame = predict_table(trained, table, path, batch_size, domain_threshold, conformal_alpha)
    if out is not None:
        write_csv(frame, out)
    return frame


def predict(model: Any, molecules: Sequence[str] | pd.Series | pd.DataFrame | str | Path,
            smiles_column: str | None = None, device: str = "auto", batch_size: int = 256,
            domain_threshold: float = DEFAULT_THRESHOLD,
            conformal_alpha: float | None = None) -> pd.DataFrame:
    """``molgraph.predict``: :func:`predict_table` for SMILES (a list, Series or array), a
    DataFrame (SMILES and id columns found automatically), or a molecule file; ``model`` is
    a model directory or a model in memory (``molgraph.train(...).model``);
    ``conformal_alpha``: another miscoverage for the conformal intervals than the training's."""
    trained = load_model(model, device) if isinstance(model, str | Path) else model
    if isinstance(molecules, str | Path):
        path = resolve_data_path(molecules)
        table = read_molecules(path, smiles_column)
        return predict_table(trained, table, path, batch_size, domain_threshold,
                             conformal_alpha)
    frame = molecules if isinstance(molecules, pd.DataFrame) else pd.DataFrame(
        {"smiles": list(molecules.tolist() if hasattr(molecules, "tolist") else molecules)})
    return predict_table(trained, table_from_frame(frame, smiles_column), FRAME, batch_size,
                         domain_threshold, conformal_alpha)
