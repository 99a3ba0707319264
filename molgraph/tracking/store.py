"""Where a job's MLflow store is (:func:`resolve_tracking_uri`), and opening it at the start.

A job opens its store before it reads any data or trains anything (:func:`opening_store`), so
a store it cannot use ends the job within seconds, as one line naming the URI and what to do.
Left to MLflow, a closed port is retried for about 4 minutes (7 HTTP retries with exponential
backoff), a SQLite file in a read-only folder for about 2 minutes (10 attempts at an engine),
and what ends it is MLflow's own text. ``mlflow`` is imported inside the functions.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: The store's file in a folder given as the tracking URI (and in ``--out`` for ``local``), and
#: the folder beside it that keeps the artifacts of its runs.
STORE_FILE, ARTIFACTS = "mlflow.db", "mlartifacts"
#: MLflow's HTTP settings while a store is opened, unless set in the environment: one retry
#: and a few seconds for an answer (MLflow's defaults: 7 retries, 120 s).
OPENING_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
#: What follows a refusal: the kinds of store a job can log to.
CHOICES = ("--tracking-uri http://HOST:PORT (a running mlflow server), sqlite:///FILE.db, a "
           "folder (FOLDER/mlflow.db) or local (OUT/mlflow.db)")


def resolve_tracking_uri(uri: str | None = None, out: str | Path | None = None,
                         environment: bool = True) -> str:
    """The MLflow tracking URI to use: ``uri`` if it has a scheme (``http://``, ``sqlite:///``,
    ``databricks``…); a path ending in ``.db`` → that SQLite file; another path → ``DIR/mlflow.db``.
    Without ``uri``: ``$MLFLOW_TRACKING_URI`` (when ``environment``), else ``mlflow.db`` in the
    output directory ``out`` (the working directory without one), with the artifacts in
    ``mlartifacts/`` beside it: everything a run wrote is in ``out``.

    Why SQLite and not an ``mlruns/`` directory: MLflow 3 refuses the file store
    (``MlflowException``, "maintenance mode") unless ``MLFLOW_ALLOW_FILE_STORE=true``; a SQLite
    file needs no server and works with every MLflow 3 feature.
    """
    uri = uri or (os.environ.get("MLFLOW_TRACKING_URI") if environment else None)
    if not uri:
        base = Path(out).resolve() if out is not None else Path.cwd()
        return f"sqlite:///{base / STORE_FILE}"
    if re.match(r"^[a-zA-Z][\w+.-]*:", uri) or uri == "databricks":
        return uri
    path = Path(uri).expanduser().resolve()
    return f"sqlite:///{path if path.suffix in ('.db', '.sqlite') else path / STORE_FILE}"


def sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working directory, as
    SQLAlchemy reads it), or ``None`` for another store or an in-memory database."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = tracking_uri[len("sqlite:///"):].split("?")[0]
    return None if database in ("", ":memory:") else Path(database).resolve()


def artifact_root(tracking_uri: str, experiment: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite file (MLflow's own default,
    ``./mlruns``, is relative to the working directory); ``None`` lets a server decide."""
    database = sqlite_file(tracking_uri)
    if database is None:
        return None
    return (database.parent / ARTIFACTS / re.sub(r"[^\w.-]", "_", experiment)).as_uri()


def store_paths(tracking_uri: str) -> set[Path]:
    """The files and folder a SQLite store writes (the database, its journals, the artifacts
    beside it): never uploaded as a run's artifacts, which would copy the store into itself."""
    database = sqlite_file(tracking_uri)
    if database is None:
        return set()
    return {database.parent / ARTIFACTS, *(database.with_name(database.name + suffix)
                                           for suffix in ("", "-journal", "-wal", "-shm"))}


def check_sqlite(tracking_uri: str) -> None:
    """Create the folder of a SQLite store and write a file there and to the database (a table
    created and rolled back), so that a folder that cannot be written, or a file that is not a
    database, is refused now (``OSError`` naming the file) rather than after MLflow's retries."""
    database = sqlite_file(tracking_uri)
    if database is None:
        return
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=database.parent, prefix=".molgraph-probe-"):
            pass  # the folder, where the journal and the artifacts go
        with closing(sqlite3.connect(database, timeout=30, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("CREATE TABLE molgraph_write_check (x)")
            db.execute("ROLLBACK")
    except (OSError, sqlite3.Error) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise OSError(f"MLflow store {tracking_uri}: cannot write its file ({reason}); "
                      f"give {CHOICES}") from err


def active_experiment(client: MlflowClient, tracking_uri: str, experiment: str) -> str | None:
    """The id of ``experiment`` in the store, ``None`` when there is none; a deleted one is
    refused (MLflow would refuse each run in it: "must be in the 'active' state")."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    if found.lifecycle_stage != "active":
        raise ValueError(
            f"MLflow experiment {experiment!r} in {tracking_uri} is deleted: restore it "
            f"(MLFLOW_TRACKING_URI={tracking_uri} mlflow experiments restore --experiment-id "
            f"{found.experiment_id}) or give another name (--experiment)")
    return found.experiment_id


@contextmanager
def opening_store(tracking_uri: str, experiment: str) -> Iterator[None]:
    """The block in which a job opens its store and starts its run: a SQLite store is checked
    first (:func:`check_sqlite`), ``experiment`` must not be deleted, MLflow's HTTP retries are
    cut to seconds (:data:`OPENING_HTTP`; process-wide, so not while other threads log) and
    their warnings silenced, and an MLflow error becomes a ``ValueError`` naming the URI and
    what to do."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    check_sqlite(tracking_uri)
    added = {k: v for k, v in OPENING_HTTP.items() if k not in os.environ}
    os.environ.update(added)
    retries = logging.getLogger("urllib3.connectionpool")  # "Retrying (Retry(total=0, ..."
    level = retries.level
    retries.setLevel(logging.ERROR)
    try:
        active_experiment(MlflowClient(tracking_uri), tracking_uri, experiment)
        yield
    except MlflowException as err:
        raise ValueError(_refusal(tracking_uri, err)) from err
    finally:
        retries.setLevel(level)
        for key in added:
            os.environ.pop(key, None)


def _refusal(tracking_uri: str, err: Exception) -> str:
    """One line for an MLflow error met while opening ``tracking_uri``."""
    text = " ".join(str(err).split())
    if "unsupported URI" in text:
        return f"MLflow cannot use {tracking_uri!r} as a tracking store; give {CHOICES}"
    why = _no_answer(text) if tracking_uri.startswith(("http://", "https://")) else None
    if why:
        return (f"MLflow tracking server {tracking_uri} does not answer ({why}): start it "
                "(mlflow server --host HOST --port PORT) or give another --tracking-uri")
    if len(text) > 300:  # MLflow's text, to its last whole sentence in 300 characters
        text = text[:300].rsplit(". ", 1)[0]
    return f"MLflow tracking store {tracking_uri}: {text.rstrip('.')}. Check it, or give {CHOICES}"


def _no_answer(text: str) -> str | None:
    """Why a server gave no answer, read from MLflow's text of a failed request; ``None`` when
    it did answer (an error of its own)."""
    if re.search(r"timed out|timeout", text, re.IGNORECASE):
        return (f"timed out after {os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT')} s; "
                "MLFLOW_HTTP_REQUEST_TIMEOUT sets the limit")
    refused = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return refused.group(1).strip() if refused else None
