"""The training job: data set → split → model → fit → metrics → saved model and predictions.

A run is a :class:`~molgraph.training.config.RunConfig` and a featurized data set;
:func:`train_on_dataset` trains and scores it, :func:`write_run` writes its directory. The
public entry point, from a file, a DataFrame or SMILES, is ``molgraph.train``
(``training.api``); sweeps and benchmarks that loop over settings or seeds featurize once and
call :func:`train_on_dataset`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.molfeatures import standardisation
from molgraph.chem.sources import resolve_data_path
from molgraph.data.dataset import MoleculeDataset, load_dataset
from molgraph.data.duplicates import DuplicateReport, resolve_duplicates
from molgraph.data.labels import (
    check_labels,
    check_part_labels,
    check_split_classes,
    labelled_counts,
)
from molgraph.data.memory import dataset_from_frame
from molgraph.data.predefined import (
    PART_KEYS,
    UNUSED,
    assign_parts,
    read_split_column,
    read_split_file,
    split_record,
)
from molgraph.data.split import split_indices
from molgraph.data.task_files import join_task_files
from molgraph.data.weights import read_weight_column, training_weights
from molgraph.inference.artifact import TrainedModel
from molgraph.inference.domain import Domain
from molgraph.inference.ensemble import EnsembleModel, member_distribution, spread
from molgraph.models.encoder import architecture_values, load_encoder, read_encoder
from molgraph.models.registry import build_model
from molgraph.runtime.distributed import is_main
from molgraph.runtime.encryption import active_key, sealed
from molgraph.runtime.files import write_json
from molgraph.runtime.progress import MANY_MOLECULES, step
from molgraph.runtime.system import default_threads, seed_everything
from molgraph.tracking.contracts import Callback, Tracker
from molgraph.training.baseline import SVMFit
from molgraph.training.blend import blend_members, blend_refusal
from molgraph.training.calibrate import fit_calibration, uncertainty_report
from molgraph.training.config import RunConfig
from molgraph.training.loop import FitResult, fit
from molgraph.training.metrics import compute_metrics

log = logging.getLogger(__name__)
RUN_CONFIG = "run_config.json"
#: why a differentially private model keeps no applicability domain
PRIVATE_DOMAIN = ("differentially private training: the training molecules' fingerprints "
                  "stay out of the model")
#: the split of every run, as 0-based data-row indices (``--split-file`` reads it back)
SPLIT_FILE = "split.json"


@dataclass
class TrainRun:
    """Result of a training job.

    Attributes:
        config: the run configuration (``model.out_channels`` set from the data).
        model: the trained model (best validation epoch).
        metrics: ``{"val": {...}, "test": {...}}`` in label units.
        fit: epochs, best epoch and history.
        split: indices (into the valid molecules) of train, validation and test.
        test_predictions: ``[len(test), n_targets]`` predictions for the test molecules.
        val_predictions: ``[len(val), n_targets]`` predictions for the validation molecules.
        baseline: the ECFP baselines on the same split (``training.baseline``), when fitted.
        seconds: wall time of the job.
        labels: ``[n_valid, n_targets]`` the labels trained and scored on (duplicates merged
            as ``config.data.duplicates`` says; rows left out of every split keep theirs).
        duplicates: what was found and done about repeated molecules.
        test_std: ``[len(test), n_targets]`` the predictive standard deviation: the members'
            (or MC dropout passes') spread, with a mean-variance head's variance.
        members: each member's ``val``/``test`` metrics and best epoch (ensembles).
        blend: with ``config.blend``, the weights and the scores of the GNN alone and
            the SVM alone (``training.blend``); ``metrics`` are then the blend's.
        svm: the SVM a blended run fitted (its baseline reuses it).
        uncertainty: the conformal intervals' test coverage and width (and an ensemble's
            spread against its errors), ``training.calibrate``; None without a test part.
    """

    config: RunConfig
    model: TrainedModel | EnsembleModel
    metrics: dict[str, dict[str, float]]
    fit: FitResult
    split: tuple[np.ndarray, np.ndarray, np.ndarray]
    test_predictions: np.ndarray
    seconds: float
    labels: np.ndarray
    duplicates: DuplicateReport
    val_predictions: np.ndarray
    baseline: dict | None = None
    test_std: np.ndarray | None = None
    members: list[dict] | None = None
    blend: dict | None = None
    svm: SVMFit | None = None
    uncertainty: dict | None = None

    def summary(self) -> str:
        """What was chosen and why, and the scores as a table (what ``molgraph train``
        prints)."""
        from molgraph.training.report import run_summary

        return run_summary(self)


def train_on_dataset(dataset: MoleculeDataset, config: RunConfig,
                     callbacks: Sequence[Callback] = (),
                     tracker: Tracker | None = None,
                     split: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                     ) -> TrainRun | None:
    """Split ``dataset`` as ``config`` says, train its model, evaluate on validation and test.

    Args:
        dataset: from :func:`molgraph.data.dataset.load_dataset`, with targets.
        config: the run; ``config.data`` is not read again.
        callbacks: receive each epoch's metrics (e.g. Optuna pruning).
        tracker: receives the run's settings (dotted names) and each epoch's metrics.
        split: train, validation and test indices (into the valid molecules) to use instead
            of the split ``config`` makes (a sweep's cross-validation folds); an empty test
            part gives a run without test scores (``metrics`` has no ``"test"``).

    Returns the run; ``None`` in the processes other than rank 0 of a distributed run
    (``runtime.distributed``): they train with it, rank 0 scores and writes.
    """
    started = time.perf_counter()
    source = _source(config)
    _check_labels(dataset, source)
    encoder = None
    if config.train.init_from:  # the architecture is the pretrained encoder's
        card, encoder = read_encoder(config.train.init_from)
        config = config.with_values(architecture_values(card))
        log.info("starting from the encoder in %s (%s, hidden %d, %d layers%s)",
                 config.train.init_from, config.model.name, config.model.hidden_channels,
                 config.model.num_layers, ", frozen" if config.train.freeze_encoder else "")
    y, index, duplicates = resolve_labels(dataset, config, source)
    config = config.with_values({"model.out_channels": y.shape[1]})
    train_idx, val_idx, test_idx = (make_split(dataset, index, y[index], config)
                                    if split is None else split)
    _check_split(y, train_idx, val_idx, test_idx, dataset.table.target_names, config,
                 need_test=split is None and config.split_sizes[2] > 0)
    private = config.train.dp_epsilon is not None
    if config.blend and private:
        log.info("not blended with the SVM: its support molecules' fingerprints would be saved "
                 "with the model, outside the differential privacy; the model alone")
        config = config.with_values({"blend": False})
    if config.blend:  # decided before the training, not after it
        refused = blend_refusal(len(train_idx) + len(val_idx))
        if refused:
            log.info("not blended with the SVM: %s; the model alone", refused)
            config = config.with_values({"blend": False})
    graphs = dataset.graphs
    if config.model.molecule_features:  # standardised with the training split's statistics
        u = dataset.molecule_features(config.model.molecule_features)
        mean, std = standardisation(u[train_idx], config.model.molecule_features)
        config = config.with_values({"model.molecule_mean": mean, "model.molecule_std": std})
        graphs = graphs.with_features(u)
    if tracker is not None:
        tracker.log_params(config.flat())
    parts = {"val": val_idx, **({"test": test_idx} if len(test_idx) else {})}
    weights = None
    if config.data.weight_column:
        if dataset.molecule_weights is None:
            raise ValueError(f"{source}: no weights read from column "
                             f"{config.data.weight_column!r}")
        weights = training_weights(dataset.molecule_weights, train_idx,
                                   config.data.weight_column)
    members, fits = [], []
    seen = np.concatenate([train_idx, val_idx])  # ECFP4 bits computed once per data set
    # a private model keeps no fingerprints of its training molecules (no applicability domain)
    domain = None if private else Domain.from_bits(dataset.molecule_features(("morgan",))[seen])
    for k in range(config.ensemble_size):  # the first member reports to callbacks and tracker
        seed = config.seed + k
        seed_everything(seed)
        network = build_model(config.model)
        if encoder is not None:
            load_encoder(network, encoder, config.train.init_from,
                         config.train.freeze_encoder)
        result = fit(network, (graphs.take(train_idx), y[train_idx]),
                     (graphs.take(val_idx), y[val_idx]), config.train, config.task, seed,
                     callbacks if k == 0 else (), tracker if k == 0 else None, weights)
        members.append(TrainedModel(network, config.task, dataset.table.target_names,
                                    result.scaler, device=next(network.parameters()).device,
                                    domain=domain, domain_withheld=PRIVATE_DOMAIN if private
                                    else None))
        fits.append(result)
        if config.ensemble_size > 1:
            log.info("ensemble member %d/%d (seed %d): best epoch %d", k + 1,
                     config.ensemble_size, seed, result.best_epoch)
    if not is_main():  # under torchrun, rank 0 alone scores, blends and writes
        return None
    distributions = {name: member_distribution(members, graphs.take(idx))
                     for name, idx in parts.items()}
    stacked = {name: means for name, (means, _) in distributions.items()}
    variances = {name: var for name, (_, var) in distributions.items()}
    blended = None
    if config.blend:
        with step(f"blending with an SVM on ECFP4 ({len(train_idx) + len(val_idx):,} training "
                  "and validation molecules)", log, report_above=0.0):
            blended = blend_members(members, stacked, dataset.molecule_features(("morgan",)),
                                    y, (train_idx, val_idx, test_idx), config.task,
                                    dataset.table.target_names, config.seed)
        stacked = blended.stacked
        weights = members[0].blend.weights  # a variance scales with the network's share²
        variances = {name: None if var is None else var * weights ** 2
                     for name, var in variances.items()}
    predictions = {name: p.mean(axis=0) for name, p in stacked.items()}
    metrics = {name: compute_metrics(config.task, y[idx], predictions[name])
               for name, idx in parts.items()}
    trained, report = members[0], None
    test_std = spread(stacked["test"], variances["test"]) if "test" in stacked else None
    if len(members) > 1:
        trained = EnsembleModel(members)
        report = [{"seed": config.seed + k, "best_epoch": f.best_epoch,
                   **{name: compute_metrics(config.task, y[idx], stacked[name][k])
                      for name, idx in parts.items()}} for k, f in enumerate(fits)]
    calibration = fit_calibration(config, members, y[val_idx], stacked["val"],
                                  variances["val"])
    for member in members:  # saved with each member; applies to all of them together
        member.calibration = calibration
    uncertainty = (uncertainty_report(calibration, y[test_idx], predictions["test"], test_std)
                   if "test" in predictions else None)
    no_test = np.zeros((0, y.shape[1]), dtype=np.float32)
    if fits[0].privacy is not None:  # the δ used, where the default (1 / n) chose it
        config = config.with_values({"train.dp_delta": fits[0].privacy["delta"]})
    return TrainRun(config, trained, metrics, fits[0], (train_idx, val_idx, test_idx),
                    predictions.get("test", no_test), time.perf_counter() - started, y,
                    duplicates,
                    predictions["val"], test_std=test_std, members=report,
                    blend=None if blended is None else blended.report,
                    svm=None if blended is None else blended.svm, uncertainty=uncertainty)


def _source(config: RunConfig) -> str:
    """The data as logs and messages name it."""
    source = " + ".join([config.data.path, *config.data.more_data]) or "the data set"
    return source + (f" with {config.data.test_data}" if config.data.test_data else "")


def resolve_labels(dataset: MoleculeDataset, config: RunConfig, source: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray, DuplicateReport]:
    """The labels a run trains on, ``[n_valid, n_targets]`` (duplicates merged as
    ``config.data.duplicates`` says), the indices of the molecules it keeps, and the report."""
    y = dataset.y.copy()
    given = None if dataset.parts is None else dataset.parts[dataset.valid]
    index, kept_labels, duplicates = resolve_duplicates(
        dataset.smiles, y, dataset.rows, config.task, config.data.duplicates,
        source or _source(config), dataset.canonical_smiles, given)
    y[index] = kept_labels
    return y, index, duplicates


def run_split(dataset: MoleculeDataset, config: RunConfig
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The train, validation and test indices a run with ``config`` uses."""
    y, index, _ = resolve_labels(dataset, config)
    return make_split(dataset, index, y[index], config)


def make_split(dataset: MoleculeDataset, index: np.ndarray, labels: np.ndarray,
               config: RunConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices (into the valid molecules) of the kept molecules
    ``index`` (``labels`` are theirs): the user's split (``dataset.parts``) when given, else
    ``config.split`` with its sizes and seed."""
    smiles = dataset.smiles
    if dataset.parts is None:
        with step(f"{config.split} split of {len(index):,} molecules", log,
                  announce=len(index) > MANY_MOLECULES, report_above=5.0):
            parts = split_indices([smiles[i] for i in index], config.split, config.split_sizes,
                                  config.seed, labels)
        log.info("split %s (seed %d): %d train, %d validation, %d test molecules",
                 config.split, config.seed, *map(len, parts))
        return tuple(index[p] for p in parts)
    train, val, test = config.split_sizes
    fraction = val / (train + val) if train + val > 0 else 0.1

    def draw_val(positions: np.ndarray) -> np.ndarray:  # validation from the training rows
        chosen = split_indices([smiles[index[p]] for p in positions], config.split,
                               (1 - fraction, fraction / 2, fraction / 2), config.seed,
                               labels[positions])
        # two held-out halves: a scaffold split then treats big groups as with three parts
        return np.concatenate(chosen[1:])

    given = dataset.parts[dataset.valid][index]
    parts = tuple(index[p] for p in assign_parts(given, draw_val))
    drawn = "" if (given == 1).any() else f", validation drawn from train ({config.split})"
    log.info("split given by %s: %d train, %d validation, %d test molecules%s",
             split_source(config), *map(len, parts), drawn)
    if int((given == UNUSED).sum()):
        log.info("%d molecules are in no part of the split", int((given == UNUSED).sum()))
    _report_leaks(dataset, parts)
    return parts


def split_source(config: RunConfig) -> str:
    """Where the run's split came from, for logs and ``metrics.json``."""
    data = config.data
    given = [f"column {data.split_column!r}" if data.split_column else None,
             f"file {data.split_file}" if data.split_file else None,
             f"test file {data.test_data}" if data.test_data else None]
    return " + ".join(g for g in given if g) or f"{config.split} (seed {config.seed})"


def _report_leaks(dataset: MoleculeDataset, parts: tuple[np.ndarray, ...]) -> None:
    """Warn when a given split puts one molecule (canonical SMILES) in test and in training
    or validation."""
    canonical = dataset.canonical_smiles
    seen = {canonical[i] for i in np.concatenate(parts[:2])}
    leaks = sum(canonical[i] in seen for i in parts[2])
    if leaks:
        log.warning("%d of %d test molecules are also in the training or validation part "
                    "(same canonical SMILES); their test scores are not out-of-sample", leaks,
                    len(parts[2]))


def load_run_data(config: RunConfig, cache_dir: str | Path | bool | None = True
                  ) -> MoleculeDataset:
    """The run's molecules featurized, with the split it was given (``--split-column``,
    ``--split-file``, ``--test-data``) attached as ``dataset.parts``."""
    data = config.data
    if data.more_data:  # one assay a file: joined into one multi-task table
        frame = join_task_files([data.path, *data.more_data], data.target_columns, config.task,
                                data.smiles_column, data.delimiter)
        dataset = dataset_from_frame(frame, "smiles", data.target_columns, None,
                                     cache_dir, config.task, _source(config))
    else:
        dataset = load_dataset(data.path, data.smiles_column, data.target_columns,
                               cache_dir=cache_dir, delimiter=data.delimiter, task=config.task)
    if data.split_column:
        path = resolve_data_path(data.path)
        dataset.parts = read_split_column(path, data.split_column, len(dataset.table))
    elif data.split_file:
        dataset.parts = read_split_file(data.split_file, len(dataset.table))
    if data.weight_column:
        dataset.weights = read_weight_column(resolve_data_path(data.path), data.weight_column,
                                             len(dataset.table), data.delimiter)
    if data.test_data:
        test = load_dataset(data.test_data, data.smiles_column, data.target_columns,
                            cache_dir=cache_dir, delimiter=data.delimiter, task=config.task)
        dataset = dataset.with_test_data(test)
    return dataset


def _check_labels(dataset: MoleculeDataset, source: str) -> None:
    """Refuse a data set without valid molecules or with a target that has no label."""
    if dataset.table.targets is None or not dataset.table.target_names:
        raise ValueError("training needs target columns (--target-columns)")
    if len(dataset.graphs) == 0:
        raise ValueError(f"{source}: no valid molecules to train on ({len(dataset.table)} rows, "
                         f"{len(dataset.errors)} invalid)")
    empty = [name for name, none in zip(dataset.table.target_names,
                                        np.isnan(dataset.y).all(axis=0)) if none]
    if empty:
        raise ValueError(f"{source}: target column(s) {empty} have no labels (every cell of "
                         f"the {len(dataset.graphs)} valid molecules is empty)")


def _check_split(y: np.ndarray, train: np.ndarray, val: np.ndarray, test: np.ndarray,
                 names: list[str], config: RunConfig, need_test: bool = True) -> None:
    """Refuse a split with an empty part (the test part may be empty when not
    ``need_test``), or a target without labels in the training part; for classification,
    labels other than 0/1 and parts missing a class (``molgraph.data.labels``)."""
    total = len(train) + len(val) + len(test)
    sizes = " ".join(map(str, config.split_sizes))
    given = split_source(config)
    how = f"--split {config.split}, --split-sizes {sizes}" if given.startswith(config.split) \
        else f"the split given by {given}"
    for part, index in (("training", train), ("validation", val), ("test", test)):
        if len(index) == 0 and (part != "test" or need_test):
            raise ValueError(f"{_source(config)}: the {part} split is empty ({total} "
                             f"molecules, {how}); give more molecules or another split")
    unlabelled = [n for n, none in zip(names, np.isnan(y[train]).all(axis=0)) if none]
    if unlabelled:
        raise ValueError(f"{_source(config)}: target(s) {unlabelled} have no labels in the "
                         f"training split ({len(train)} molecules); give more labelled data")
    where = config.data.path or "the data set"
    check_part_labels(y, {"val": val, "test": test}, names,
                      {"val": where, "test": config.data.test_data or where}, how)
    if config.task == "classification":  # load_run_data checked the file's rows already
        check_labels(y, None, names, config.task, config.data.path)
        check_split_classes(y, {"train": train, "val": val, "test": test}, names,
                            config.data.path, how)


def write_run(run: TrainRun, dataset: MoleculeDataset, out: str | Path) -> Path:
    """Write ``out/model/``, ``out/run_config.json``, ``out/metrics.json``, ``out/split.json``,
    ``out/history.csv``, ``out/test_predictions.csv`` and the pictures in ``out/plots/``
    (see ``molgraph.plots``)."""
    out = Path(out)
    run.model.save(out / "model")
    run.config.save(out / RUN_CONFIG)
    config = run.config
    summary = {**run.metrics, "best_epoch": run.fit.best_epoch,
               "epochs_run": len(run.fit.history), "seconds": round(run.seconds, 2),
               "n_train": len(run.split[0]), "n_val": len(run.split[1]),
               "n_test": len(run.split[2]),
               **{f"n_{part}_labelled": counts for part, counts in labelled_counts(
                   run.labels, dict(zip(PART_KEYS, run.split)), run.model.target_names).items()},
               "n_invalid": len(dataset.errors),
               "duplicates": asdict(run.duplicates),
               "data": config.data.path, "model": config.model.name, "split": split_source(config),
               "seed": config.seed, "task": config.task}
    if run.baseline is not None:
        summary["baseline"] = run.baseline
    if run.blend is not None:
        summary["blend"] = run.blend
    if run.members is not None:
        summary["ensemble"] = {"size": len(run.members), "members": run.members}
    if run.uncertainty is not None:
        summary["uncertainty"] = run.uncertainty
    if run.fit.privacy is not None:
        summary["privacy"] = {**run.fit.privacy, "not_private": _not_private(run)}
    write_json(out / "metrics.json", summary)
    write_json(out / SPLIT_FILE, split_record(
        run.split, dataset.positions, dataset.rows,
        {"data": config.data.path, "test_data": config.data.test_data}))
    pd.DataFrame(run.fit.history).to_csv(out / "history.csv", index=False)
    test, pred = run.split[2], run.test_predictions
    frame = pd.DataFrame({"row": dataset.rows[test],
                          "smiles": [dataset.smiles[i] for i in test]})
    for j, name in enumerate(run.model.target_names):
        frame[name] = run.labels[test, j]
        frame[f"{name}_pred"] = pred[:, j]
        if run.test_std is not None:
            frame[f"{name}_std"] = run.test_std[:, j]
    with sealed(out / "test_predictions.csv") as target:  # encrypted under a key
        frame.to_csv(target, index=False)
    if active_key() is not None:
        log.info("no pictures of the run: under an encryption key they would show the test "
                 "molecules' labels in plaintext")
        return out
    try:  # pictures of the run (out/plots/); matplotlib loads here, not on importing this module
        from molgraph.plots import write_run_plots

        write_run_plots(out)
    except Exception as err:  # a picture never fails a training run
        log.warning("plots of %s not written: %s: %s", out, type(err).__name__, err)
    return out


def _not_private(run: TrainRun) -> list[str]:
    """What a private run computed from its data outside the (ε, δ) guarantee."""
    said = ["the validation molecules chose the epoch and calibrate the conformal intervals "
            "(conformal.npz holds quantiles of their errors)"]
    if run.config.train.init_from:
        said.append(f"the encoder in {run.config.train.init_from} was pretrained outside this "
                    "run: its molecules are not protected (use public ones, as moses:train)")
    if run.baseline is not None:
        said.append("the ECFP baselines in metrics.json were fitted without privacy (their "
                    "scores only: they are not saved)")
    return said


def add_baseline(run: TrainRun, dataset: MoleculeDataset) -> TrainRun:
    """Fit the ECFP baselines (``training.baseline``) on ``run``'s split and labels."""
    from molgraph.training.baseline import fit_baselines

    run.baseline = fit_baselines(dataset.smiles, run.labels, run.split, run.config.task,
                                 run.config.seed,
                                 run.config.train.threads or default_threads(), run.svm)
    return run


def final_metrics(run: TrainRun) -> dict[str, float]:
    """The end-of-run scores a tracker gets: ``best_val_<metric>``, ``test_<metric>``,
    ``best_epoch`` and ``epochs_run``, ``baseline_val_*``/``baseline_test_*`` (averages over
    targets), for a blend, ``gnn_*``/``svm_*`` (each part alone) and ``blend_weight_<i>``,
    and ``conformal_test_coverage``/``_mean_width`` (an ensemble's ``spread_test_*``)."""
    scores = {f"best_val_{k}": v for k, v in run.metrics["val"].items()}
    scores.update({f"test_{k}": v for k, v in run.metrics.get("test", {}).items()})
    parts = {"baseline": run.baseline, **(run.uncertainty or {})}
    if run.blend is not None:
        parts.update(gnn=run.blend["gnn"], svm=run.blend["svm"])
        scores.update({f"blend_weight_{i}": w
                       for i, w in enumerate(run.blend["weights"].values())})
    for name, scored in parts.items():
        for part in ("val", "test") if scored is not None else ():
            if part not in scored:  # a run without a test part
                continue
            scores.update({f"{name}_{part}_{k}": v for k, v in scored[part].items()
                           if not k.rsplit("_", 1)[-1].isdigit()})
    if run.fit.privacy is not None:
        scores["dp_epsilon_spent"] = run.fit.privacy["epsilon_spent"]
    return {**scores, "best_epoch": run.fit.best_epoch, "epochs_run": len(run.fit.history)}
