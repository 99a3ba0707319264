"""Models by name: what the CLI, a saved model and a sweep's search space choose from."""

from __future__ import annotations

from molgraph.models.base import GraphModel
from molgraph.models.config import ModelConfig
from molgraph.models.dmpnn import DMPNNModel
from molgraph.models.pyg_models import AttentiveFPModel, GATModel, GCNModel, GINEModel

#: Keys: ``molgraph.models.config.MODEL_NAMES``.
MODELS: dict[str, type[GraphModel]] = {
    "dmpnn": DMPNNModel,
    "gcn": GCNModel,
    "gat": GATModel,
    "gine": GINEModel,
    "attentivefp": AttentiveFPModel,
}


def build_model(config: ModelConfig | dict) -> GraphModel:
    """The model named by ``config.name``, built from a config or its plain-dict form."""
    if isinstance(config, dict):
        config = ModelConfig(**config)
    return MODELS[config.name](config)
