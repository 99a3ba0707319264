"""Where and how MLflow records a job: :class:`TrackingConfig`, and :func:`tracked_run`, the run
that training, sweeps and gene runs open around their work.

Example (in a notebook)::

    from molgraph import TrackingConfig, train
    run = train("delaney.csv", ["logS"], out="runs/esol",
                tracking=TrackingConfig("sqlite:///runs/mlflow.db", experiment="esol"))
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class TrackingConfig:
    """An MLflow store and the names a run gets there.

    Attributes:
        uri: http://HOST:PORT, sqlite:///FILE.db, a directory (DIR/mlflow.db), or 'local' for
            mlflow.db in the output directory (its runs' artifacts in OUT/mlartifacts/);
            empty: $MLFLOW_TRACKING_URI, else 'local'.
        experiment: MLflow experiment, created when missing.
        run_name: MLflow run name (default: one MLflow makes up).
    """

    uri: str = ""
    experiment: str = "molgraph"
    run_name: str | None = None

    def resolved_uri(self, out: str | Path | None) -> str:
        """The tracking URI this configuration names, for a job writing to ``out``."""
        from molgraph.tracking.store import resolve_tracking_uri

        local = self.uri in ("", "local")
        return resolve_tracking_uri(None if local else self.uri, out,
                                    environment=self.uri != "local")


@contextmanager
def tracked_run(tracking: TrackingConfig | None, out: str | Path | None,
                tags: dict[str, Any], upload: Sequence[str] | None = None,
                resume: dict[str, str] | None = None, name: str | None = None
                ) -> Iterator[Any]:
    """An MLflow tracker (``tracking.mlflow_runs.MlflowTracker``) for the block, or ``None``
    without ``tracking``. The run ends FAILED (the error as a tag) when the block raises;
    after the block the output directory ``out`` (or only its files and folders named in
    ``upload``) is uploaded as the run's artifacts. ``resume``: tags of an earlier top-level
    run to continue instead of starting one (a sweep started again). ``name``: the run's name
    when ``tracking`` gives none (rather than one MLflow makes up).

    The store is opened and written (the run started) here, before the block reads any data,
    so a store that cannot be used ends the job within seconds, one line naming it
    (``ValueError`` or ``OSError``: ``tracking.store.opening_store``)."""
    if tracking is None:
        yield None
        return
    if importlib.util.find_spec("mlflow") is None:
        raise ImportError("tracking needs MLflow: pip install mlflow")
    from molgraph.tracking import mlflow_runs as runs
    from molgraph.tracking.store import opening_store
    from molgraph.tracking.sweep_runs import resume_parent

    uri = tracking.resolved_uri(out)
    with opening_store(uri, tracking.experiment):
        tracker = resume_parent(uri, tracking.experiment, resume) if resume else None
        if tracker is not None:
            log.info("continuing MLflow run %s", tracker.run_id)
        else:
            tracker = runs.MlflowTracker.start(uri, tracking.experiment,
                                               tracking.run_name or name,
                                               tags={**tags, **(resume or {})})
    with tracker:
        yield tracker
        if out is not None:
            runs.log_run_directory(tracker, out, upload)
    log.info("MLflow run %s (experiment %r) logged to %s", tracker.run_id, tracking.experiment,
             uri)
