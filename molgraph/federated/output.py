"""The directory a federation leaves: a normal molgraph model (``OUT/model/``, for ``predict``,
``screen``, ``explain``), ``run_config.json`` (the federation's settings, its task list and
model included) and ``metrics.json`` (rounds, owners, payload bytes, seconds, scores).

The model carries no applicability domain, SVM blend or conformal calibration: each would
need the owners' molecules or labels in one place.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from molgraph.federated.config import FederationConfig
from molgraph.inference.artifact import TrainedModel
from molgraph.models.scaling import Scaler
from molgraph.runtime.files import write_json

#: written by the server app when the run fails, read by the process that started it
ERROR_FILE = "federation_error.txt"


def write_federation(out: Path, federation: FederationConfig, network: nn.Module,
                     scaler: Scaler, record: dict) -> Path:
    """Write ``out/model/``, ``out/run_config.json`` and ``out/metrics.json``.

    ``record``: ``kept_round`` (the round whose model ``network`` holds), ``rounds`` (one
    dict per round: ``bytes_to_clients``, ``bytes_from_clients`` (weights only),
    ``clients_trained``, ``failures``, ``train`` and ``val`` metrics by owner, the ``score``
    that chose the round kept, ``seconds``), ``clients`` (each owner's tasks and molecule
    counts) and ``seconds``."""
    out = Path(out)
    TrainedModel(network, federation.task, federation.target_columns, scaler,
                 domain_withheld="federated training: no owner's molecules leave it").save(
        out / "model")
    federation.save(out / "run_config.json")
    rounds = [{k: v for k, v in r.items() if k != "started"} for r in record["rounds"]]
    summary = {
        "mode": "federated", "strategy": federation.strategy, "task": federation.task,
        "target_columns": federation.target_columns, "rounds_run": len(rounds),
        "clients": record["clients"], "rounds": rounds,
        "bytes_per_round": [r["bytes_to_clients"] + r["bytes_from_clients"] for r in rounds],
        "final_val": rounds[-1]["val"] if rounds else {},
        "kept_round": record["kept_round"],
        "kept_val": next((r["val"] for r in rounds if r["round"] == record["kept_round"]), {}),
        "seconds": record["seconds"], "seed": federation.seed}
    write_json(out / "metrics.json", summary)
    (out / ERROR_FILE).unlink(missing_ok=True)
    return out
