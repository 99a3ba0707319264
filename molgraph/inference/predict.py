"""Predict with a saved model on a molecule file, keeping every input row in order.

An invalid row keeps its place: its predictions are empty and ``error`` says why, so the
output lines up with the input row for row. Each valid row says how near it is to the molecules
the model learned from (``train_similarity``, ``in_domain``: ``molgraph.inference.domain``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.featurize import valid_smiles
from molgraph.chem.parse import read_molecules
from molgraph.chem.sources import resolve_data_path
from molgraph.data.dataset import featurize_cached, report_invalid
from molgraph.inference.domain import (
    DEFAULT_THRESHOLD,
    IN_DOMAIN,
    SIMILARITY,
    check_threshold,
    in_domain,
    train_similarity,
)
from molgraph.inference.ensemble import EnsembleModel
from molgraph.inference.loading import load_model
from molgraph.runtime.files import check_writable


def predict_file(model: str | Path, data: str | Path, out: str | Path | None = None,
                 smiles_column: str | None = None, id_column: str | None = None,
                 device: str = "auto", batch_size: int = 256,
                 delimiter: str | None = None,
                 domain_threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Predictions for each row of ``data``: ``row``, (``id``), ``smiles``, one column per
    target (``<target>_pred``; an ensemble adds ``<target>_std``), ``train_similarity`` and
    ``in_domain`` (empty for invalid rows, and for a model saved without a domain) and
    ``error`` (empty when the row is valid).

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
    """
    if batch_size < 1:
        raise ValueError(f"batch size (--batch-size) must be at least 1, not {batch_size}")
    check_threshold(domain_threshold)
    if out is not None:  # found now, not after the predictions
        check_writable(out)
    trained = load_model(model, device)
    path = resolve_data_path(data)
    table = read_molecules(path, smiles_column, id_column=id_column, delimiter=delimiter)
    chunk = featurize_cached(table.smiles, cache_dir=None)
    errors = {**chunk.errors, **table.errors}
    report_invalid(table, errors, path)
    n_targets = len(trained.target_names)
    pred = np.full((len(table), n_targets), np.nan, dtype=np.float32)
    std = np.full_like(pred, np.nan) if isinstance(trained, EnsembleModel) else None
    smiles, cache = valid_smiles(table.smiles, chunk.valid), {}  # cache: ECFP4 bits, shared
    if std is not None:  # an ensemble: the members' mean and, as uncertainty, their spread
        members = trained.predict_members(chunk.graphs, batch_size, smiles, cache)
        pred[chunk.valid], std[chunk.valid] = members.mean(axis=0), members.std(axis=0)
    else:
        pred[chunk.valid] = trained.predict_graphs(chunk.graphs, batch_size, smiles, cache)
    similarity = np.full(len(table), np.nan, dtype=np.float32)
    similarity[chunk.valid] = train_similarity(trained.domain, smiles, cache)
    frame = pd.DataFrame({"row": table.rows})
    if table.ids is not None:
        frame["id"] = table.ids
    frame["smiles"] = table.smiles
    for j, name in enumerate(trained.target_names):
        frame[f"{name}_pred"] = pred[:, j]
        if std is not None:
            frame[f"{name}_std"] = std[:, j]
    frame[SIMILARITY] = similarity
    frame[IN_DOMAIN] = in_domain(similarity, domain_threshold)
    frame["error"] = [errors.get(i, "") for i in range(len(table))]
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
    return frame
