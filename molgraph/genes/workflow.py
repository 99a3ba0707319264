"""Files in, trained model directory out: the one call behind ``molgraph genes train``.

``train_genes`` reads the network, features and labels, cross-validates, fits the classical
baselines on the same folds (:mod:`molgraph.genes.baseline`), trains a final model on every
labelled gene, and writes the model directory with ``run_config.json`` (the
:class:`GeneRunConfig`, which ``--config`` reads back), ``metrics.json`` and ``folds.csv``.
``rank_genes`` turns a saved model into the ranked candidate table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from molgraph.genes._io import PathLike
from molgraph.genes.baseline import fit_gene_baselines
from molgraph.genes.config import GeneDataConfig, GeneRunConfig
from molgraph.genes.features import FeatureBlock, read_feature_table, stack_features
from molgraph.genes.features import structural_features as _structural
from molgraph.genes.go import go_features
from molgraph.genes.graph import GeneGraph
from molgraph.genes.idmap import IdMap, MatchReport
from molgraph.genes.labels import (
    NodeLabels,
    check_learnable,
    labels_from_lists,
    read_label_table,
)
from molgraph.genes.parsers import read_network
from molgraph.genes.report import log_cv
from molgraph.genes.saved import TrainedGeneModel, load_gene_model
from molgraph.genes.splits import Fold, kfold_splits, read_groups, read_split_assignments
from molgraph.genes.train import cross_validate, fit_node_model, graph_tensors
from molgraph.runtime.configs import flatten, to_dict
from molgraph.runtime.files import write_json
from molgraph.runtime.system import resolve_device
from molgraph.tracking.config import TrackingConfig, tracked_run
from molgraph.tracking.contracts import Callback, Tracker

log = logging.getLogger(__name__)


@dataclass
class GeneData:
    """Everything a model needs, aligned to ``graph.genes``."""

    graph: GeneGraph
    x: sp.csr_matrix  # [num_genes, n_features]
    feature_names: list[str]
    labels: NodeLabels
    matches: list[MatchReport]


def _id_map(config: GeneDataConfig) -> IdMap | None:
    return IdMap.from_table(config.id_map, to=config.id_map_to) if config.id_map else None


def load_gene_data(config: GeneDataConfig, id_map: IdMap | None = None) -> GeneData:
    """Read the network, feature blocks and labels named in ``config``.

    ``id_map`` defaults to the table named by ``config.id_map``.
    """
    graph = read_network(config.network, config.format, self_loops=config.self_loops,
                         largest_component=config.largest_component, **config.network_options)
    id_map = id_map or _id_map(config)
    blocks: list[FeatureBlock] = [read_feature_table(p, graph, id_map=id_map)
                                  for p in config.features]
    if config.go:
        blocks.append(go_features(graph, config.go, config.go_min_genes, config.go_max_fraction,
                                  id_map=id_map))
    if config.structural:
        blocks.append(_structural(graph))
    x, names = stack_features(blocks, graph.num_genes)
    if config.labels and (config.positives or config.negatives):
        raise ValueError("give either a label table or positive/negative lists, not both")
    if config.labels:
        labels = read_label_table(config.labels, graph, config.gene_column, config.label_columns,
                                  config.task, id_map)
    elif config.positives and config.negatives:
        labels = labels_from_lists(graph, config.positives, config.negatives, id_map)
    else:
        raise ValueError("labels are needed: a label table, or both positive and negative lists")
    matches = [b.match for b in blocks if b.match is not None] + labels.matches
    check_learnable(labels, graph, matches, config.network)
    return GeneData(graph, x, names, labels, matches)


def make_folds(
    data: GeneData, config: GeneRunConfig, id_map: IdMap | None = None
) -> tuple[list[Fold], list[MatchReport]]:
    """Folds from the split file if given, else (group-aware) stratified k-fold."""
    if config.data.splits:
        folds, report = read_split_assignments(config.data.splits, data.graph, data.labels,
                                               id_map, seed=config.seed,
                                               val_fraction=config.val_fraction)
        return folds, [report]
    groups, reports = None, []
    if config.data.groups:
        groups, report = read_groups(config.data.groups, data.graph, config.data.group_column,
                                     id_map=id_map)
        reports.append(report)
    folds = kfold_splits(data.labels, config.folds, config.seed, groups, config.val_fraction)
    return folds, reports


def folds_table(folds: list[Fold], genes: Sequence[str]) -> pd.DataFrame:
    """``gene, fold, role`` rows (role train/val/test): the layout ``--splits`` reads back."""
    parts = [pd.DataFrame({"gene": np.asarray(genes, dtype=object)[nodes], "fold": i,
                           "role": role})
             for i, fold in enumerate(folds)
             for role, nodes in (("train", fold.train), ("val", fold.val), ("test", fold.test))]
    return pd.concat(parts, ignore_index=True)


def train_genes(
    config: GeneRunConfig, out: PathLike, callbacks: Sequence[Callback] = (),
    tracker: Tracker | None = None, tracking: TrackingConfig | None = None,
) -> dict:
    """Cross-validate, fit the baselines on the same folds, fit the final model on all
    labelled genes, save it and its records.

    The final model trains for the median of the folds' best epochs (no genes held out), and
    with Correct & Smooth uses the setting most folds chose.
    ``out`` gets the model, ``run_config.json``, ``metrics.json`` (``"baseline"`` beside
    ``"cv"`` unless ``config.baseline`` is off) and ``folds.csv`` (every fold's genes, which
    the GNN and the baselines share). The tracker gets the run's settings by dotted name, and
    it and the callbacks every epoch's metrics (prefixed ``fold{i}_`` in cross-validation,
    ``final_`` for the final model).
    With ``tracking``, all of it is one MLflow run (the CV scores, the output directory).
    Returns the metrics dict that is written to ``out/metrics.json``.
    """
    if tracking is not None:
        tags = {"molgraph.data": config.data.network, "molgraph.model": config.model.name}
        name = f"{config.model.name} on {Path(config.data.network).stem}"
        with tracked_run(tracking, out, tags, name=name) as opened:
            metrics = train_genes(config, out, callbacks, opened)
            log_cv(opened, metrics)
        return metrics
    start = time.perf_counter()
    if tracker is not None:
        tracker.log_params(flatten(config))
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    id_map = _id_map(config.data)
    data = load_gene_data(config.data, id_map)
    folds, split_reports = make_folds(data, config, id_map)
    cv = cross_validate(data.graph, data.x, data.labels, folds, config.model, config.train,
                        seed=config.seed, callbacks=callbacks, tracker=tracker)
    baseline = (fit_gene_baselines(data.graph, data.x, data.labels, folds, config.seed)
                if config.baseline else None)
    epochs = max(1, int(np.median(cv.best_epochs)))
    x_t, adj_t = graph_tensors(data.graph, data.x, resolve_device(config.train.device))
    labelled = np.flatnonzero(data.labels.labelled)
    fit = fit_node_model(x_t, adj_t, data.labels, labelled, None, config.model, config.train,
                         seed=config.seed, epochs=epochs, callbacks=callbacks, tracker=tracker,
                         prefix="final_")
    trained = TrainedGeneModel(fit.model.cpu(), data.graph, data.x, data.feature_names,
                               data.labels, cv.oof, to_dict(config.train),
                               _most_chosen(cv.correct_smooth))
    out = trained.save(out)
    write_json(out / "run_config.json", to_dict(config))
    folds_table(folds, data.graph.genes).to_csv(out / "folds.csv", index=False)
    y = data.labels.y
    metrics = {
        "task": data.labels.task, "names": data.labels.names, "model": config.model.name,
        "cv": cv.as_dict(), **({"baseline": baseline} if baseline is not None else {}),
        "final_epochs": fit.best_epoch,
        "graph": {"genes": data.graph.num_genes, "edges": data.graph.num_edges,
                  **data.graph.report},
        "labels": {"labelled": int(data.labels.labelled.sum()),
                   "positives": int(np.nansum(y == 1)) if data.labels.task != "multiclass"
                   else None},
        "features": len(data.feature_names),
        "id_matching": [m.as_dict() for m in [*data.matches, *split_reports]],
        "config": to_dict(config),
        "seconds": time.perf_counter() - start,
    }
    write_json(out / "metrics.json", metrics)
    log.info("CV AUPRC %.3f ± %.3f, AUROC %.3f ± %.3f; model saved to %s",
             cv.mean["pr_auc"], cv.std["pr_auc"], cv.mean["roc_auc"], cv.std["roc_auc"], out)
    return metrics


def _most_chosen(settings: list[dict]) -> dict | None:
    """The setting most folds chose (the earliest on ties); ``None`` for none."""
    keys = [tuple(sorted(s.items())) for s in settings]
    return dict(max(keys, key=keys.count)) if keys else None


def rank_genes(
    model_dir: PathLike, out: PathLike | None = None, task: str | None = None,
    device: str = "auto",
) -> pd.DataFrame:
    """Rank every gene with a saved model; write the table as CSV when ``out`` is given."""
    table = load_gene_model(model_dir).rank(task, device)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    return table
