"""Molecule-level features a model can read beside its graph, as Chemprop's featurizers add:
Morgan fingerprint bits and RDKit's 2D descriptors, concatenated at the readout.

The raw values are computed here; the model standardises the descriptors with the mean and
standard deviation of its training split (saved in its config), so ``predict`` and ``screen``
compute the same raw features and nothing else.

Speed: RDKit's ``CalcMolDescriptors`` costs ~4 ms a MOSES molecule and grows as n⁴ with the
atoms n (a 574-atom molecule: 9 s of CPU), because ``Ipc`` and ``AvgIpc`` each compute the
characteristic polynomial by n dense n × n products, and the four EState extremes each compute
the EState indices (a Python loop over atom pairs). Here each is computed once per molecule,
the polynomial by sparse products above ``DENSE_ATOMS`` atoms (n³), with the same values; and
many molecules are spread over processes (see :func:`molecule_features`).

Size limit: above ``LARGE_ATOMS`` atoms the descriptors whose cost grows faster than the atoms
(:func:`size_limited_names`) are left missing, so read as the training mean, as an undefined
descriptor is: a 3,000-carbon chain took about an hour (Ipc, BCUT2D's eigenvalues, the EState
indices), and one such row stalled a whole screen. A rule on size, not a time limit: it gives
the same features on every machine, and works in worker processes and threads (a signal does
not). The callers that know the rows report each molecule it applies to
(:func:`size_limited`: ``predict`` logs it, ``screen`` gives the reason and a count).
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from molgraph.chem.fingerprints import morgan_bits
from molgraph.runtime.processes import process_pool
from molgraph.runtime.system import cpu_count

MORGAN_BITS = 2048
#: feature kind → whether it is standardised on the training split (bits are not)
KINDS = {"morgan": False, "rdkit2d": True}
#: descriptors of at least this many molecules are spread over worker processes (~4 s on one)
PARALLEL_ABOVE = 1000
#: up to this many atoms the characteristic polynomial is RDKit's (dense products); above,
#: sparse products are faster (118 atoms: 12 ms instead of 28 ms)
DENSE_ATOMS = 100
#: above this many atoms (as RDKit holds the molecule: hydrogens implicit) the
#: ``SIZE_LIMITED`` descriptors are missing. At 300 they all take ~0.4 s of CPU; at 800, 5 s
#: (peptide-like chains). The largest molecule of ESOL, Lipophilicity, BACE, BBBP, HIV, Tox21
#: and FreeSolv is far smaller.
LARGE_ATOMS = 300
#: descriptors whose cost grows faster than the atoms (n² to n³), by name and by name prefix,
#: measured at 400, 1,600, 4,000 and 16,000 atoms; the others together take 0.8 s at 16,000
SIZE_LIMITED = ("Ipc", "AvgIpc", "BalabanJ", "BertzCT", "SPS", "Chi1", "Kappa2", "Kappa3", "Phi",
                "MaxEStateIndex", "MinEStateIndex", "MaxAbsEStateIndex", "MinAbsEStateIndex")
SIZE_LIMITED_PREFIXES = ("BCUT2D_", "EState_VSA", "VSA_EState", "FpDensityMorgan", "Chi2",
                         "Chi3", "Chi4")


def descriptor_names() -> list[str]:
    """The RDKit 2D descriptors, in ``CalcMolDescriptors`` order (about 210)."""
    from rdkit.Chem import Descriptors

    return [name for name, _ in Descriptors._descList]


@cache
def size_limited_names() -> tuple[str, ...]:
    """The descriptors left missing above ``LARGE_ATOMS`` atoms, in :func:`descriptor_names`
    order (51 of 217)."""
    return tuple(name for name in descriptor_names()
                 if name in SIZE_LIMITED or name.startswith(SIZE_LIMITED_PREFIXES))


def size_limited(atoms: Sequence[int] | np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """``[M]`` bool: which molecules, by their atom counts (a ``MolGraphs``'s, which parse as
    the descriptors do), have size-limited descriptors missing in features of ``kinds``."""
    return (np.asarray(atoms) > LARGE_ATOMS) & ("rdkit2d" in kinds)


def size_note(atoms: int) -> str:
    """What the size limit did to a molecule of ``atoms`` atoms, for a warning or a reason."""
    return (f"{atoms} atoms, above {LARGE_ATOMS}: {len(size_limited_names())} rdkit2d "
            "descriptors that grow faster than the molecule (Ipc, BCUT2D, BertzCT...) read as "
            "the training mean")


def check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or len(set(kinds)) < len(kinds):
        raise ValueError(f"molecule features must be distinct names from {', '.join(KINDS)}, "
                         f"not {list(kinds)}")


def feature_sizes(kinds: Sequence[str]) -> list[int]:
    """Columns each kind adds."""
    return [MORGAN_BITS if k == "morgan" else len(descriptor_names()) for k in kinds]


def standardised_columns(kinds: Sequence[str]) -> np.ndarray:
    """``[D]`` bool: which columns the model standardises (the descriptors)."""
    return np.concatenate([np.full(n, KINDS[k]) for k, n in zip(kinds, feature_sizes(kinds))])


def _char_poly(mol) -> np.ndarray:
    """``[n + 1]`` absolute coefficients of the characteristic polynomial of ``mol``'s
    adjacency matrix, as ``GraphDescriptors.Ipc`` computes them, once per molecule."""
    poly = getattr(mol, "_molgraphCharPoly", None)
    if poly is None:
        from rdkit import Chem
        from rdkit.Chem import Graphs

        adjacency = np.equal(Chem.GetDistanceMatrix(mol, False), 1)
        poly = (Graphs.CharacteristicPolynomial(mol, adjacency)
                if mol.GetNumAtoms() <= DENSE_ATOMS else _sparse_char_poly(adjacency))
        poly = mol._molgraphCharPoly = abs(poly)
    return poly


def _sparse_char_poly(adjacency: np.ndarray) -> np.ndarray:
    """RDKit's Le Verrier-Faddeev-Frame recursion (``Graphs.CharacteristicPolynomial``) with
    the sparse adjacency matrix: n³ operations instead of n⁴ (478 atoms: 1.7 s, not 19.6 s).
    Same coefficients on 305 of 306 molecules tried (MOSES, peptide-like chains up to 298
    atoms); at 478 atoms AvgIpc moves by 7e-7 (relative) and Ipc is past the 1e10 the features
    clip at."""
    import scipy.sparse as sp

    n = len(adjacency)
    a = sp.csr_matrix(adjacency, dtype=np.float64)
    power = adjacency.astype(np.float64)
    res = np.zeros(n + 1)
    res[0] = 1.0
    for k in range(1, n + 1):
        res[k] = 1.0 / k * np.trace(power)
        power = a @ (power - res[k] * np.identity(n))
    res[1:] *= -1
    return res


@cache
def _descriptor_functions() -> tuple[Callable, ...]:
    """RDKit's descriptor functions in :func:`descriptor_names` order, except that the shared
    work is done once per molecule: the EState extremes read RDKit's cached EState indices
    (``force=0``), ``Ipc`` and ``AvgIpc`` one characteristic polynomial."""
    from rdkit.Chem import Descriptors
    from rdkit.ML.InfoTheory import entropy

    shared = {"Ipc": lambda mol: sum(_char_poly(mol)) * entropy.InfoEntropy(_char_poly(mol)),
              "AvgIpc": lambda mol: entropy.InfoEntropy(_char_poly(mol))}
    for name in ("MaxEStateIndex", "MinEStateIndex", "MaxAbsEStateIndex", "MinAbsEStateIndex"):
        shared[name] = lambda mol, f=dict(Descriptors._descList)[name]: f(mol, force=0)
    return tuple(shared.get(name, fn) for name, fn in Descriptors._descList)


def _descriptors(smiles: Sequence[str]) -> np.ndarray:
    """``[len(smiles), n_descriptors]`` float32, the values ``CalcMolDescriptors`` gives (NaN
    where it fails, and for the size-limited ones above ``LARGE_ATOMS`` atoms), clipped to
    ±1e10."""
    from rdkit import Chem

    from molgraph.chem.featurize import quiet_rdkit

    functions = _descriptor_functions()
    limited = np.isin(descriptor_names(), size_limited_names())
    out = np.full((len(smiles), len(functions)), np.nan, dtype=np.float64)
    with quiet_rdkit():
        for i, smi in enumerate(smiles):
            mol = Chem.MolFromSmiles(smi)
            if mol is not None:
                large = mol.GetNumAtoms() > LARGE_ATOMS
                out[i] = [np.nan if large and skip else _value(f, mol)
                          for f, skip in zip(functions, limited)]
    out[~np.isfinite(out)] = np.nan  # a descriptor RDKit cannot compute: the train mean
    return np.clip(out, -1e10, 1e10).astype(np.float32)


def _value(function: Callable, mol) -> float:
    try:
        return function(mol)
    except Exception:  # noqa: BLE001 - as CalcMolDescriptors: a failed descriptor is missing
        return np.nan


def _descriptors_spread(smiles: Sequence[str], workers: int | None) -> np.ndarray:
    """:func:`_descriptors` in ``workers`` processes (default: every CPU in a main process,
    none in a worker process: screening workers and sweep trials already fill the CPUs)."""
    if workers is None:
        workers = cpu_count() if multiprocessing.parent_process() is None else 1
    if workers < 2 or len(smiles) < PARALLEL_ABOVE:
        return _descriptors(smiles)
    size = max(100, math.ceil(len(smiles) / (4 * workers)))
    with process_pool(workers) as pool:
        parts = list(pool.map(_descriptors, [smiles[s:s + size]
                                             for s in range(0, len(smiles), size)]))
    return np.concatenate(parts)


def molecule_features(smiles: Sequence[str], kinds: Sequence[str],
                      workers: int | None = None) -> np.ndarray:
    """``[len(smiles), D]`` float32 raw features of valid molecules, the kinds side by side
    (NaN where a descriptor is undefined; the model reads it as the training mean). RDKit
    descriptors of ``PARALLEL_ABOVE`` molecules or more are computed in ``workers`` processes
    (default: every CPU, unless this is itself a worker process)."""
    check_kinds(kinds)
    smiles = list(smiles)
    parts = [morgan_bits(smiles, 2, MORGAN_BITS).astype(np.float32) if kind == "morgan"
             else _descriptors_spread(smiles, workers) for kind in kinds]
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(smiles), 0), np.float32)


def standardisation(features: np.ndarray, kinds: Sequence[str]
                    ) -> tuple[list[float], list[float]]:
    """Mean and standard deviation per column of the training rows ``features``; ``(0, 1)``
    for fingerprint bits and constant columns."""
    scaled = standardised_columns(kinds)
    mean = np.zeros(features.shape[1])
    std = np.ones(features.shape[1])
    if len(features) and scaled.any():
        block = features[:, scaled].astype(np.float64)
        with warnings.catch_warnings():  # a column RDKit never computes: mean 0, std 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mean[scaled] = np.nan_to_num(np.nanmean(block, axis=0))
            spread = np.nan_to_num(np.nanstd(block, axis=0))
        std[scaled] = np.where(spread > 1e-8, spread, 1.0)
    return mean.tolist(), std.tolist()
