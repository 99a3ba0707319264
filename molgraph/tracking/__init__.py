"""What training tells the outside world, as contracts: ``Callback`` and ``Tracker``.

The training loops (molecules and genes) call these and know nothing of Optuna or MLflow; a
pruning callback or an MLflow tracker plugs in from outside.
"""

from molgraph.tracking.contracts import Callback, StopTraining, Tracker

__all__ = ["Callback", "StopTraining", "Tracker"]
