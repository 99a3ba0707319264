"""A trained gene model on disk, without pickle: everything needed to rank the genes again.

Layout of the directory::

    config.json      model constructor arguments, training settings, task, class/task names
    model.pt         weights (``torch.save(state_dict)``; loaded with ``weights_only=True``)
    genes.json       gene id of every node, in node order
    graph.npz        edges, weights, sparse features, labels, out-of-fold scores (no pickle)
    run_config.json  the whole run's settings (written by the workflow; ``--config`` reads it)
    metrics.json     cross-validation results (written by the workflow)

``config.json``'s ``"train"`` holds the :class:`~molgraph.genes.config.GeneTrainConfig` fields;
directories written before run configs hold one flat dict of model and training settings there.
Either loads: the model is rebuilt from ``"model"`` alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch_geometric.data import Data

from molgraph.genes._io import PathLike
from molgraph.genes.graph import GeneGraph
from molgraph.genes.label_use import correct_and_smooth, label_inputs
from molgraph.genes.labels import NodeLabels
from molgraph.genes.models import NodeGNN
from molgraph.genes.train import graph_tensors, node_probabilities
from molgraph.runtime.files import write_json
from molgraph.runtime.system import resolve_device

FORMAT_VERSION = 1


@dataclass
class TrainedGeneModel:
    """A model with the graph, features and labels it was trained on.

    Attributes:
        model: the trained network (eval mode).
        graph: the gene network; ``graph.genes`` names the nodes.
        x: ``[num_genes, n_features]`` sparse features; ``feature_names`` name the columns.
        labels: the training labels (NaN = unlabelled).
        oof: ``[num_genes, outputs]`` cross-validated test scores, NaN where never tested.
        train_config: the training settings as a dict (see the module docstring).
        correct_smooth: the Correct & Smooth setting applied to the outputs (``None``: off).
    """

    model: NodeGNN
    graph: GeneGraph
    x: sp.csr_matrix
    feature_names: list[str]
    labels: NodeLabels
    oof: np.ndarray
    train_config: dict
    correct_smooth: dict | None = None

    def labels_in(self, device: torch.device) -> torch.Tensor | None:
        """``[num_genes, label_channels]`` label features of every labelled gene, for a model
        that takes them (the label trick), else ``None``."""
        if self.model.label_input is None:
            return None
        return label_inputs(self.labels, np.flatnonzero(self.labels.labelled), device)

    def predict(self, device: str = "auto") -> np.ndarray:
        """Probabilities for every gene, ``[num_genes, outputs]``; a label-aware model uses
        the labels of every labelled gene."""
        dev = resolve_device(device)
        model = self.model.to(dev).eval()
        model.clear_cache()
        x, adj_t = graph_tensors(self.graph, self.x, dev)
        known = np.flatnonzero(self.labels.labelled)
        probs = node_probabilities(model, x, adj_t, self.labels, known)
        if self.correct_smooth:
            probs = correct_and_smooth(probs, self.labels, known, self.graph,
                                       **self.correct_smooth)
        return probs

    def rank(self, task: str | None = None, device: str = "auto") -> pd.DataFrame:
        """Every gene ranked by its score for ``task``: the candidate list a biologist reads.

        Args:
            task: task name (multi-label) or class name (multi-class) to rank by; default the
                only task, the first task, or the last class.

        Returns columns ``rank, gene, score, label, labelled, cv_score, degree`` (plus
        ``score:<name>`` for every output when there are several). ``score`` comes from the
        model trained on all labels, so on labelled genes it is an in-sample fit; ``cv_score``
        is their honest out-of-fold score.
        """
        names = self.labels.names
        task = task or (names[-1] if self.labels.task == "multiclass" else names[0])
        if task not in names:
            raise ValueError(f"unknown task {task!r}; choose from {names}")
        col = names.index(task)
        probs = self.predict(device)
        y = self.labels.y[:, 0 if self.labels.task == "multiclass" else col]
        if self.labels.task == "multiclass":
            label = [names[int(v)] if not np.isnan(v) else "" for v in y]
        else:
            label = [str(int(v)) if not np.isnan(v) else "" for v in y]
        table = pd.DataFrame({
            "gene": self.graph.genes, "score": probs[:, col], "label": label,
            "labelled": self.labels.labelled, "cv_score": self.oof[:, col],
            "degree": self.graph.degree(),
        })
        if len(names) > 1:
            for j, name in enumerate(names):
                table[f"score:{name}"] = probs[:, j]
        table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        return table

    def save(self, directory: PathLike) -> Path:
        """Write the model directory (created if needed); returns its path."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.cpu() for k, v in self.model.state_dict().items()}, out / "model.pt")
        config = {
            "format_version": FORMAT_VERSION, "model": self.model.config,
            "train": self.train_config, "task": self.labels.task, "names": self.labels.names,
            "feature_names": self.feature_names, "graph_report": self.graph.report,
            "correct_smooth": self.correct_smooth,
        }
        write_json(out / "config.json", config)
        write_json(out / "genes.json", self.graph.genes, indent=None)
        x = sp.csr_matrix(self.x, dtype=np.float32)
        np.savez_compressed(
            out / "graph.npz", edge_index=self.graph.data.edge_index.numpy(),
            edge_weight=self.graph.data.edge_weight.numpy(), x_data=x.data, x_indices=x.indices,
            x_indptr=x.indptr, x_shape=np.array(x.shape), y=self.labels.y, oof=self.oof,
        )
        return out


def load_gene_model(directory: PathLike) -> TrainedGeneModel:
    """Load a directory written by :meth:`TrainedGeneModel.save`."""
    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory} is not a gene model directory (no config.json)")
    config = json.loads((directory / "config.json").read_text())
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{directory}: unsupported model format {config.get('format_version')}")
    genes = json.loads((directory / "genes.json").read_text())
    arrays = np.load(directory / "graph.npz", allow_pickle=False)
    data = Data(edge_index=torch.as_tensor(arrays["edge_index"]),
                edge_weight=torch.as_tensor(arrays["edge_weight"]), num_nodes=len(genes))
    graph = GeneGraph(data, genes, dict(config.get("graph_report", {})))
    x = sp.csr_matrix((arrays["x_data"], arrays["x_indices"], arrays["x_indptr"]),
                      shape=tuple(arrays["x_shape"]))
    labels = NodeLabels(arrays["y"], config["task"], config["names"])
    model = NodeGNN(**config["model"])
    state = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return TrainedGeneModel(model, graph, x, config["feature_names"], labels, arrays["oof"],
                            config["train"], config.get("correct_smooth"))
