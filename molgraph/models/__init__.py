"""Graph-level models: configuration, layers, the name → model registry, and what every user
of a model needs (target scaling, batched prediction).

``molgraph.models.config`` imports no torch, so the CLI can name the models without it; the
rest is loaded on first use::

    from molgraph.models import ModelConfig, build_model
"""

from __future__ import annotations

from molgraph.runtime.lazy import lazy_exports

_PUBLIC = {
    "ModelConfig": "molgraph.models.config",
    "MODEL_NAMES": "molgraph.models.config",
    "POOLING_NAMES": "molgraph.models.config",
    "GraphModel": "molgraph.models.base",
    "MODELS": "molgraph.models.registry",
    "build_model": "molgraph.models.registry",
    "Scaler": "molgraph.models.scaling",
    "predict_graphs": "molgraph.models.predict",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _PUBLIC)
