"""The one run configuration: data, task, split, seed, model and optimisation settings.

``RunConfig`` is what the CLI, the Python API and a sweep build; it round-trips through JSON
and is saved beside every trained model as ``run_config.json``, so any run can be repeated
(``molgraph train --config DIR/run_config.json``). Every setting has a dotted name
(``model.hidden_channels``, ``train.lr``, ``split``) for the CLI and search spaces. No torch here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molgraph.chem.parse import check_target_names
from molgraph.data.duplicates import POLICIES
from molgraph.data.split import SPLITS
from molgraph.inference.conformal import DEFAULT_ALPHA, check_alpha
from molgraph.models.config import ModelConfig
from molgraph.runtime.configs import flatten, from_dict, to_dict, with_values
from molgraph.runtime.files import write_json

TASKS = ("regression", "classification")
#: Models DP-SGD can train (``training.private``): their forward pass treats each molecule on its
#: own and runs under ``torch.func.vmap``; gcn, gat and gine normalise over the batch.
PRIVATE_MODELS = ("dmpnn",)
#: regression losses (``TrainConfig.loss``; ``training.loop.REGRESSION_LOSSES`` computes them);
#: classification is always binary cross-entropy
LOSSES = ("mse", "mae", "huber")


@dataclass
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: maximum epochs (early stopping on validation may end sooner).
        batch_size: molecules per step.
        lr: peak learning rate (linear warm-up from lr / 10, then exponential decay to lr / 10).
        weight_decay: AdamW weight decay.
        warmup_epochs: epochs of linear warm-up.
        patience: epochs without validation improvement before stopping (0: never stop).
        device: auto (CUDA when present), cpu, cuda or cuda:N.
        threads: torch CPU threads (default: half the CPUs, at most 4).
        dp_epsilon: differentially private training (DP-SGD) with this privacy budget ε:
            each molecule's gradient is clipped to dp_max_grad_norm and Gaussian noise is
            added, the noise set so that the whole run spends at most ε (Opacus's RDP
            accountant); molecules are drawn by Poisson sampling at rate batch_size / n.
            None: ordinary training (molgraph.training.private).
        dp_delta: the δ of (ε, δ)-DP (default: 1 / the number of training molecules).
        dp_max_grad_norm: the clipping norm C of each molecule's gradient.
        loss: a regression's loss on standardised targets: mse, mae (robust to outlying
            assay values; the OpenADMET 2026 winners' choice) or huber (δ = 1 SD).
            Classification is always trained with binary cross-entropy.
        task_weights: one loss weight per target column, in their order (default: all 1);
            they are scaled to average 1.
        init_from: a directory from ``molgraph pretrain`` (or its encoder.pt): the model
            starts from that pretrained encoder (message passing and embeddings; the head is
            new) and takes its architecture (molgraph.models.encoder). Local files only.
        freeze_encoder: with init_from, train the head alone; the encoder stays as
            pretrained.
    """

    epochs: int = 50
    batch_size: int = 50
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_epochs: int = 2
    patience: int = 20
    device: str = "auto"
    threads: int | None = None
    dp_epsilon: float | None = None
    dp_delta: float | None = None
    dp_max_grad_norm: float = 1.0
    loss: str = field(default="mse", metadata={"choices": LOSSES})
    task_weights: list[float] = field(default_factory=list)
    init_from: str | None = None
    freeze_encoder: bool = False

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        self.task_weights = [float(w) for w in self.task_weights]
        if any(not 0 <= w < float("inf") for w in self.task_weights) or \
                (self.task_weights and not sum(self.task_weights) > 0):
            raise ValueError(f"task weights must be non-negative numbers, not all 0, not "
                             f"{self.task_weights}")
        if self.freeze_encoder and not self.init_from:
            raise ValueError("--freeze-encoder keeps a pretrained encoder as it is: give the "
                             "encoder with --init-from DIR")
        if self.dp_epsilon is not None and not 0 < self.dp_epsilon < float("inf"):
            raise ValueError(f"the privacy budget dp_epsilon must be a positive number, not "
                             f"{self.dp_epsilon} (leave it out for ordinary training)")
        if self.dp_delta is not None and not 0 < self.dp_delta < 1:
            raise ValueError(f"dp_delta must be in (0, 1), not {self.dp_delta}")
        if not 0 < self.dp_max_grad_norm < float("inf"):
            raise ValueError(f"dp_max_grad_norm must be a positive number, not "
                             f"{self.dp_max_grad_norm}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")
        if self.batch_size < 2:  # batch norm needs two graphs; a batch of one is skipped
            raise ValueError(f"batch size must be at least 2, not {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, not {self.lr}")
        if self.weight_decay < 0 or self.warmup_epochs < 0 or self.patience < 0:
            raise ValueError("weight decay, warm-up epochs and patience must not be negative")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")


