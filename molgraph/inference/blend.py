"""A GNN blended with a Tanimoto-kernel SVM on ECFP4 bits: ŷ = w·GNN + (1 − w)·SVM per target.

On small activity sets a fingerprint SVM is hard to beat (MoleculeACE: SVM on ECFP, mean test
RMSE 0.675 over 30 ChEMBL sets, no GNN of the paper below 0.9), and its errors are not the
GNN's, so a weighted mean of the two (a consensus model, as QSAR practice builds them) can beat
both. ``molgraph train`` (unless ``--no-blend``) fits the SVM on the training split, chooses
``w`` per target on validation, and saves the SVM beside the network.

The SVM is saved as numbers, never as a pickle (``svm.npz``, read with ``allow_pickle=False``):
the fingerprints of its support molecules, packed to bits, and one column of dual coefficients
per target. A prediction is ``K(x, support) @ coef + intercept`` with the Tanimoto kernel ``K``,
unscaled to label units (regression) or passed through a sigmoid (classification).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molgraph.chem.fingerprints import morgan_bits, tanimoto_kernel
from molgraph.inference.model_dir import SVM_FILE
from molgraph.runtime.encryption import opened, sealed

#: ``predict_graphs``' feature cache key of the ECFP4 bits ``[n, 2048]``
BITS_KEY = "ecfp4_bits"
#: rows of the kernel computed at once: 1,024 × 10,000 support molecules is 41 MB of float32
KERNEL_ROWS = 1024


@dataclass
class TanimotoSVM:
    """Kernel models, one per target, over one bank of training fingerprints.

    Attributes:
        task: ``regression`` or ``classification``.
        bank: ``[n_support, 2048]`` uint8 ECFP4 bits of the molecules any target's model uses.
        coef: ``[n_support, T]`` dual coefficients (0 where a molecule is no support of that
            target).
        intercept, mean, std: ``[T]``; ``mean``/``std`` unscale standardised regression labels
            (0/1 for classification).
        constant: ``[T]`` the value of a target whose training labels hold one class or one
            value (the SVM is not fitted there); NaN for fitted targets.
    """

    task: str
    bank: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    constant: np.ndarray

    def predict_kernel(self, kernel: np.ndarray) -> np.ndarray:
        """Predictions ``[n, T]`` from the kernel ``[n, n_support]`` against ``bank``."""
        decision = kernel @ self.coef.astype(np.float64) + self.intercept
        if self.task == "regression":
            out = decision * self.std + self.mean
        else:
            out = 1.0 / (1.0 + np.exp(-decision))
        fixed = np.isfinite(self.constant)
        out[:, fixed] = self.constant[fixed]
        return out

    def predict(self, bits: np.ndarray) -> np.ndarray:
        """Predictions ``[n, T]`` (probabilities for classification) for ECFP4 bits
        ``[n, 2048]``, ``KERNEL_ROWS`` rows at a time so that a screening shard's kernel
        (10,000 × n_support) never sits in memory whole."""
        return np.concatenate([self.predict_kernel(tanimoto_kernel(bits[i:i + KERNEL_ROWS],
                                                                   self.bank))
                               for i in range(0, len(bits), KERNEL_ROWS)]
                              or [np.zeros((0, len(self.intercept)))])

    def compact(self) -> TanimotoSVM:
        """The same model keeping only the molecules some target uses."""
        used = np.flatnonzero(np.any(self.coef != 0, axis=1))
        return TanimotoSVM(self.task, self.bank[used], self.coef[used], self.intercept,
                           self.mean, self.std, self.constant)

    def save(self, path: str | Path) -> None:
        with sealed(path) as target:
            np.savez_compressed(target, bank=np.packbits(self.bank.astype(bool), axis=1),
                                n_bits=np.int64(self.bank.shape[1]), coef=self.coef,
                                intercept=self.intercept, mean=self.mean, std=self.std,
                                constant=self.constant)

    @classmethod
    def load(cls, path: str | Path, task: str) -> TanimotoSVM:
        """Read ``svm.npz``; a damaged file is an error naming it."""
        source = opened(path)
        try:
            with np.load(source, allow_pickle=False) as data:
                n_bits = int(data["n_bits"])
                bank = np.unpackbits(data["bank"], axis=1)[:, :n_bits]
                model = cls(task, bank, data["coef"], data["intercept"], data["mean"],
                            data["std"], data["constant"])
        except (OSError, KeyError, ValueError, EOFError) as err:
            raise ValueError(f"{path}: not readable as the model's SVM ({err}); copy the model "
                             "directory again or retrain") from err
        n_targets = len(model.intercept)
        if model.coef.shape != (len(bank), n_targets) or len(model.constant) != n_targets:
            raise ValueError(f"{path}: the SVM's arrays do not fit together; copy the model "
                             "directory again or retrain")
        return model


@dataclass
class Blend:
    """The SVM and each target's share of the GNN, ``weights`` ``[T]`` in [0, 1]."""

    svm: TanimotoSVM
    weights: np.ndarray

    def combine(self, gnn: np.ndarray, svm: np.ndarray) -> np.ndarray:
        """``w·gnn + (1 − w)·svm``, both ``[n, T]`` (or ``[K, n, T]``, broadcast)."""
        return self.weights * gnn + (1.0 - self.weights) * svm

    def predict(self, gnn: np.ndarray, smiles: Sequence[str] | None,
                cache: dict | None = None) -> np.ndarray:
        """The blend for the molecules the GNN predicted ``gnn`` ``[n, T]`` (or ``[K, n, T]``,
        MC dropout passes) for: their ECFP4 bits are computed from ``smiles`` (one per
        molecule; ``cache`` shares them between the members of an ensemble)."""
        if smiles is None or len(smiles) != gnn.shape[-2]:
            raise ValueError("this model blends its network with an SVM on ECFP4 fingerprints: "
                             "predicting needs the SMILES of every graph")
        cache = {} if cache is None else cache
        if BITS_KEY not in cache:
            cache[BITS_KEY] = morgan_bits(list(smiles))
        return self.combine(gnn, self.svm.predict(cache[BITS_KEY])).astype(np.float32)

    def save(self, directory: Path) -> dict:
        """Write ``svm.npz`` into ``directory``; the entry for the model's ``config.json``."""
        self.svm.save(directory / SVM_FILE)
        return {"weights": [float(w) for w in self.weights], "file": SVM_FILE,
                "features": "ECFP4 (Morgan radius 2, 2048 bits), Tanimoto kernel"}

    @classmethod
    def load(cls, directory: Path, entry: dict, task: str) -> Blend:
        """The blend a model's ``config.json`` ``entry`` describes, its SVM read from
        ``directory``."""
        try:
            weights = np.asarray(entry["weights"], dtype=np.float64)
            name = str(entry.get("file", SVM_FILE))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{directory}: config.json has no readable blend weights ({err}); "
                             "copy the model again or retrain") from err
        if Path(name).name != name:
            raise ValueError(f"{directory}: config.json names the SVM file {name!r}; it must "
                             "lie in the model directory")
        svm = TanimotoSVM.load(directory / name, task)
        if weights.shape != svm.intercept.shape:
            raise ValueError(f"{directory}: config.json gives {len(weights)} blend weights for "
                             f"an SVM of {len(svm.intercept)} targets; copy the model again")
        return cls(svm, weights)
