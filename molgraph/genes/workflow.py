"""Files in, trained model directory out: the one call behind ``molgraph genes train``.

``train_genes`` reads the network, features and labels, cross-validates, trains a final model on
every labelled gene, and writes the model directory with ``metrics.json``. ``rank_genes`` turns
a saved model into the ranked candidate table.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from molgraph.genes._io import PathLike
from molgraph.genes.features import FeatureBlock, read_feature_table, stack_features
from molgraph.genes.features import structural_features as _structural
from molgraph.genes.go import go_features
from molgraph.genes.graph import GeneGraph
from molgraph.genes.idmap import IdMap, MatchReport
from molgraph.genes.labels import NodeLabels, labels_from_lists, read_label_table
from molgraph.genes.parse import read_network
from molgraph.genes.saved import TrainedGeneModel, load_gene_model
from molgraph.genes.splits import Fold, kfold_splits, read_groups, read_split_assignments
from molgraph.genes.train import (
    GeneTrainConfig,
    cross_validate,
    fit_node_model,
    graph_tensors,
)
from molgraph.train import resolve_device

log = logging.getLogger(__name__)


@dataclass
class GeneDataConfig:
    """Where the network, features, labels and splits come from (paths and their options)."""

    network: str
    format: str
    network_options: dict = field(default_factory=dict)
    self_loops: str = "drop"
    largest_component: bool = False
    features: list[str] = field(default_factory=list)
    go: str | None = None
    go_min_genes: int = 10
    go_max_fraction: float = 0.05
    structural: bool = False
    labels: str | None = None
    gene_column: str | None = None
    label_columns: list[str] | None = None
    task: str | None = None
    positives: str | None = None
    negatives: str | None = None
    splits: str | None = None
    groups: str | None = None
    group_column: str = "group"
    id_map: str | None = None
    id_map_to: str | None = None


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
    return GeneData(graph, x, names, labels, matches)


def make_folds(
    data: GeneData, config: GeneDataConfig, train: GeneTrainConfig, id_map: IdMap | None = None
) -> tuple[list[Fold], list[MatchReport]]:
    """Folds from the split file if given, else (group-aware) stratified k-fold."""
    if config.splits:
        folds, report = read_split_assignments(config.splits, data.graph, data.labels, id_map,
                                               seed=train.seed, val_fraction=train.val_fraction)
        return folds, [report]
    groups, reports = None, []
    if config.groups:
        groups, report = read_groups(config.groups, data.graph, config.group_column,
                                     id_map=id_map)
        reports.append(report)
    folds = kfold_splits(data.labels, train.folds, train.seed, groups, train.val_fraction)
    return folds, reports


def train_genes(
    config: GeneDataConfig, train: GeneTrainConfig, out: PathLike
) -> dict:
    """Cross-validate, fit the final model on all labelled genes, save it and ``metrics.json``.

    The final model trains for the median of the folds' best epochs (no genes held out).
    Returns the metrics dict that is written to ``out/metrics.json``.
    """
    start = time.perf_counter()
    if train.threads:
        torch.set_num_threads(train.threads)
    id_map = _id_map(config)
    data = load_gene_data(config, id_map)
    folds, split_reports = make_folds(data, config, train, id_map)
    cv = cross_validate(data.graph, data.x, data.labels, folds, train)
    epochs = max(1, int(np.median(cv.best_epochs)))
    x_t, adj_t = graph_tensors(data.graph, data.x, resolve_device(train.device))
    labelled = np.flatnonzero(data.labels.labelled)
    fit = fit_node_model(x_t, adj_t, data.labels, labelled, None, train, epochs=epochs)
    trained = TrainedGeneModel(fit.model.cpu(), data.graph, data.x, data.feature_names,
                               data.labels, cv.oof, asdict(train))
    out = trained.save(out)
    y = data.labels.y
    metrics = {
        "task": data.labels.task, "names": data.labels.names, "model": train.model,
        "cv": cv.as_dict(), "final_epochs": epochs,
        "graph": {"genes": data.graph.num_genes, "edges": data.graph.num_edges,
                  **data.graph.report},
        "labels": {"labelled": int(data.labels.labelled.sum()),
                   "positives": int(np.nansum(y == 1)) if data.labels.task != "multiclass"
                   else None},
        "features": len(data.feature_names),
        "id_matching": [m.as_dict() for m in [*data.matches, *split_reports]],
        "config": {"data": asdict(config), "train": asdict(train)},
        "seconds": time.perf_counter() - start,
    }
    metrics = _finite(metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_json_default))
    log.info("CV AUPRC %.3f ± %.3f, AUROC %.3f ± %.3f; model saved to %s",
             cv.mean["pr_auc"], cv.std["pr_auc"], cv.mean["roc_auc"], cv.std["roc_auc"], out)
    return metrics


def _finite(value: object) -> object:
    """NaN (e.g. AUROC of a single-class fold) → ``None``, so ``metrics.json`` is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


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