@dataclass
class DataConfig:
    """Where the labelled molecules come from.

    Attributes:
        path: CSV/TSV/SMI/SDF (optionally .gz), or moleculeace:NAME.
        target_columns: label columns (CSV) or SD properties (SDF).
        smiles_column: SMILES column (default: smiles, SMILES or mol).
        delimiter: CSV/TSV field delimiter: ',', ';' (ChEMBL exports), '|' or tab (default:
            found from the file's first lines).
        cache: cache featurized graphs under $MOLGRAPH_CACHE.
        duplicates: molecules given more than once: keep every row, mean (one row, mean
            label; classification: majority), or drop those whose labels disagree. Always
            reported.
        split_column: a column naming each row's part (train, val or test; no val rows:
            validation is drawn from train by --split and the seed), as MoleculeACE, TDC and
            Polaris files have; replaces the split the run would make.
        split_file: a JSON split of 0-based data-row indices, {"train": [...], "val":
            [...], "test": [...]} or Chemprop's list of one such object (a run's
            split.json reads back); rows it does not list are left out.
        test_data: a second molecule file (same SMILES and target columns) that is the test
            set; the training file gives train and validation.
        calibration_data: a labelled molecule file (same SMILES and target columns) the
            conformal intervals are calibrated on instead of the validation split, which also
            chose the epoch; molecules the model never learned from give cleaner intervals.
        weight_column: a column of non-negative per-molecule loss weights (e.g. a measure
            of confidence in each label); weights are scaled to average 1 over the training
            molecules and change the training loss only, not the metrics.
        more_data: further CSV/TSV files, each with some of the target columns (one assay a
            file): multi-task training on all of them, a molecule in several files one row
            with each file's labels, the rest missing (molgraph.data.task_files).
    """

    path: str = field(default="", metadata={"required": True})
    target_columns: list[str] = field(default_factory=list, metadata={"required": True})
    smiles_column: str | None = None
    delimiter: str | None = None
    cache: bool = True
    duplicates: str = field(default="keep", metadata={"choices": POLICIES})
    split_column: str | None = None
    split_file: str | None = None
    test_data: str | None = None
    calibration_data: str | None = None
    weight_column: str | None = None
    more_data: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.more_data and (self.split_column or self.split_file or self.weight_column):
            raise ValueError("with several task files (--more-data) the split is made by the "
                             "run: leave out --split-column, --split-file and --weight-column")
        check_target_names(self.target_columns)
        if self.split_column and self.split_file:
            raise ValueError("give the split as --split-column or --split-file, not both")
        if self.duplicates not in POLICIES:
            raise ValueError(f"unknown duplicates policy {self.duplicates!r}; choose from "
                             f"{', '.join(POLICIES)}")


