"""Federated training across data owners on Flower: each owner's molecules and labels stay in
its client process; only weights (and molecule counts and validation scores) travel.

A federation is a server (:func:`run_server`: Flower's SuperLink and the molgraph server
app) and one client per data owner (:func:`run_client`: a Flower SuperNode serving the
owner's molecule file), as real processes on one machine or several;
:func:`run_federation` runs them all on this machine. The strategy is FedAvg or FedProx;
owners may hold different tasks (the model's tasks are the union of their columns, and each
owner's missing tasks are masked out of its loss). The server writes a normal molgraph model
directory (``OUT/model/``) with ``run_config.json`` and ``metrics.json``.

Flower's secure aggregation (SecAgg+) is not used: in Flower 1.42 it exists only for the
legacy strategies' workflow, not for the Message API strategies used here; the server sees
each owner's weights after its local training.
"""

from molgraph.federated.api import run_client, run_federation, run_server
from molgraph.federated.config import FederationConfig, OwnerConfig

__all__ = ["FederationConfig", "OwnerConfig", "run_client", "run_federation", "run_server"]
