"""An MLflow :class:`~molgraph.tracking.contracts.Tracker`: one MLflow run, addressed by its id.

Everything goes through :class:`mlflow.tracking.MlflowClient` with an explicit run id, never
the fluent ``mlflow.start_run`` API: its "active run" is per thread, so parallel sweep trials
(or a parent run and its child runs) would log into each other. ``mlflow`` is imported only
when a tracker starts, so ``import molgraph.tracking`` stays light.

Example::

    from molgraph.tracking.mlflow_runs import MlflowTracker, log_run_directory
    with MlflowTracker.start("sqlite:///runs/mlflow.db", "esol") as tracker:
        train(config, "runs/esol", tracker=tracker)   # params and metrics every epoch
        log_run_directory(tracker, "runs/esol")       # metrics.json, model/, ... as artifacts
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molgraph.tracking.store import (
    active_experiment,
    artifact_root,
    resolve_tracking_uri,
    store_paths,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: MLflow's limits (``mlflow.utils.validation``): params/tags per batch, metrics per batch,
#: characters in a param value and in a tag value.
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
PARENT_TAG = "mlflow.parentRunId"
STATUSES = ("FINISHED", "FAILED", "KILLED")
#: Dotted settings that become tags too, so runs can be filtered by them in the MLflow UI.
TAGGED = {"data.path": "molgraph.data", "data.network": "molgraph.data",
          "task": "molgraph.task", "data.task": "molgraph.task", "model.name": "molgraph.model"}


def _version() -> str:
    from molgraph import __version__

    return __version__


def _leaves(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts flattened to dotted names (``data.network_options.min_score``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _text(value: Any, limit: int) -> str:
    """A param/tag value as MLflow stores it: a string (lists and dicts as JSON), cut to
    ``limit`` characters, since MLflow rejects a longer one and with it the whole batch."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def config_tags(params: dict[str, Any]) -> dict[str, str]:
    """Tags for a run from its dotted settings: data, task and model (where present)."""
    return {tag: str(params[key]) for key, tag in TAGGED.items()
            if params.get(key) not in (None, "")}


