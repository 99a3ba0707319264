"""Learned molecule vectors for other tools (``molgraph fingerprint``, ``molgraph.fingerprint``).

Each molecule's vector is the model's readout of its atom states before the head
(``GraphModel.embed``, ``[h]``): what Chemprop's ``fingerprint`` writes. The model is a trained
model directory or a pretrained encoder (``molgraph pretrain``). One row per input row, in
order; an invalid row keeps its place with empty values and its ``error``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molgraph.chem.frame import FRAME, table_from_frame
from molgraph.chem.parse import read_molecules
from molgraph.chem.sources import resolve_data_path
from molgraph.chem.table import MoleculeTable
from molgraph.data.dataset import featurize_cached, report_invalid
from molgraph.inference.ensemble import EnsembleModel
from molgraph.inference.loading import load_model
from molgraph.models.base import GraphModel
from molgraph.models.encoder import CARD_FILE, architecture_values, load_encoder, read_encoder
from molgraph.models.registry import build_model
from molgraph.runtime.files import check_writable, write_csv
from molgraph.runtime.system import resolve_device

log = logging.getLogger(__name__)
PREFIX = "fp_"


def vector_model(source: Any, device: str = "auto") -> GraphModel:
    """The network whose vectors to write: a pretrained encoder's directory (its card,
    ``encoder.json``), a model directory, or a trained model in memory."""
    if isinstance(source, str | Path) and (Path(source) / CARD_FILE).exists():
        card, state = read_encoder(source)
        config = {k.removeprefix("model."): v for k, v in architecture_values(card).items()}
        network = build_model(config)
        load_encoder(network, state, source)
        return network.to(resolve_device(device)).eval()
    trained = load_model(source, device) if isinstance(source, str | Path) else source
    if isinstance(trained, EnsembleModel):
        raise ValueError("an ensemble has one vector per member: give one member's directory "
                         "(DIR/model/member_0, ...)")
    return trained.model


@torch.no_grad()
def fingerprint_table(network: GraphModel, table: MoleculeTable, where: str | Path,
                      batch_size: int = 256) -> pd.DataFrame:
    """``row``, (``id``), ``smiles``, ``fp_0`` … ``fp_{h-1}`` and ``error`` per row of
    ``table``."""
    chunk = featurize_cached(table.smiles, cache_dir=None)
    errors = {**chunk.errors, **table.errors}
    report_invalid(table, errors, where)
    device = next(network.parameters()).device
    network.eval()
    parts = []
    for start in range(0, len(chunk.graphs), batch_size):
        index = np.arange(start, min(start + batch_size, len(chunk.graphs)))
        parts.append(network.embed(chunk.graphs.tensors(index).to(device)).float().cpu().numpy())
    width = network.config.hidden_channels
    vectors = np.full((len(table), width), np.nan, dtype=np.float32)
    if parts:
        vectors[chunk.valid] = np.concatenate(parts)
    frame = pd.DataFrame({"row": table.rows})
    if table.ids is not None:
        frame["id"] = table.ids
    frame["smiles"] = table.smiles
    frame = pd.concat([frame, pd.DataFrame(vectors, columns=[f"{PREFIX}{i}"
                                                             for i in range(width)])], axis=1)
    frame["error"] = [errors.get(i, "") for i in range(len(table))]
    return frame


def fingerprint(model: Any, molecules: Sequence[str] | pd.Series | pd.DataFrame | str | Path,
                out: str | Path | None = None, smiles_column: str | None = None,
                device: str = "auto", batch_size: int = 256) -> pd.DataFrame:
    """``molgraph.fingerprint``: :func:`fingerprint_table` for SMILES, a DataFrame or a
    molecule file; with ``out``, written as CSV, or Parquet when it ends in ``.parquet``."""
    if out is not None:
        check_writable(out)
    network = vector_model(model, device)
    if isinstance(molecules, str | Path):
        path = resolve_data_path(molecules)
        frame = fingerprint_table(network, read_molecules(path, smiles_column), path, batch_size)
    else:
        given = molecules if isinstance(molecules, pd.DataFrame) else pd.DataFrame(
            {"smiles": list(molecules.tolist() if hasattr(molecules, "tolist") else molecules)})
        frame = fingerprint_table(network, table_from_frame(given, smiles_column), FRAME,
                                  batch_size)
    if out is not None:
        if str(out).endswith(".parquet"):
            frame.to_parquet(out, index=False)
        else:
            write_csv(frame, out)
    return frame
