"""Shadow models for the audit, trained by molgraph as the target was, on halves of the
population, and the predictions of target and shadows on every population molecule.

A shadow repeats the target's run configuration (model, optimisation, blend, ensemble size)
with three changes: its training molecules are a random half of the population (each
molecule in for half the shadows, out for the others: the "online" attack), no baseline is
fitted inside it (the audit fits its own, below) and its test part is empty. Its validation
molecules, a random ``val / (train + val)`` share like the target's, come from its half when
the target blends (the target's SVM was refitted on its validation molecules, so those are
members) and from the other half when it does not (then they only chose the epoch, as the
target's did, and count as out).

The ECFP baseline audited is the family (forest or SVM) and setting the run's ``metrics.json``
chose, refitted on the target's training molecules and on each shadow's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from molgraph.chem.fingerprints import morgan_bits
from molgraph.data.dataset import MoleculeDataset
from molgraph.inference.artifact import TrainedModel
from molgraph.privacy.audit_membership import AUDITED, Population
from molgraph.training.baseline import fit_forest, refit_svm
from molgraph.training.config import RunConfig
from molgraph.training.job import train_on_dataset

log = logging.getLogger(__name__)
#: the baseline audited when the run fitted none (``--no-baseline``)
DEFAULT_BASELINE = ("rf", {"max_features": "sqrt"})


@dataclass
class Shadows:
    """What the shadow models predicted and trained on.

    Attributes:
        predictions: per audited part, ``[K, n, T]`` predictions on the population.
        trained_on: per audited part, ``[K, n]`` bool, the molecules each shadow learned.
        seeds: each shadow's training seed.
        epochs: the epochs each shadow trained for (the target's unless overridden).
    """

    predictions: dict[str, np.ndarray]
    trained_on: dict[str, np.ndarray]
    seeds: list[int]
    epochs: int


def halves(n: int, shadows: int, seed: int) -> np.ndarray:
    """``[shadows, n]`` bool: each molecule in for ``shadows // 2`` shadows chosen at random
    (Carlini et al.'s balanced assignment), so every molecule has in and out models."""
    if shadows < 2:
        raise ValueError(f"the audit needs at least 2 shadow models, not {shadows}")
    keys = np.random.default_rng(seed).random((shadows, n))
    return keys.argsort(axis=0).argsort(axis=0) < shadows // 2


def network_alone(model) -> TrainedModel | None:
    """A blended single model's network without its SVM; ``None`` for any other model."""
    if not isinstance(model, TrainedModel) or model.blend is None:
        return None
    return TrainedModel(model.model, model.task, model.target_names, model.scaler,
                        device=model.device)


def predict_parts(model, dataset: MoleculeDataset, pop: Population) -> dict[str, np.ndarray]:
    """``[n, T]`` predictions on the population of the model as it is and, when it blends, of
    its network alone."""
    graphs = dataset.graphs.take(pop.index)
    smiles = [dataset.smiles[i] for i in pop.index]
    out = {"model": model.predict_graphs(graphs, smiles=smiles)}
    network = network_alone(model)
    if network is not None:
        out["network"] = network.predict_graphs(graphs, smiles=smiles)
    return out


def baseline_predictions(family: str, setting: dict, bits: np.ndarray, labels: np.ndarray,
                         train: np.ndarray, task: str, seed: int, threads: int) -> np.ndarray:
    """``[n, T]`` predictions of the ECFP ``family`` with ``setting`` fitted on ``train``
    (positions among ``bits`` ``[n, 2048]`` and ``labels`` ``[n, T]``)."""
    if family == "svm":
        return refit_svm(setting, bits, labels, train, task, seed).predict(bits)
    return fit_forest(setting, task, bits, labels, train, np.arange(len(bits)), seed, threads)


def shadow_config(config: RunConfig, blended: bool, epochs: int | None, threads: int,
                  where: str) -> RunConfig:
    """The target's configuration as a shadow repeats it (see the module docstring) on the
    population read from ``where`` (named in messages)."""
    values = {"baseline": False, "blend": blended, "train.threads": threads, "data.path": where,
              "data.split_file": None, "data.split_column": None, "data.test_data": None,
              "data.calibration_data": None}
    if epochs is not None:
        values["train.epochs"] = epochs
    return config.with_values(values)


def train_shadows(dataset: MoleculeDataset, pop: Population, config: RunConfig, blended: bool,
                  baseline: tuple[str, dict], shadows: int, seed: int, epochs: int | None,
                  threads: int, where: str = "the population") -> Shadows:
    """Train ``shadows`` models as the target was (``config``) on halves of ``pop`` and fit the
    ``baseline`` (family, setting) on the same halves; their predictions on every molecule."""
    chosen = halves(len(pop.index), shadows, seed)
    config = shadow_config(config, blended, epochs, threads, where)
    train, val, _ = config.split_sizes
    share = val / (train + val) if train + val > 0 else 0.1
    bits = morgan_bits([dataset.smiles[i] for i in pop.index])
    preds: dict[str, list[np.ndarray]] = {part: [] for part in AUDITED}
    trained_on: dict[str, list[np.ndarray]] = {part: [] for part in AUDITED}
    seeds = [seed * 10_000 + k + 1 for k in range(shadows)]
    for k, inside in enumerate(chosen):
        rng = np.random.default_rng(seeds[k])
        in_pos, out_pos = np.flatnonzero(inside), np.flatnonzero(~inside)
        n_val = max(2, round(len(in_pos) * share))
        val_pos = rng.choice(in_pos if blended else out_pos, n_val, replace=False)
        train_pos = np.setdiff1d(in_pos, val_pos)
        log.info("shadow model %d/%d: %d training, %d validation molecules (seed %d)", k + 1,
                 shadows, len(train_pos), len(val_pos), seeds[k])
        try:
            run = train_on_dataset(dataset, config.with_values({"seed": seeds[k]}),
                                   split=(pop.index[train_pos], pop.index[val_pos],
                                          np.zeros(0, dtype=np.int64)))
        except ValueError as err:  # e.g. a rare class missing from a half of a small population
            raise ValueError(f"shadow model {k + 1} of {shadows} cannot be trained on its half "
                             f"of the population: {err}; audit with more molecules") from err
        for part, values in predict_parts(run.model, dataset, pop).items():
            preds[part].append(values)
        preds["baseline"].append(baseline_predictions(*baseline, bits, pop.labels, train_pos,
                                                      config.task, seeds[k], threads))
        learned = np.zeros(len(pop.index), dtype=bool)
        learned[train_pos] = True
        trained_on["model"].append(inside if blended else learned)
        trained_on["network"].append(learned)
        trained_on["baseline"].append(learned)
    return Shadows({p: np.stack(v) for p, v in preds.items() if v},
                   {p: np.stack(v) for p, v in trained_on.items()}, seeds,
                   config.train.epochs)
