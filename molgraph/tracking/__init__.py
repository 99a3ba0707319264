"""What training tells the outside world, as contracts: ``Callback`` and ``Tracker``.

The training loops (molecules and genes) call these and know nothing of Optuna or MLflow; a
pruning callback or an MLflow tracker (:class:`~molgraph.tracking.mlflow_runs.MlflowTracker`,
which imports ``mlflow`` only when a run starts) plugs in from outside.
"""

from molgraph.tracking.contracts import Callback, StopTraining, Tracker
from molgraph.tracking.mlflow_runs import MlflowTracker, log_run_directory
from molgraph.tracking.store import resolve_tracking_uri
from molgraph.tracking.sweep_runs import ChildRuns

__all__ = ["Callback", "ChildRuns", "MlflowTracker", "StopTraining", "Tracker", "log_run_directory",
           "resolve_tracking_uri"]
