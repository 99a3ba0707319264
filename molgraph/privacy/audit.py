"""``molgraph audit``: how much a trained model gives away about the molecules it trained on.

A membership-inference attack asks, for each molecule of a population drawn like the
training data, whether the model trained on it. Krüger et al. (J. Cheminf. 17:38, 2025) found
training molecules of published molecular models on every data set they tried, actives most;
the figures that matter are the true-positive rates at very low false-positive rates. The
audit runs LiRA and RMIA (``audit_attacks``) with shadow models trained by molgraph with the
run's own settings (``audit_shadows``) on the model as saved, on its network alone (a blended
model) and on the run's ECFP baseline, side by side, and says what the model directory itself
stores about its training molecules.

Example (in a notebook)::

    import molgraph
    result = molgraph.audit_model("runs/bbbp", "bbbp.csv", out="runs/bbbp/audit", shadows=8)
    print(result.summary())
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.fingerprints import morgan_bits
from molgraph.data.dataset import MoleculeDataset, load_dataset
from molgraph.data.memory import dataset_from_frame
from molgraph.inference.loading import load_model
from molgraph.inference.model_dir import CONFORMAL_FILE, member_dirs
from molgraph.privacy.audit_attacks import (
    FPRS,
    PER_MOLECULE_VARIANCE,
    AttackFigures,
    attack_figures,
    likelihoods,
    lira_scores,
    rmia_scores,
    statistics,
)
from molgraph.privacy.audit_membership import Population, population
from molgraph.privacy.audit_shadows import (
    DEFAULT_BASELINE,
    Shadows,
    baseline_predictions,
    predict_parts,
    train_shadows,
)
from molgraph.runtime.encryption import read_bytes
from molgraph.runtime.files import check_writable, write_json
from molgraph.training.config import RunConfig
from molgraph.training.job import RUN_CONFIG

log = logging.getLogger(__name__)
ATTACKS = ("lira", "rmia")
PART_NAMES = {"model": "model as saved", "network": "network alone", "baseline": "ECFP baseline"}


@dataclass
class AuditResult:
    """The audit of one model.

    Attributes:
        figures: ``{attack: {part: AttackFigures}}``, parts ``model``, ``network`` (a
            blended model's network alone) and ``baseline``.
        stored: what the model directory holds about training molecules, one entry per file.
        settings: how the audit ran (shadows, epochs, seeds, membership, statistics).
    """

    figures: dict[str, dict[str, AttackFigures]]
    stored: list[dict]
    settings: dict

    @property
    def least_fpr(self) -> float:
        """The smallest false-positive rate above 0 the non-members resolve."""
        return min(f.fpr_resolution for parts in self.figures.values() for f in parts.values())

    @property
    def holds_training_molecules(self) -> bool:
        return any(entry["structures"] for entry in self.stored)

    def to_dict(self) -> dict:
        """What ``audit.json`` holds."""
        return {"figures": {a: {p: f.summary() for p, f in parts.items()}
                            for a, parts in self.figures.items()},
                "model_directory_holds_training_molecules": self.holds_training_molecules,
                "verdict": self.verdict,
                "stored": self.stored, "settings": self.settings}

    def summary(self) -> str:
        """The figures as a table, and what the model directory stores."""
        lines = [f"{'audited':<16}{'attack':<7}{'AUC':>7}{'TPR@0.1%':>10}{'TPR@1%':>9}"
                 f"{'exposed@FPR0':>14}{'(actives)':>10}{'members/non':>14}"]
        for attack, parts in self.figures.items():
            for part, f in parts.items():
                actives = "" if f.exposed_actives_at_fpr0 is None else \
                    str(f.exposed_actives_at_fpr0)
                lines.append(f"{PART_NAMES[part]:<16}{attack:<7}{f.auc:>7.3f}"
                             f"{f.tpr_at_fpr[str(FPRS[0])]:>10.4f}"
                             f"{f.tpr_at_fpr[str(FPRS[1])]:>9.4f}{f.exposed_at_fpr0:>14}"
                             f"{actives:>10}{f'{f.members}/{f.non_members}':>14}")
        if self.least_fpr > FPRS[0]:
            lines.append(f"with these few non-members the least FPR is {self.least_fpr:.4f}: a "
                         "TPR at a lower FPR is the TPR at FPR 0")
        lines.append(self.verdict)
        lines += [entry["says"] for entry in self.stored]
        return "\n".join(lines)

    @property
    def verdict(self) -> str:
        """Whether the model directory itself gives training molecules away, plainly."""
        if not self.holds_training_molecules:
            return "the model directory stores no fingerprints of its training molecules"
        files = ", ".join(e["file"] for e in self.stored if e["structures"])
        return (f"THE MODEL DIRECTORY HOLDS ITS TRAINING MOLECULES' FINGERPRINTS ({files}): "
                "whoever receives it can test any molecule for membership exactly, whatever "
                "the attacks find; share predictions, or the directory only with those "
                "allowed to see the training molecules")

    def write(self, out: str | Path) -> Path:
        """Write ``out/audit.json`` and ``out/roc.png``."""
        from molgraph.privacy.audit_roc import roc_picture

        out = Path(out)
        write_json(out / "audit.json", self.to_dict())
        styles = dict(zip(ATTACKS, ("-", ":")))
        curves = {f"{PART_NAMES[p]}, {a.upper()}": (f.fpr, f.tpr, f.auc, styles[a])
                  for a, parts in self.figures.items() for p, f in parts.items()}
        roc_picture(curves, out / "roc.png", self.least_fpr,
                    f"membership inference, {self.settings['shadows']} shadow models")
        return out


def _run_dir(model: str | Path) -> Path:
    """The run directory (``run_config.json``, ``split.json``) of ``model`` or its parent."""
    model = Path(model)
    for candidate in (model, model.parent):
        if (candidate / RUN_CONFIG).exists():
            return candidate
    raise ValueError(f"{model}: not a molgraph run directory (no {RUN_CONFIG}); the audit "
                     "trains its shadow models with the run's settings: give the directory "
                     "`molgraph train --out` wrote")


def _baseline_choice(run_dir: Path) -> tuple[str, dict]:
    """The ECFP family and setting the run's validation chose (``metrics.json``)."""
    try:
        baseline = json.loads(read_bytes(run_dir / "metrics.json")).get("baseline") or {}
        family = baseline["best"]
        return family, dict(baseline["models"][family]["setting"])
    except (OSError, ValueError, KeyError, TypeError):
        log.info("%s: no baseline in metrics.json; the audit fits a random forest", run_dir)
        return DEFAULT_BASELINE


def _read_population(data: str | Path | pd.DataFrame, config: RunConfig) -> MoleculeDataset:
    d = config.data
    if isinstance(data, pd.DataFrame):
        return dataset_from_frame(data, d.smiles_column, d.target_columns, task=config.task)
    return load_dataset(data, d.smiles_column, d.target_columns, cache_dir=d.cache or None,
                        delimiter=d.delimiter, task=config.task)


def stored_molecules(model, model_path: Path, pop: Population) -> list[dict]:
    """What the saved model holds about molecules: a blend's SVM keeps its support molecules'
    ECFP4 bits (``svm.npz``), the applicability domain those of every training and validation
    molecule (``domain.npz``), the conformal calibration per-molecule scores. The population
    members whose fingerprint is stored verbatim are counted: anyone holding the directory can
    test a candidate molecule for membership by computing its fingerprint."""
    members = getattr(model, "members", [model])
    bits = morgan_bits(pop.smiles)
    keys = [row.tobytes() for row in bits]
    trained = pop.members["model"]
    out = []
    files = {"svm.npz": [m.blend.svm.bank for m in members if m.blend is not None],
             "domain.npz": [m.domain.bits for m in members if m.domain is not None]}
    what = {"svm.npz": "the ECFP4 bits of the blended SVM's support molecules",
            "domain.npz": "the ECFP4 bits of the training and validation molecules "
                          "(applicability domain)"}
    for name, banks in files.items():
        if not banks:
            continue
        stored = {row.tobytes() for bank in banks for row in np.asarray(bank, dtype=np.uint8)}
        found = np.array([k in stored for k in keys])
        n_members, n_other = int((found & trained).sum()), int((found & ~trained).sum())
        out.append({"file": name, "structures": True, "fingerprints": len(stored),
                    "members_stored": n_members, "non_members_stored": n_other,
                    "says": f"{model_path}/{name} holds {what[name]}: {len(stored)} "
                            f"fingerprints; those of {n_members} of the {int(trained.sum())} "
                            f"training molecules audited are among them ({n_other} non-members "
                            "share a stored fingerprint)"})
    dirs = member_dirs(model_path)
    if any((d / CONFORMAL_FILE).exists() for d in dirs):
        out.append({"file": CONFORMAL_FILE, "structures": False,
                    "says": f"{model_path}/{CONFORMAL_FILE} holds the conformal calibration "
                            "scores of the validation molecules: numbers, no structures"})
    return out


def _score(attack: str, task: str, labels: np.ndarray, target: np.ndarray,
           shadows: np.ndarray, trained_on: np.ndarray) -> np.ndarray:
    """``[n]`` membership scores of one attack from target ``[n, T]`` and shadow
    ``[K, n, T]`` predictions."""
    if attack == "lira":
        return lira_scores(statistics(target, labels, task), statistics(shadows, labels, task),
                           trained_on)
    residual = None
    if task == "regression":  # the reference models' typical error on molecules they left out
        errors = np.where(~trained_on[:, :, None], shadows - labels, np.nan)
        residual = np.maximum(np.nanstd(errors, axis=(0, 1)), 1e-6)
    return rmia_scores(likelihoods(target, labels, task, residual),
                       likelihoods(shadows, labels, task, residual))


def audit_model(model: str | Path, data: str | Path | pd.DataFrame,
                out: str | Path | None = None, *,
                members: str | Path | Sequence[str] | None = None, shadows: int = 8,
                epochs: int | None = None, attacks: Sequence[str] = ATTACKS, seed: int = 0,
                threads: int = 1) -> AuditResult:
    """Audit the model of a ``molgraph train`` run for membership leakage.

    Args:
        model: the run directory (or its ``model/``).
        data: the audit population: labelled molecules like the training ones (a file or a
            DataFrame with the run's SMILES and target columns), the run's own file when
            ``members`` is not given.
        out: directory for ``audit.json`` and ``roc.png``.
        members: the target's training molecules (a molecule file or SMILES), when ``data``
            is not the run's own file.
        shadows: shadow models (each molecule is in half of them); more give steadier
            per-molecule Gaussians (Carlini et al. use 64-256).
        epochs: shadow training epochs instead of the run's (cheaper, less faithful).
        attacks: ``lira`` and/or ``rmia``.
        seed: fixes the halves and the shadows' seeds.
        threads: torch and forest threads.
    """
    import torch

    started = time.perf_counter()
    torch.set_num_threads(threads)  # the shadows' training sets it again (train.threads)
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise ValueError(f"unknown attack(s) {unknown}; choose from {', '.join(ATTACKS)}")
    if out is not None:
        check_writable(Path(out) / "audit.json")
    run_dir = _run_dir(model)
    config = RunConfig.load(run_dir / RUN_CONFIG)
    target = load_model(run_dir, device="cpu")
    blended = any(m.blend is not None for m in getattr(target, "members", [target]))
    where = "the DataFrame" if isinstance(data, pd.DataFrame) else str(data)
    dataset = _read_population(data, config)
    pop = population(dataset, run_dir, config, blended, members, where)
    baseline = _baseline_choice(run_dir)
    log.info("auditing %s on %d molecules (%d members of the model): %d shadow models", run_dir,
             len(pop.index), int(pop.members["model"].sum()), shadows)
    predicted = predict_parts(target, dataset, pop)
    bits = morgan_bits([dataset.smiles[i] for i in pop.index])
    predicted["baseline"] = baseline_predictions(
        *baseline, bits, pop.labels, np.flatnonzero(pop.members["baseline"]), config.task,
        config.seed, threads)
    shadow = train_shadows(dataset, pop, config, blended, baseline, shadows, seed, epochs,
                           threads, where)
    actives = pop.actives(config.task)
    figures = {a: {part: attack_figures(
        _score(a, config.task, pop.labels, predicted[part], shadow.predictions[part],
               shadow.trained_on[part]), pop.members[part], actives)
        for part in predicted} for a in attacks}
    result = AuditResult(figures, stored_molecules(target, run_dir / "model", pop),
                         _settings(config, run_dir, where, pop, shadow, baseline, blended,
                                   list(attacks), seed, threads, time.perf_counter() - started))
    if out is not None:
        result.write(out)
    return result


def _settings(config: RunConfig, run_dir: Path, where: str, pop: Population, shadow: Shadows,
              baseline: tuple[str, dict], blended: bool, attacks: list[str], seed: int,
              threads: int, seconds: float) -> dict:
    """How the audit ran, for ``audit.json``."""
    stat = ("prediction (Gaussian per molecule)" if config.task == "regression"
            else "logit of the probability of the true label")
    return {"run": str(run_dir), "data": where, "task": config.task,
            "model": config.model.name, "blended": blended, "population": len(pop.index),
            "membership": pop.source,
            "members": {part: int(m.sum()) for part, m in pop.members.items()},
            "attacks": attacks, "shadows": len(shadow.seeds), "shadow_seeds": shadow.seeds,
            "shadow_epochs": shadow.epochs, "target_epochs": config.train.epochs,
            "target_seed": config.seed, "seed": seed, "threads": threads,
            "statistic": stat,
            "lira_variance": "per molecule" if len(shadow.seeds) >= PER_MOLECULE_VARIANCE
            else "pooled over molecules (fewer than 64 shadows)",
            "rmia_gamma": 1.0,
            "model_files": sorted(str(p.relative_to(run_dir)) for p in
                                  (run_dir / "model").rglob("*") if p.is_file()),
            "baseline": {"family": baseline[0], "setting": baseline[1],
                         "features": "ECFP4 (Morgan radius 2, 2048 bits)"},
            "seconds": round(seconds, 1)}
