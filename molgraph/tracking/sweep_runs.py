"""A sweep's MLflow runs: one parent run per study, one child run per trial.

The parent is found again when the same sweep starts again (its ``--out`` directory and study
name are tags), so a stopped sweep continues in the same run tree instead of starting a second
parent; child runs that were RUNNING when their process died are closed as KILLED. mlflow is
imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from molgraph.tracking.mlflow_runs import PARENT_TAG, MlflowTracker, resolve_tracking_uri

#: a child run's tag naming its Optuna trial
TRIAL_TAG = "molgraph.trial"


def _quoted(value: str) -> str:
    """A string for an MLflow filter: in single quotes, or double quotes when it holds one."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def resume_parent(tracking_uri: str | None, experiment: str,
                  match: dict[str, str]) -> MlflowTracker | None:
    """The newest top-level run of ``experiment`` whose tags equal ``match``, set RUNNING
    again, or ``None`` when there is none."""
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    query = " and ".join(f"tags.`{k}` = {_quoted(str(v))}" for k, v in match.items())
    runs = [r for r in client.search_runs([found.experiment_id], filter_string=query,
                                          order_by=["attributes.start_time DESC"],
                                          max_results=20)
            if PARENT_TAG not in r.data.tags]
    if not runs:
        return None
    run_id = runs[0].info.run_id
    client.update_run(run_id, status="RUNNING")
    return MlflowTracker(uri, run_id, client)


def close_running_children(parent: MlflowTracker, reason: str,
                           ended: Callable[[int | None], bool]) -> list[str]:
    """Close as KILLED the child runs of ``parent`` still RUNNING whose trial ``ended`` (its
    number from the ``molgraph.trial`` tag, ``None`` without one): their process died while
    they ran. Their run ids."""
    experiment_id = parent.client.get_run(parent.run_id).info.experiment_id
    query = (f"tags.`{PARENT_TAG}` = {_quoted(parent.run_id)} and "
             "attributes.status = 'RUNNING'")
    closed = []
    for run in parent.client.search_runs([experiment_id], filter_string=query,
                                         max_results=1000):
        number = run.data.tags.get(TRIAL_TAG)
        if not ended(int(number) if number is not None and number.isdigit() else None):
            continue
        child = MlflowTracker(parent.tracking_uri, run.info.run_id, parent.client)
        child.set_tags({"optuna.state": "FAIL", "optuna.fail_reason": reason,
                        "molgraph.error": reason})
        child.finish("KILLED")
        closed.append(run.info.run_id)
    return closed


class ChildRuns:
    """A picklable ``(trial_number, settings) -> MlflowTracker`` factory (a sweep's
    ``tracker_factory``): one child run of ``parent_run_id`` per trial, started in whichever
    process runs the trial."""

    def __init__(self, tracking_uri: str, experiment: str, parent_run_id: str) -> None:
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.parent_run_id = parent_run_id

    def __call__(self, number: int, settings: dict[str, Any]) -> MlflowTracker:
        return MlflowTracker.start(self.tracking_uri, self.experiment, f"trial {number}",
                                   self.parent_run_id, tags={TRIAL_TAG: number})
