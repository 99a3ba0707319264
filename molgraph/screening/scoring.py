"""Scoring one shard: the forward passes and the shard's result table.

The same functions run in the main process, in local worker processes and on Dask workers, so
every way of screening produces identical tables. No torch import here.

The applicability domain (``train_similarity``, ``in_domain``: ``molgraph.inference.domain``)
costs a second parse of every SMILES, about a third of the rest of the screen, so it is computed
only for the rows written: by the workers, shard by shard, when every row is written; when a
selection (top-k, threshold) is written, for the selected rows only as they are assembled
(``molgraph.screening.output.with_domain``, which also fills in any row a shard left without).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from molgraph.chem.druglike import DESCRIPTOR_COLUMNS, PAINS_COLUMN, filter_reasons
from molgraph.chem.featurize import valid_smiles
from molgraph.inference.conformal import SET, set_labels
from molgraph.inference.domain import Domain, train_similarity
from molgraph.inference.ensemble import Ensemble
from molgraph.inference.size_limit import size_notes
from molgraph.screening.library import Shard


def default_batch_size(ensemble: Ensemble) -> int:
    """Molecules per forward pass: 2048 on a GPU. On a CPU about ``8192 / hidden`` (a power of
    two from 16 to 256), so that a batch's edge states (~50 per molecule) stay in a core's L2
    cache. MOSES test end to end on 2 cores: hidden 300 took 48-52 s at 32 against 63-66 s at
    128; hidden 64 19.6-21.1 s at 128 against 21.0-21.3 s at 32."""
    if ensemble.device.type == "cuda":
        return 2048
    hidden = max(m.model.config.hidden_channels for m in ensemble.models)
    return int(min(256, max(16, 2 ** round(math.log2(8192 / hidden)))))


def score_shard(shard: Shard, ensemble: Ensemble, batch_size: int,
                cache: dict | None = None) -> np.ndarray:
    """Scores ``[len(shard), len(ensemble.columns)]``; NaN for rows without a graph.
    ``cache`` keeps what the models computed from the SMILES (a blend's ECFP4 bits). A row
    whose rdkit2d descriptors were partly left out by its size gets the reason in
    ``shard.reasons`` (its status stays ``ok``)."""
    scores = np.full((len(shard), len(ensemble.columns)), np.nan, dtype=np.float32)
    if shard.valid.any():
        scores[shard.valid] = ensemble.predict(shard.graphs, batch_size,
                                               valid_smiles(shard.smiles, shard.valid), cache)
        valid = np.flatnonzero(shard.valid)
        shard.reasons.update({int(valid[k]): note
                              for k, note in size_notes(ensemble, shard.graphs).items()})
    return scores


def shard_similarity(shard: Shard, domain: Domain | None, cache: dict | None = None
                     ) -> np.ndarray:
    """``[len(shard)]`` float32 ``train_similarity`` of the rows with a graph, NaN elsewhere
    (and throughout without a domain)."""
    out = np.full(len(shard), np.nan, dtype=np.float32)
    if shard.valid.any():
        out[shard.valid] = train_similarity(domain, valid_smiles(shard.smiles, shard.valid),
                                            cache)
    return out



def shard_frame(shard: Shard, scores: np.ndarray, columns: list[str],
                filters: list[str]) -> pd.DataFrame:
    """One row per input row: ``row``, ``id``, ``smiles``, scores (a conformal set's code
    written as the set, ``{0,1}``: ``inference.conformal``), ``status``, ``reason`` and the
    drug-likeness columns when computed."""
    n = len(shard)
    status = np.where(shard.valid, "ok", "invalid").astype(object)
    reason = np.full(n, "", dtype=object)
    for position, message in shard.reasons.items():
        reason[position] = message
    frame = pd.DataFrame({"row": np.asarray(shard.rows, dtype=np.int64), "id": shard.ids,
                          "smiles": shard.smiles})
    for j, name in enumerate(columns):
        frame[name] = set_labels(scores[:, j]) if name.endswith(SET) else scores[:, j]
    described = {}
    if shard.descriptors is not None:
        valid_pos = np.flatnonzero(shard.valid)
        for name in [c for c in (*DESCRIPTOR_COLUMNS, PAINS_COLUMN) if c in shard.descriptors]:
            values = shard.descriptors[name]
            full = pd.Series(values, index=valid_pos).reindex(range(n))
            if values.dtype.kind == "i":
                full = full.astype(f"Int{8 * values.dtype.itemsize}")
            elif values.dtype.kind == "b":
                full = full.astype("boolean")
            described[name] = full.to_numpy() if values.dtype.kind == "f" else full.array
        if filters:
            for k, why in enumerate(filter_reasons(shard.descriptors, filters)):
                if why:
                    status[valid_pos[k]] = "filtered"
                    reason[valid_pos[k]] = why
    frame["status"] = status
    frame["reason"] = reason
    for name, values in described.items():
        frame[name] = values
    return frame
