"""The settings of one gene run as plain dataclasses: data, model, optimisation, folds, seed.

``GeneRunConfig`` nests ``GeneDataConfig``, ``GeneModelConfig`` and ``GeneTrainConfig``; each
field has a dotted name (``model.hidden_channels``, ``train.lr``) for the CLI flags, a sweep's
search space and ``run_config.json`` (see :mod:`molgraph.runtime.configs`). The ``Attributes:``
docstrings are the ``--help`` text. No torch here, so the CLI builds its parser without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Node model architectures (:func:`molgraph.genes.models.build_node_model` names).
MODELS = ("gcn", "gat", "sage", "mlp")
#: Network file formats (:func:`molgraph.genes.parsers.read_network` names).
FORMATS = ("string", "biogrid", "mitab", "sif", "edgelist", "graphml", "gml")
TASKS = ("binary", "multiclass", "multilabel")
CLASS_WEIGHTS = ("balanced", "none")
#: How a node model uses the training genes' labels (:mod:`molgraph.genes.label_use`).
LABEL_USES = ("none", "input", "correct_smooth", "input+correct_smooth")


@dataclass
class GeneDataConfig:
    """Where the network, features, labels and splits come from.

    Attributes:
        network: interaction file (.gz allowed).
        format: network file format.
        network_options: format-specific reader keywords (STRING info file and score threshold,
            organism, id type, edgelist header); the CLI builds them from their own flags.
        self_loops: drop or keep self-interactions.
        largest_component: keep only the largest connected component.
        features: genes x features tables (CSV/TSV, gene id in the first column).
        go: GO annotations (GAF, gene2go, or TSV with gene and go_id columns) turned into
            multi-hot features of the informative terms.
        go_min_genes: a GO term must annotate at least this many network genes.
        go_max_fraction: and at most this fraction of them.
        structural: add degree, clustering, core number and PageRank features.
        labels: label table (gene, label columns).
        gene_column: gene column of the label table (default: the first).
        label_columns: label column(s) (default: 'label', else all but the gene column).
        task: binary, multiclass or multilabel (default: inferred from the labels).
        positives: positive gene list (with negatives, instead of a label table).
        negatives: negative gene list.
        splits: given split assignments: gene, fold[, role] (replaces folds).
        groups: gene, group table: keep groups (families) on one side of every fold.
        group_column: group column of the groups table.
        id_map: id mapping table (one gene per row).
        id_map_to: its column in the network's namespace (default: the first).
    """

    network: str
    format: str = field(metadata={"choices": FORMATS})
    network_options: dict[str, Any] = field(default_factory=dict, metadata={"derived": True})
    self_loops: str = field(default="drop", metadata={"choices": ("drop", "keep")})
    largest_component: bool = False
    features: list[str] = field(default_factory=list)
    go: str | None = None
    go_min_genes: int = 10
    go_max_fraction: float = 0.05
    structural: bool = False
    labels: str | None = None
    gene_column: str | None = None
    label_columns: list[str] | None = None
    task: str | None = field(default=None, metadata={"choices": TASKS})
    positives: str | None = None
    negatives: str | None = None
    splits: str | None = None
    groups: str | None = None
    group_column: str = "group"
    id_map: str | None = None
    id_map_to: str | None = None


@dataclass
class GeneModelConfig:
    """The node model.

    Attributes:
        name: architecture.
        hidden_channels: width of every hidden layer.
        num_layers: message-passing layers.
        dropout: dropout before each layer and the head.
        heads: attention heads (gat; hidden_channels must divide by it).
        residual: add each layer's input to its output.
        input_dropout: dropout on the (sparse) input features.
        use_labels: how the training genes' labels help: none; input (labels as masked input
            features, the label trick); correct_smooth (Correct & Smooth on the outputs); or
            input+correct_smooth.
    """

    name: str = field(default="gcn", metadata={"choices": MODELS})
    hidden_channels: int = 64
    num_layers: int = 2
    dropout: float = 0.5
    heads: int = 4
    residual: bool = True
    input_dropout: float = 0.0
    use_labels: str = field(default="none", metadata={"choices": LABEL_USES})

    def __post_init__(self) -> None:
        if self.name == "gat" and self.heads > 0 and self.hidden_channels % self.heads:
            raise ValueError(f"gat: hidden_channels ({self.hidden_channels}) must divide by "
                             f"heads ({self.heads})")  # each head gets an equal share

    @property
    def label_input(self) -> bool:
        """The training labels are input features (the label trick)."""
        return self.use_labels.startswith("input")

    @property
    def correct_smooth(self) -> bool:
        """Correct & Smooth runs on the outputs."""
        return self.use_labels.endswith("correct_smooth")

    def options(self) -> dict[str, Any]:
        """:class:`~molgraph.genes.models.NodeGNN` keywords (all but the sizes and ``conv``)."""
        return dict(hidden_channels=self.hidden_channels, num_layers=self.num_layers,
                    dropout=self.dropout, heads=self.heads, residual=self.residual,
                    input_dropout=self.input_dropout)


@dataclass
class GeneTrainConfig:
    """Optimisation: full-batch Adam with early stopping on the validation AUPRC.

    Attributes:
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        epochs: most epochs per model.
        patience: stop after this many epochs without a better validation AUPRC.
        class_weight: balanced (weight classes by inverse frequency) or none.
        device: auto (CUDA when present), cpu, cuda[:N].
        threads: torch CPU threads (default: torch's own).
    """

    lr: float = 0.01
    weight_decay: float = 5e-4
    epochs: int = 300
    patience: int = 50
    class_weight: str = field(default="balanced", metadata={"choices": CLASS_WEIGHTS})
    device: str = "auto"
    threads: int | None = None


@dataclass
class GeneRunConfig:
    """One gene run: cross-validation, then a final model on every labelled gene.

    Attributes:
        data: inputs.
        model: the node model.
        train: optimisation.
        folds: cross-validation folds (ignored with given splits).
        val_fraction: fraction of each fold's training genes held out to pick the epoch.
        seed: seed of the folds, the initialisation and dropout.
        baseline: also cross-validate logistic regression, an MLP and label propagation on
            the same folds (metrics.json "baseline"; --no-baseline skips them).
    """

    data: GeneDataConfig
    model: GeneModelConfig = field(default_factory=GeneModelConfig)
    train: GeneTrainConfig = field(default_factory=GeneTrainConfig)
    folds: int = 5
    val_fraction: float = 0.1
    seed: int = 0
    baseline: bool = True


def network_options(format: str, info: str | None = None, min_score: int | None = None,
                    organism: int | None = None, id_type: str | None = None,
                    header: bool | None = None) -> dict[str, Any]:
    """``GeneDataConfig.network_options`` for ``format``: the reader keywords that apply to it
    (STRING's info file and score threshold and organism; BioGRID's and MITAB's organism and id
    type; an edge list's header), the others left out."""
    options: dict[str, Any] = {}
    if format == "string":
        options.update(info=info, min_score=min_score or 0, organism=organism)
    elif format in ("biogrid", "mitab"):
        options.update(organism=organism)
        if id_type:
            options["id_type"] = id_type
    elif format == "edgelist" and header is not None:
        options["header"] = header
    return options


def load_gene_config(path: str | Path) -> GeneRunConfig:
    """A gene run's ``run_config.json`` (or the run directory holding it); a file that is not
    one is an error naming it."""
    from molgraph.runtime.configs import from_dict

    file = Path(path) / "run_config.json" if Path(path).is_dir() else Path(path)
    try:
        return from_dict(GeneRunConfig, json.loads(file.read_text()))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{file}: cannot be read as a gene run configuration ({err})") from err
    except TypeError as err:  # a missing required setting
        raise ValueError(f"{file}: not a gene run configuration ({err})") from err
