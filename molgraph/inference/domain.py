"""The applicability domain: how near each molecule is to the molecules a model learned from.

A model deserves trust where it has seen similar molecules. QSAR practice measures this as the
Tanimoto similarity of ECFP4 fingerprints (Morgan radius 2, 2,048 bits) to the nearest training
molecule. ``predict``, ``screen`` and the MLflow model give every valid molecule both:
``train_similarity`` and ``in_domain`` (similarity at least the threshold); both are empty for
invalid rows.

Which molecules count: the training and the validation molecules, what a chemist calls the
training set. The weights were fitted on the first and chosen on the second (early stopping; a
blend's weights and SVM), so both shaped the predictions. The test molecules shaped nothing and
stay out, so a test set still says how the model does outside what it saw.

The default threshold, 0.5, is measured (``experiments/domain_threshold.py``, figures in
``experiments/RESULTS_domain.md``): over the 30 MoleculeACE sets, 3 scaffold splits each, the
ECFP4 SVM's test RMSE falls from 0.97 to 0.64 as the similarity rises from 0.5 to 1, but is flat
(0.94-1.0) everywhere below 0.5: there the nearest training molecule no longer helps, so the
0.3-0.4 often used would call molecules in the domain whose error is the outside one. Below 0.5:
11 % of those test molecules (RMSE 0.97 against 0.74 above), 99.6 % of MOSES against CHEMBL214.

Saved as ``domain.npz`` in the model directory (the bits packed, read with
``allow_pickle=False``). A model saved before this has none: it still predicts, with empty
columns, and says so once.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.fingerprints import max_tanimoto, morgan_bits, sparse_bits
from molgraph.inference.blend import BITS_KEY
from molgraph.inference.model_dir import DOMAIN_FILE
from molgraph.runtime.encryption import opened, sealed

#: output columns, the same in ``predict``, ``screen`` and the MLflow model
SIMILARITY, IN_DOMAIN = "train_similarity", "in_domain"
DEFAULT_THRESHOLD = 0.5
#: distinct fingerprints kept at most (a seeded sample beyond): the search costs
#: ~40 operations per query and kept molecule
MAX_MOLECULES = 50_000
N_BITS = 2048
log = logging.getLogger(__name__)


def check_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"--domain-threshold is a Tanimoto similarity, between 0 and 1, not "
                         f"{threshold}")
    return float(threshold)


@dataclass
class Domain:
    """The ECFP4 bits of the molecules a model learned from.

    Attributes:
        bits: ``[n, 2048]`` uint8, one row per distinct fingerprint.
        molecules: how many molecules they stand for (before duplicates were merged).
    """

    bits: np.ndarray
    molecules: int

    @classmethod
    def from_smiles(cls, smiles: Sequence[str]) -> Domain:
        """The domain of ``smiles`` (valid molecules: the training and validation ones)."""
        return cls.from_bits(morgan_bits(list(smiles)))

    @classmethod
    def from_bits(cls, fingerprints: np.ndarray) -> Domain:
        """The domain of molecules given as their ECFP4 bits ``[n, 2048]`` (any numeric
        dtype), e.g. the ones a data set computed once for the blend and the baseline."""
        bits = np.unique(np.asarray(fingerprints, dtype=np.uint8), axis=0)
        if len(bits) > MAX_MOLECULES:
            log.info("applicability domain: %d of %d distinct fingerprints kept (a seeded "
                     "sample), so screening stays fast", MAX_MOLECULES, len(bits))
            keep = np.random.default_rng(0).choice(len(bits), MAX_MOLECULES, replace=False)
            bits = bits[np.sort(keep)]
        return cls(bits, len(fingerprints))  # the molecules, before duplicates are merged

    @cached_property
    def _bank(self):
        return sparse_bits(self.bits)

    def similarity(self, bits: np.ndarray) -> np.ndarray:
        """``[n]`` float32 nearest-neighbour Tanimoto similarity of ECFP4 ``bits``
        ``[n, 2048]`` to the domain's molecules."""
        return max_tanimoto(bits, self._bank)

    def save(self, directory: Path) -> dict:
        """Write ``domain.npz`` into ``directory``; the entry for the model's ``config.json``."""
        with sealed(directory / DOMAIN_FILE) as target:
            np.savez_compressed(target, bits=np.packbits(self.bits, axis=1),
                                n_bits=np.int64(self.bits.shape[1]))
        return {"file": DOMAIN_FILE, "molecules": self.molecules, "fingerprints": len(self.bits),
                "features": "ECFP4 (Morgan radius 2, 2048 bits)",
                "of": "training and validation molecules"}

    @classmethod
    def load(cls, directory: Path, entry: dict) -> Domain:
        """The domain a model's ``config.json`` ``entry`` describes, read from ``directory``."""
        path = directory / DOMAIN_FILE
        source = opened(path)
        try:
            molecules = int(entry["molecules"])
            with np.load(source, allow_pickle=False) as data:
                n_bits = int(data["n_bits"])
                bits = np.unpackbits(data["bits"], axis=1)[:, :n_bits]
        except (OSError, KeyError, TypeError, ValueError, EOFError) as err:
            raise ValueError(f"{path}: not readable as the model's applicability domain "
                             f"({err}); copy the model directory again or retrain") from err
        if n_bits != N_BITS:
            raise ValueError(f"{path}: fingerprints of {n_bits} bits, not {N_BITS}; copy the "
                             "model directory again or retrain")
        return cls(bits, molecules)

    @classmethod
    def union(cls, domains: Sequence[Domain | None]) -> Domain | None:
        """The molecules any of ``domains`` learned from (the members of an ensemble share
        one); ``None`` when one of them is unknown."""
        if not domains or any(d is None for d in domains):
            return None
        first = domains[0]
        if all(d is first or np.array_equal(d.bits, first.bits) for d in domains):
            return first
        return cls(np.unique(np.concatenate([d.bits for d in domains]), axis=0),
                   sum(d.molecules for d in domains))


def train_similarity(domain: Domain | None, smiles: Sequence[str],
                     cache: dict | None = None) -> np.ndarray:
    """``[len(smiles)]`` float32 similarity of valid ``smiles`` to ``domain``'s nearest
    molecule, NaN throughout without a domain. ``cache`` shares the ECFP4 bits with a blend."""
    if domain is None:
        return np.full(len(smiles), np.nan, dtype=np.float32)
    cache = {} if cache is None else cache
    if BITS_KEY not in cache:
        cache[BITS_KEY] = morgan_bits(list(smiles))
    return domain.similarity(cache[BITS_KEY])


def in_domain(similarity: np.ndarray, threshold: float = DEFAULT_THRESHOLD
              ) -> pd.arrays.BooleanArray:
    """``[n]`` nullable booleans: ``similarity >= threshold``, missing where it is NaN."""
    known = ~np.isnan(similarity)
    return pd.arrays.BooleanArray(np.where(known, similarity >= threshold, False), ~known)


_NOTICED: list[str] = []


def notice_missing(directory: str) -> None:
    """Say once per process (not in worker processes: their parent said it) that a model has
    no applicability domain."""
    if not _NOTICED and multiprocessing.parent_process() is None:
        _NOTICED.append(directory)
        log.warning("%s: saved without an applicability domain (before molgraph had one): its "
                    "%s and %s columns stay empty; train it again to have them", directory,
                    SIMILARITY, IN_DOMAIN)
