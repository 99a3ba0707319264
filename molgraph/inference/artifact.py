"""A trained model as a directory: ``weights.pt`` (a plain state dict, loaded with
``weights_only=True`` so nothing is unpickled) and ``config.json`` (model settings, task, target
names and scaling, featurizer spec and version). A model whose featurizer version differs from
this molgraph's is refused: its inputs would silently mean something else. Inference can run
in bfloat16 (see ``molgraph.inference.precision``). With an encryption key active, every file of
the directory is written encrypted (``molgraph.runtime.encryption``) and read back with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from molgraph import __version__
from molgraph.chem.graphs import MolGraphs
from molgraph.chem.molfeatures import molecule_features
from molgraph.chem.vocabulary import FEATURIZER_VERSION, featurizer_spec
from molgraph.inference.blend import Blend
from molgraph.inference.conformal import Calibration
from molgraph.inference.domain import Domain, notice_missing
from molgraph.inference.model_dir import (
    CONFIG,
    CONFORMAL_FILE,
    DOMAIN_FILE,
    SVM_FILE,
    WEIGHTS,
    model_dir,
)
from molgraph.inference.precision import check_precision
from molgraph.inference.smiles import predict_smiles, smiles_similarity
from molgraph.models.base import GraphModel
from molgraph.models.config import ModelConfig
from molgraph.models.predict import predict_graphs
from molgraph.models.registry import build_model
from molgraph.models.scaling import Scaler
from molgraph.runtime.encryption import opened, read_bytes, sealed, write_json
from molgraph.runtime.system import resolve_device

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}  # keys: precision.PRECISIONS
log = logging.getLogger(__name__)


def _cpu_has_bf16() -> bool:
    """Whether oneDNN finds native bfloat16 instructions (AVX-512 BF16 or AMX) on this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class TrainedModel:
    """A model with what it needs to turn SMILES into predictions in label units.

    Attributes:
        model: the network (weights loaded, eval mode).
        task: ``regression`` or ``classification``.
        target_names: one name per output column.
        scaler: regression target scaling.
        device: where the model runs.
        precision: ``fp32`` or ``bf16`` (inference only; see the module docstring).
        blend: an SVM on ECFP4 bits blended with the network's predictions
            (``molgraph.inference.blend``; ``train``, unless ``--no-blend``), or None.
        domain: the ECFP4 bits of the molecules it learned from
            (``molgraph.inference.domain``), or None for a model saved before them.
        domain_withheld: why a model keeps no domain on purpose (differentially private or
            federated training: its molecules' fingerprints must not leave with it), or None.
        calibration: its conformal calibration (``molgraph.inference.conformal``; an
            ensemble's members share theirs), or None for a model saved before them.
    """

    def __init__(self, model: GraphModel, task: str, target_names: Sequence[str],
                 scaler: Scaler, device: torch.device | str = "cpu",
                 precision: str = "fp32", blend: Blend | None = None,
                 domain: Domain | None = None, calibration: Calibration | None = None,
                 domain_withheld: str | None = None) -> None:
        self.model = model.eval()
        self.domain_withheld = domain_withheld
        self.blend = blend
        self.domain = domain
        self.calibration = calibration
        self.task = task
        self.target_names = list(target_names)
        self.scaler = scaler
        self.device = torch.device(device)
        self.precision = check_precision(precision)
        if precision == "bf16" and self.device.type == "cpu" and not _cpu_has_bf16():
            log.warning("this CPU has no native bfloat16 (AVX-512 BF16 or AMX): precision bf16 "
                        "will be slower than fp32 here")
        self.model.to(self.device, DTYPES[precision])

    def save(self, directory: str | Path) -> Path:
        """Write ``weights.pt`` and ``config.json`` (and a blend's ``svm.npz``, the domain's
        ``domain.npz``, the calibration's ``conformal.npz``) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().float() if v.is_floating_point() else v.detach().cpu()
                 for k, v in self.model.state_dict().items()}
        with sealed(directory / WEIGHTS) as target:
            torch.save(state, target)
        self.scaler.check()
        config = {
            "molgraph_version": __version__,
            "featurizer": featurizer_spec(),
            "model": self.model.config.to_dict(),
            "task": self.task,
            "target_names": self.target_names,
            "scaler": {"mean": self.scaler.mean, "std": self.scaler.std},
        }
        if self.blend is not None:
            config["blend"] = self.blend.save(directory)
        else:  # no SVM of an earlier model saved here
            (directory / SVM_FILE).unlink(missing_ok=True)
        if self.domain is not None:
            config["domain"] = self.domain.save(directory)
        else:
            (directory / DOMAIN_FILE).unlink(missing_ok=True)
            if self.domain_withheld:
                config["domain_withheld"] = self.domain_withheld
        if self.calibration is not None:
            config["conformal"] = self.calibration.save(directory)
        else:
            (directory / CONFORMAL_FILE).unlink(missing_ok=True)
        write_json(directory / CONFIG, config)
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto",
             precision: str = "fp32") -> TrainedModel:
        """Rebuild a saved model; refuse one made with another featurizer version, and name
        the file when ``config.json`` or ``weights.pt`` is damaged or does not fit."""
        directory = model_dir(directory)
        config = _read_config(directory / CONFIG)
        saved_version = config.get("featurizer", {}).get("version")
        if saved_version != FEATURIZER_VERSION:
            raise ValueError(
                f"{directory}: model was saved with featurizer version {saved_version}, but this "
                f"molgraph ({__version__}) featurizes with version {FEATURIZER_VERSION}; its "
                "inputs would mean something else. Retrain it with this version, or use the "
                f"molgraph version it was trained with ({config.get('molgraph_version')})."
            )
        try:
            model = build_model(ModelConfig(**config["model"]))
            scaler = Scaler(**config["scaler"]).check()
            task, targets = config["task"], config["target_names"]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{directory / CONFIG}: not a molgraph model configuration "
                             f"({type(err).__name__}: {err}); retrain the model or copy its "
                             "directory again") from err
        model.load_state_dict(_read_weights(directory / WEIGHTS, model))
        blend = Blend.load(directory, config["blend"], task) if "blend" in config else None
        domain = Domain.load(directory, config["domain"]) if "domain" in config else None
        withheld = config.get("domain_withheld")
        if domain is None and not withheld:
            notice_missing(str(directory))
        calibration = (Calibration.load(directory, config["conformal"], task)
                       if "conformal" in config else None)
        return cls(model, task, targets, scaler, device=resolve_device(device),
                   precision=precision, blend=blend, domain=domain, calibration=calibration,
                   domain_withheld=withheld)

    @property
    def samples(self) -> int:
        """Predictions averaged per molecule: 1, or the MC dropout passes
        (``model.mc_samples``)."""
        return self.model.config.mc_samples or 1

    @property
    def spread(self) -> bool:
        """Whether it predicts an uncertainty: MC dropout passes or a mean-variance head."""
        return self.samples > 1 or self.model.config.mve

    def predict_distribution(self, graphs: MolGraphs, batch_size: int = 256,
                             smiles: Sequence[str] | None = None, cache: dict | None = None
                             ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions ``[samples, len(graphs), n_targets]`` (the deterministic one, or one
        per MC dropout pass, pass ``k`` seeded with ``k``) and a mean-variance head's
        variances, the same shape (``None`` without one). A blend combines each pass with the
        same SVM predictions and scales the variances by the network's weight squared.

        ``smiles``: one per graph, for a model that reads molecule-level features (computed
        here unless ``graphs`` carries them; ``cache`` shares them between models) or blends
        an SVM on fingerprints."""
        cache = {} if cache is None else cache
        graphs = with_molecule_features(self.model.config, graphs, smiles, cache)
        passes = [None] if self.samples == 1 else range(self.samples)
        outputs = [predict_graphs(self.model, graphs, self.task, self.scaler, batch_size,
                                  self.device, sample, variance=True) for sample in passes]
        means = np.stack([mean for mean, _ in outputs])
        variances = np.stack([v for _, v in outputs]) if self.model.config.mve else None
        if self.blend is not None:
            means = self.blend.predict(means, smiles, cache)
            if variances is not None:
                variances = variances * np.asarray(self.blend.weights) ** 2
        return means, variances

    def predict_graphs(self, graphs: MolGraphs, batch_size: int = 256,
                       smiles: Sequence[str] | None = None,
                       cache: dict | None = None) -> np.ndarray:
        """Predictions ``[len(graphs), n_targets]`` (probabilities for classification; the
        mean of the MC dropout passes for a model with ``mc_samples``); ``smiles``, ``cache``:
        as :meth:`predict_distribution`."""
        return self.predict_distribution(graphs, batch_size, smiles, cache)[0].mean(
            axis=0).astype(np.float32)

    def predict(self, smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Predictions ``[len(smiles), n_targets]``; rows of invalid SMILES are NaN."""
        return predict_smiles(self, smiles, batch_size)

    def train_similarity(self, smiles: Sequence[str]) -> np.ndarray:
        """``[len(smiles)]`` Tanimoto similarity (ECFP4) of each molecule to the nearest one the
        model learned from; NaN for invalid SMILES, or throughout without a domain."""
        return smiles_similarity(self.domain, smiles)


def with_molecule_features(config: ModelConfig, graphs: MolGraphs,
                           smiles: Sequence[str] | None, cache: dict | None = None
                           ) -> MolGraphs:
    """``graphs`` carrying the molecule-level features ``config`` reads (as they are when it
    reads none or they carry them already)."""
    kinds = tuple(config.molecule_features)
    if not kinds or graphs.u is not None:
        return graphs
    if smiles is None or len(smiles) != len(graphs):
        raise ValueError(f"this model reads molecule-level features ({', '.join(kinds)}): "
                         "predicting needs the SMILES of every graph")
    cache = {} if cache is None else cache
    if kinds not in cache:
        cache[kinds] = molecule_features(list(smiles), kinds)
    return graphs.with_features(cache[kinds])


def _read_config(path: Path) -> dict:
    try:  # an encryption error is a ValueError, said as it is
        config = json.loads(read_bytes(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot be read as a model configuration ({err}); copy the "
                         "model directory again or retrain") from err
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a model configuration (a JSON object is expected)")
    return config


def _read_weights(path: Path, model: GraphModel) -> dict:
    """The state dict in ``path`` (never unpickling anything else), checked against ``model``."""
    source = opened(path)
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise ValueError(f"{path}: not readable as molgraph weights ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:100] if str(err) else 'empty or damaged'}); "
                         "copy the model directory again or retrain") from err
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds no state dict of weights")
    expected = model.state_dict()
    wrong = sorted(set(expected) ^ set(state)) or [
        k for k in expected if getattr(state[k], "shape", None) != expected[k].shape]
    if wrong:
        raise ValueError(f"{path}: the weights do not fit the model in config.json (first "
                         f"mismatch: {wrong[0]}); the two files come from different models")
    return state