class MlflowTracker:
    """One MLflow run. ``with`` closes it: FINISHED, or FAILED (the error as the tag
    ``molgraph.error``) when the block raises, KILLED on Ctrl-C.

    Non-finite metric values (NaN loss, ROC-AUC of a one-class validation set) are not logged:
    MLflow stores NaN/inf badly (and some back ends refuse them), so the value is left out of
    the history at that step rather than breaking plots.
    """

    def __init__(self, tracking_uri: str, run_id: str, client: MlflowClient | None = None):
        self.tracking_uri, self.run_id = tracking_uri, run_id
        self._client = client
        self.finished = False

    @classmethod
    def start(cls, tracking_uri: str | None = None, experiment: str = "molgraph",
              run_name: str | None = None, parent_run_id: str | None = None,
              tags: dict[str, Any] | None = None) -> MlflowTracker:
        """Create a run in ``experiment`` (created if missing; a deleted one is refused,
        ``ValueError``); a child run of ``parent_run_id`` when given. ``tracking_uri`` goes
        through :func:`~molgraph.tracking.store.resolve_tracking_uri`."""
        from mlflow.tracking import MlflowClient

        uri = resolve_tracking_uri(tracking_uri)
        client = MlflowClient(tracking_uri=uri)
        experiment_id = active_experiment(client, uri, experiment)
        if experiment_id is None:
            try:
                experiment_id = client.create_experiment(
                    experiment, artifact_location=artifact_root(uri, experiment))
            except Exception:  # another process created it meanwhile
                experiment_id = active_experiment(client, uri, experiment)
                if experiment_id is None:
                    raise
        all_tags = {"molgraph.version": _version(), **(tags or {})}
        if parent_run_id:
            all_tags[PARENT_TAG] = parent_run_id
        run = client.create_run(experiment_id, run_name=run_name,
                                tags={k: _text(v, MAX_TAG_LENGTH) for k, v in all_tags.items()})
        return cls(uri, run.info.run_id, client)

    def child(self, run_name: str | None = None, experiment: str | None = None,
              tags: dict[str, Any] | None = None) -> MlflowTracker:
        """A new run nested under this one (e.g. one sweep trial), in the same experiment."""
        if experiment is None:
            experiment_id = self.client.get_run(self.run_id).info.experiment_id
            experiment = self.client.get_experiment(experiment_id).name
        return MlflowTracker.start(self.tracking_uri, experiment, run_name, self.run_id, tags)

    @property
    def client(self) -> MlflowClient:
        if self._client is None:  # after unpickling in another process
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    def log_params(self, params: dict[str, Any]) -> None:
        """Log settings by dotted name (values as strings), in batches MLflow accepts; also
        tag the run with its data, task and model (:func:`config_tags`)."""
        from mlflow.entities import Param

        flat = [Param(k, _text(v, MAX_PARAM_LENGTH)) for k, v in _leaves(params).items()]
        for i in range(0, len(flat), MAX_PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=flat[i:i + MAX_PARAMS_PER_BATCH])
        self.set_tags(config_tags(params))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Log the finite values of ``metrics`` at ``step``; NaN/inf and non-numbers are left
        out."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = []
        for key, value in metrics.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                rows.append(Metric(key, number, now, int(step)))
        for i in range(0, len(rows), MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=rows[i:i + MAX_METRICS_PER_BATCH])

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        rows = [RunTag(k, _text(v, MAX_TAG_LENGTH)) for k, v in tags.items()]
        for i in range(0, len(rows), MAX_PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, tags=rows[i:i + MAX_PARAMS_PER_BATCH])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload one file (under ``artifact_path`` in the run's artifacts)."""
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, directory: str | Path, artifact_path: str | None = None) -> None:
        """Upload a directory's files, keeping its tree."""
        self.client.log_artifacts(self.run_id, str(directory), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        """End the run with ``status`` (FINISHED, FAILED or KILLED); once only."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; choose from {', '.join(STATUSES)}")
        if not self.finished:
            self.client.set_terminated(self.run_id, status)
            self.finished = True

    def __enter__(self) -> MlflowTracker:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.finish("FINISHED")
            return
        try:
            self.set_tags({"molgraph.error": f"{kind.__name__}: {error}"})
        finally:
            self.finish("KILLED" if issubclass(kind, KeyboardInterrupt) else "FAILED")

    def __repr__(self) -> str:
        return f"MlflowTracker(run_id={self.run_id!r}, tracking_uri={self.tracking_uri!r})"


def log_run_directory(tracker: MlflowTracker, out: str | Path,
                      only: Sequence[str] | None = None) -> None:
    """Upload a run directory (``metrics.json``, ``run_config.json``, ``history.csv``,
    ``test_predictions.csv``, ``model/``…) as the run's artifacts, keeping its layout; with
    ``only``, just those files and folders of it that exist. The tracker's own store, when it
    lies inside (``local``: ``OUT/mlflow.db``, ``OUT/mlartifacts/``), is left out."""
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"{out}: no run directory to log")
    if only is None:
        _upload_tree(tracker, out.resolve(), None, store_paths(tracker.tracking_uri))
        return
    for name in only:
        path = out / name
        if path.is_dir():
            tracker.log_artifacts(path, name)
        elif path.is_file():
            tracker.log_artifact(path, str(Path(name).parent) if "/" in name else None)


def _upload_tree(tracker: MlflowTracker, folder: Path, artifact_path: str | None,
                 skip: set[Path]) -> None:
    """Upload ``folder``'s contents under ``artifact_path``, except the paths in ``skip``: a
    sub-folder holding none of them goes in one call, one that does is walked."""
    for entry in sorted(folder.iterdir()):
        if entry in skip:
            continue
        inside = entry.name if artifact_path is None else f"{artifact_path}/{entry.name}"
        if not entry.is_dir():
            tracker.log_artifact(entry, artifact_path)
        elif any(path.is_relative_to(entry) for path in skip):
            _upload_tree(tracker, entry, inside, skip)
        else:
            tracker.log_artifacts(entry, inside)
