"""``molgraph train``: train a model on a molecule file and write model, metrics, predictions.

Every flag comes from the run configuration (``molgraph.training.config.RunConfig``), with its
default shown in ``--help``; ``--config run_config.json`` repeats an earlier run, and flags
given beside it override its settings. ``--tracking-uri`` also logs the run to MLflow
(:func:`add_tracking_options`, shared with ``molgraph genes train``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from molgraph.cli.options import add_config_options, given_values
from molgraph.training.config import RunConfig

#: Flags that keep their older, shorter spellings (the first one is shown in --help).
ALIASES = {
    "data.path": ["--data"],
    "data.cache": ["--cache"],
    "model.name": ["--model"],
    "model.hidden_channels": ["--hidden-channels", "--hidden"],
    "model.num_layers": ["--num-layers", "--layers"],
    "train.lr": ["--lr"],
    "blend": ["--blend", "--blend-svm"],
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a GNN on labelled molecules",
        description="Train a GNN on a molecule file and write DIR/model/, DIR/run_config.json, "
        "DIR/metrics.json, DIR/history.csv and DIR/test_predictions.csv.")
    p.add_argument("--config", metavar="JSON", help="run configuration to start from (e.g. "
                   "DIR/run_config.json of an earlier run); flags given override it "
                   "(default: none)")
    add_config_options(p, RunConfig, aliases=ALIASES)
    p.add_argument("--out", required=True, help="output directory")
    add_tracking_options(p)
    p.set_defaults(func=run)


def add_tracking_options(p: argparse.ArgumentParser) -> None:
    """``--tracking-uri``, ``--experiment``, ``--run-name``: where MLflow records the run."""
    group = p.add_argument_group("MLflow tracking")
    group.add_argument("--tracking-uri", nargs="?", const="", metavar="URI",
                       help="log the run (settings, per-epoch and final metrics, the output "
                       "directory) to MLflow: http://HOST:PORT, sqlite:///FILE.db, a directory "
                       "(DIR/mlflow.db), or 'local' for mlflow.db beside --out; without a value "
                       "$MLFLOW_TRACKING_URI, else 'local' (default: not logged)")
    group.add_argument("--experiment", default="molgraph", metavar="NAME",
                       help="MLflow experiment, created when missing (default: molgraph)")
    group.add_argument("--run-name", metavar="NAME",
                       help="MLflow run name (default: one MLflow makes up)")


@contextmanager
def tracked(args: argparse.Namespace, tags: dict[str, Any],
            upload: Sequence[str] | None = None,
            resume: dict[str, str] | None = None) -> Iterator[Any]:
    """An MLflow tracker when ``--tracking-uri`` is given, else ``None``. The run ends FAILED
    (the error as a tag) when the block raises; after the block the output directory (or
    only the files and folders of it named in ``upload``) is uploaded as its artifacts.
    ``resume``: tags of an earlier top-level run to continue instead of starting one (a
    sweep started again). mlflow is imported only here."""
    if args.tracking_uri is None:
        yield None
        return
    if importlib.util.find_spec("mlflow") is None:
        raise ImportError("--tracking-uri needs MLflow: pip install mlflow")
    from molgraph.tracking import mlflow_runs as runs

    given = args.tracking_uri
    uri = runs.resolve_tracking_uri(None if given in ("", "local") else given, args.out,
                                    environment=given != "local")
    tracker = None
    if resume:
        from molgraph.tracking.sweep_runs import resume_parent

        tracker = resume_parent(uri, args.experiment, resume)
        if tracker is not None:
            print(f"continuing MLflow run {tracker.run_id}")
    if tracker is None:
        tracker = runs.MlflowTracker.start(uri, args.experiment, args.run_name,
                                           tags={**tags, **(resume or {})})
    with tracker:
        yield tracker
        runs.log_run_directory(tracker, args.out, upload)
    print(f"MLflow run {tracker.run_id} (experiment {args.experiment!r}) logged to {uri}")


def build_config(args: argparse.Namespace) -> RunConfig:
    """The run configuration: ``--config`` (or the defaults) with the given flags applied."""
    base = RunConfig.load(args.config) if args.config else RunConfig()
    config = base.with_values(given_values(args))
    config.check_data()
    return config


def run(args: argparse.Namespace) -> int:
    """Train with a bar over the epochs on a terminal (log lines elsewhere), then print the
    scores as a table and, last but one, as one JSON line (for scripts)."""
    from molgraph.tracking.mlflow_runs import config_tags
    from molgraph.training.job import train
    from molgraph.training.metrics import monitored_metric
    from molgraph.training.watch import EpochProgress, metrics_table

    config = build_config(args)
    with tracked(args, config_tags(config.flat())) as tracker, \
            EpochProgress(config.train.epochs, *monitored_metric(config.task)) as watcher:
        run_ = train(config, args.out, callbacks=[watcher], tracker=tracker)
        if tracker is not None:  # the model itself, for mlflow.pyfunc and `mlflow models serve`
            from molgraph.inference.mlflow_model import log_pyfunc_model

            uri = log_pyfunc_model(args.out, tracker.tracking_uri, tracker.run_id)
            tracker.set_tags({"molgraph.model_uri": uri})
    main_metrics = ("rmse", "mae", "r2") if config.task == "regression" else ("roc_auc", "pr_auc")
    rows = dict(run_.metrics)
    if run_.blend is not None:  # the blend's parts alone, on the same test molecules
        weights = ", ".join(f"{t} {w:.1f}" for t, w in run_.blend["weights"].items())
        print(f"blend: the model's share of each prediction, chosen on validation: {weights}")
        rows[f"{config.model.name} alone test"] = run_.blend["gnn"]["test"]
        rows["svm (train+val) alone test"] = run_.blend["svm"]["test"]
    if run_.baseline is not None:  # the ECFP baseline on the same split, and the difference
        name = f"baseline {run_.baseline['best']} test"
        rows[name] = run_.baseline["test"]
        rows["test − baseline"] = {k: run_.metrics["test"][k] - run_.baseline["test"][k]
                                   for k in main_metrics}
    print(metrics_table(rows, main_metrics, tuple(rows)))
    print(json.dumps({part: {k: round(run_.metrics[part][k], 4) for k in main_metrics}
                      for part in ("val", "test")}))
    print(f"model, metrics and test predictions written to {args.out}")
    return 0