@dataclass
class RunConfig:
    """A training run.

    Attributes:
        data: the labelled molecules.
        task: regression (targets standardised) or classification (0/1 per task).
        split: scaffold (Chemprop's balanced Bemis-Murcko), random or stratified.
        split_sizes: train, validation and test fractions.
        seed: fixes the split, initialisation, shuffling and dropout.
        model: the model (molgraph.models.config.ModelConfig).
        train: optimisation (TrainConfig).
        baseline: also fit ECFP4 random-forest and SVM baselines on the same split
            (metrics.json "baseline"; seconds on MoleculeNet-sized data).
        ensemble_size: models trained on the same split from seeds seed, seed+1, ...; saved
            as one model directory that predicts their mean and, as uncertainty, their
            standard deviation (predict and screen write <target>_std).
        blend: blend the model with a Tanimoto-kernel SVM on ECFP4 bits fitted on the
            same training split: w*model + (1-w)*SVM, w per target chosen on validation from
            0, 0.1, ..., 1 (w = 1, the model alone, when it wins), then the SVM refitted on
            training + validation molecules; saved with the model, used by predict and screen
            (metrics.json "blend" has the model alone and the SVM alone). On by default where
            the data allow it (at most 10,000 training + validation molecules: the SVM's
            kernel is n^2); --no-blend trains the model alone.
        conformal_alpha: miscoverage of the conformal intervals (0.1: 90 % of molecules
            like the calibration ones inside): predict and screen write <target>_lower and
            <target>_upper (regression) or <target>_set (classification), calibrated on the
            validation split or --calibration-data (molgraph.inference.conformal).
    """

    data: DataConfig = field(default_factory=DataConfig)
    task: str = field(default="regression", metadata={"choices": TASKS})
    split: str = field(default="scaffold", metadata={"choices": SPLITS})
    split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    baseline: bool = True
    ensemble_size: int = 1
    blend: bool = True
    conformal_alpha: float = DEFAULT_ALPHA

    def __post_init__(self) -> None:
        check_alpha(self.conformal_alpha)
        if self.ensemble_size < 1:
            raise ValueError(f"ensemble size must be at least 1, not {self.ensemble_size}")
        if self.model.mve and self.task != "regression":
            raise ValueError("a mean-variance head (--mve) predicts a variance of a regression "
                             "target: use it with --task regression, or leave it out")
        if self.ensemble_size > 1 and self.model.mc_samples:
            raise ValueError("choose one uncertainty: an ensemble (--ensemble-size) or MC "
                             "dropout (--mc-samples), not both")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if self.train.dp_epsilon is not None:
            self._check_private()
        if self.train.loss != "mse" and self.task != "regression":
            raise ValueError(f"--loss {self.train.loss} is a regression loss; classification "
                             "is trained with binary cross-entropy: leave --loss out")
        if self.train.loss != "mse" and self.model.mve:
            raise ValueError(f"a mean-variance head (--mve) is trained with the Gaussian "
                             f"likelihood, not --loss {self.train.loss}: choose one")
        if self.train.task_weights and len(self.train.task_weights) != \
                len(self.data.target_columns) and self.data.target_columns:
            raise ValueError(f"{len(self.train.task_weights)} task weights for "
                             f"{len(self.data.target_columns)} target columns "
                             f"({', '.join(self.data.target_columns)}): give one per target")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from {', '.join(SPLITS)}")
        self.split_sizes = tuple(float(s) for s in self.split_sizes)
        if len(self.split_sizes) != 3 or min(self.split_sizes) < 0 or \
                abs(sum(self.split_sizes) - 1.0) > 1e-6:
            raise ValueError(f"split sizes must be three fractions summing to 1, not "
                             f"{list(self.split_sizes)}")

    def _check_private(self) -> None:
        """Refuse what DP-SGD cannot make private, saying why and what to do instead."""
        if self.model.name not in PRIVATE_MODELS:
            raise ValueError(f"differentially private training (--dp-epsilon) needs a model "
                             f"that treats each molecule on its own ({', '.join(PRIVATE_MODELS)})"
                             f": {self.model.name} normalises over the batch, so one molecule's "
                             "gradient cannot be clipped alone; use --model dmpnn")
        if self.task != "classification":
            raise ValueError("differentially private training is for classification: a "
                             "regression model is saved with its training labels' mean and "
                             "SD, which DP-SGD does not protect; use --task classification")
        if self.model.molecule_features:
            raise ValueError("differentially private training cannot use --molecule-features: "
                             "they are standardised with the training molecules' mean and SD, "
                             "saved with the model without noise; leave them out")
        if self.data.weight_column:
            raise ValueError("differentially private training weighs every molecule alike "
                             "(its clipping bounds each one's influence): leave "
                             "--weight-column out")
        if self.ensemble_size > 1:
            raise ValueError(f"differentially private training trains one model: each of "
                             f"{self.ensemble_size} ensemble members would spend the budget "
                             "again; use --ensemble-size 1")

    def check_data(self) -> None:
        """Refuse a run without data or targets, naming the flags that give them."""
        if not self.data.path:
            raise ValueError("no training data: give --data FILE (or data.path)")
        if not self.data.target_columns:
            raise ValueError("training needs target columns: give --target-columns")

    def with_values(self, values: dict[str, Any]) -> RunConfig:
        """A copy with dotted-name settings changed (``{"model.hidden_channels": 64}``)."""
        return with_values(self, values)

    def flat(self) -> dict[str, Any]:
        """Every setting by dotted name, without the featurizer's vocabularies."""
        return {k: v for k, v in flatten(self).items()
                if k not in ("model.atom_vocab", "model.bond_vocab", "model.molecule_mean",
                             "model.molecule_std")}

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        if "blend_svm" in data:  # its name before blending became the default
            data = {**{k: v for k, v in data.items() if k != "blend_svm"},
                    "blend": data["blend_svm"]}
        return from_dict(cls, data)

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a ``run_config.json``; a malformed file is an error naming it."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not a molgraph run configuration ({err})") from err
