"""RDKit molecules → compact categorical graph features.

Each atom is a row of small integers (one category per feature, e.g. element index), each bond
likewise; models embed these categories, as OGB and PyG's ``from_smiles`` do. Keeping indices
instead of one-hot floats makes featurized libraries ~30× smaller on disk and in memory.

Speed: a Python wrapper object per RDKit atom costs more than reading all of its properties, so
a chunk of molecules is featurized at once — one ``map`` per property over the chunk's atoms and
vectorised look-up tables afterwards — and chirality/bond-stereo are only read when the SMILES
has ``@`` or ``/``/``\\`` (without them RDKit assigns none). This module imports no torch, so
worker processes start fast.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdchem

from molgraph.graphs import MolGraphs

#: Bump whenever a feature, vocabulary or ordering changes: saved models and caches check it.
FEATURIZER_VERSION = 1

ELEMENTS = tuple(range(1, 37)) + (53,)  # H..Kr and I, as Chemprop v2; anything else → "other"
HYBRIDIZATIONS = ("UNSPECIFIED", "S", "SP", "SP2", "SP3", "SP2D", "SP3D", "SP3D2", "OTHER")
CHIRAL_TAGS = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER")
BOND_STEREO = ("STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS")
FORMAL_CHARGES = (-2, -1, 0, 1, 2)
MAX_DEGREE = 5
MAX_HS = 4

#: Columns of ``MolGraphs.x`` and their vocabulary sizes (the last category is "other").
ATOM_FEATURES = {
    "element": len(ELEMENTS) + 1,
    "degree": MAX_DEGREE + 2,
    "formal_charge": len(FORMAL_CHARGES) + 1,
    "chirality": len(CHIRAL_TAGS) + 1,
    "num_hs": MAX_HS + 2,
    "hybridization": len(HYBRIDIZATIONS) + 1,
    "aromatic": 2,
    "in_ring": 2,
}
#: Columns of ``MolGraphs.edge_attr`` and their vocabulary sizes.
BOND_FEATURES = {"bond_type": 5, "conjugated": 2, "in_ring": 2, "stereo": len(BOND_STEREO) + 1}


def _lookup(table: dict[int, int], size: int, other: int) -> np.ndarray:
    """Array mapping a raw RDKit integer (0..size-1) to a category index."""
    lut = np.full(size, other, dtype=np.int8)
    for raw, category in table.items():
        if 0 <= raw < size:
            lut[raw] = category
    return lut


def _enum_lookup(enum: type, names: Sequence[str]) -> np.ndarray:
    """Category by enum value, by name, so values newer RDKit versions add still map."""
    values = {int(getattr(enum, name)): i for i, name in enumerate(names) if hasattr(enum, name)}
    return _lookup(values, 256, len(names))


_ELEMENT_LUT = _lookup({z: i for i, z in enumerate(ELEMENTS)}, 256, len(ELEMENTS))
_HYBRID_LUT = _enum_lookup(rdchem.HybridizationType, HYBRIDIZATIONS)
_CHIRAL_LUT = _enum_lookup(rdchem.ChiralType, CHIRAL_TAGS)
_STEREO_LUT = _enum_lookup(rdchem.BondStereo, BOND_STEREO)
_BOND_TYPE_LUT = _lookup({2: 0, 3: 3, 4: 1, 6: 2}, 16, 4)  # 2·order: 1, 1.5 (aromatic), 2, 3

_A, _B = rdchem.Atom, rdchem.Bond


@contextlib.contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's per-molecule error log; we report failures with row numbers instead."""
    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


@dataclass
class FeaturizedChunk:
    """Graphs of the valid molecules of a chunk plus why the others failed.

    Attributes:
        graphs: one graph per valid input, in input order.
        valid: ``[n_inputs]`` bool, which inputs became graphs.
        errors: position in the input → reason, for each invalid input.
    """

    graphs: MolGraphs
    valid: np.ndarray
    errors: dict[int, str]


def _parse(smiles: str) -> tuple[Chem.Mol | None, str | None]:
    if not smiles:
        return None, "empty SMILES"
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None, f"invalid SMILES {smiles!r}"
    if mol.GetNumAtoms() == 0:
        return None, f"SMILES {smiles!r} has no atoms"
    return mol, None


def featurize_mols(mols: Sequence[Chem.Mol], stereo_hints: Sequence[bool] | None = None
                   ) -> MolGraphs:
    """Featurize sanitized RDKit molecules (at least one atom each) into one :class:`MolGraphs`.

    Args:
        mols: the molecules.
        stereo_hints: per molecule, whether it may carry stereo (SMILES with ``@``, ``/``, ``\\``);
            ``None`` reads stereo for every molecule (e.g. from SDF with 3D coordinates).
    """
    n_atoms = np.empty(len(mols), dtype=np.int64)
    n_bonds = np.empty(len(mols), dtype=np.int64)
    z, deg, chg, hyb, hs, aro, ring, chiral = [], [], [], [], [], [], [], []
    beg, end, btype, conj, bring, bstereo = [], [], [], [], [], []
    for i, mol in enumerate(mols):
        atoms = list(mol.GetAtoms())
        bonds = list(mol.GetBonds())
        n_atoms[i], n_bonds[i] = len(atoms), len(bonds)
        z += map(_A.GetAtomicNum, atoms)
        deg += map(_A.GetTotalDegree, atoms)
        chg += map(_A.GetFormalCharge, atoms)
        hyb += map(int, map(_A.GetHybridization, atoms))
        hs += map(_A.GetTotalNumHs, atoms)
        aro += map(_A.GetIsAromatic, atoms)
        ring += map(_A.IsInRing, atoms)
        beg += map(_B.GetBeginAtomIdx, bonds)
        end += map(_B.GetEndAtomIdx, bonds)
        btype += map(_B.GetBondTypeAsDouble, bonds)
        conj += map(_B.GetIsConjugated, bonds)
        bring += map(_B.IsInRing, bonds)
        stereo = stereo_hints is None or stereo_hints[i]
        chiral += map(int, map(_A.GetChiralTag, atoms)) if stereo else [0] * len(atoms)
        bstereo += map(int, map(_B.GetStereo, bonds)) if stereo else [0] * len(bonds)

    x = np.empty((len(z), len(ATOM_FEATURES)), dtype=np.int8)
    x[:, 0] = _ELEMENT_LUT[np.minimum(np.asarray(z, dtype=np.int64), 255)]
    x[:, 1] = np.minimum(np.asarray(deg, dtype=np.int64), MAX_DEGREE + 1)
    charge = np.asarray(chg, dtype=np.int64) - FORMAL_CHARGES[0]
    x[:, 2] = np.where((charge >= 0) & (charge < len(FORMAL_CHARGES)), charge,
                       len(FORMAL_CHARGES))
    x[:, 3] = _CHIRAL_LUT[np.asarray(chiral, dtype=np.int64)]
    x[:, 4] = np.minimum(np.asarray(hs, dtype=np.int64), MAX_HS + 1)
    x[:, 5] = _HYBRID_LUT[np.asarray(hyb, dtype=np.int64)]
    x[:, 6] = np.asarray(aro, dtype=bool)
    x[:, 7] = np.asarray(ring, dtype=bool)

    # Each bond becomes two adjacent directed edges (u→v, v→u): the reverse of edge e is e ^ 1.
    bond_attr = np.empty((len(beg), len(BOND_FEATURES)), dtype=np.int8)
    order2 = np.minimum(np.rint(np.asarray(btype, dtype=np.float64) * 2).astype(np.int64), 15)
    bond_attr[:, 0] = _BOND_TYPE_LUT[order2]
    bond_attr[:, 1] = np.asarray(conj, dtype=bool)
    bond_attr[:, 2] = np.asarray(bring, dtype=bool)
    bond_attr[:, 3] = _STEREO_LUT[np.asarray(bstereo, dtype=np.int64)]
    pairs = np.stack([np.asarray(beg, dtype=np.int32), np.asarray(end, dtype=np.int32)])
    edge_index = np.empty((2, 2 * pairs.shape[1]), dtype=np.int32)
    edge_index[:, 0::2] = pairs
    edge_index[:, 1::2] = pairs[::-1]
    return MolGraphs(
        x=x,
        edge_index=edge_index,
        edge_attr=np.repeat(bond_attr, 2, axis=0),
        atom_ptr=np.concatenate([[0], np.cumsum(n_atoms)]),
        edge_ptr=np.concatenate([[0], np.cumsum(2 * n_bonds)]),
    )


def featurize_chunk(smiles: Sequence[str]) -> FeaturizedChunk:
    """Parse and featurize SMILES; invalid ones are reported by position, never raised."""
    mols, hints, errors = [], [], {}
    valid = np.zeros(len(smiles), dtype=bool)
    with quiet_rdkit():
        for i, smi in enumerate(smiles):
            mol, error = _parse(smi)
            if mol is None:
                errors[i] = error
                continue
            valid[i] = True
            mols.append(mol)
            hints.append("@" in smi or "/" in smi or "\\" in smi)
        graphs = featurize_mols(mols, hints)
    return FeaturizedChunk(graphs, valid, errors)


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def featurize_smiles(smiles: Sequence[str], workers: int | None = None,
                     chunk_size: int = 5_000, parallel_above: int = 20_000) -> FeaturizedChunk:
    """Featurize many SMILES, in parallel worker processes when there are more than
    ``parallel_above`` of them.

    Args:
        smiles: SMILES strings; invalid or empty ones are reported in ``errors`` by position.
        workers: processes (default: one per available CPU).
        chunk_size: SMILES per task sent to a worker.
        parallel_above: below this many SMILES, process start-up costs more than it saves.
    """
    workers = workers or default_workers()
    if workers <= 1 or len(smiles) <= parallel_above:
        return featurize_chunk(smiles)
    starts = range(0, len(smiles), chunk_size)
    with ProcessPoolExecutor(workers, mp_context=get_context("forkserver")) as pool:
        parts = list(pool.map(featurize_chunk, (smiles[s:s + chunk_size] for s in starts)))
    errors = {s + i: msg for s, part in zip(starts, parts) for i, msg in part.errors.items()}
    return FeaturizedChunk(
        graphs=MolGraphs.concat([p.graphs for p in parts]),
        valid=np.concatenate([p.valid for p in parts]),
        errors=errors,
    )


def mol_to_data(mol: Chem.Mol | str):
    """One molecule (RDKit ``Mol`` or SMILES) as a ``torch_geometric.data.Data``.

    ``x`` is ``[num_atoms, 8]`` and ``edge_attr`` ``[num_edges, 4]`` long category indices
    (columns as ``ATOM_FEATURES``/``BOND_FEATURES``); ``edge_index`` is ``[2, num_edges]`` with
    both directions of each bond.
    """
    if isinstance(mol, str):
        chunk = featurize_chunk([mol])
        if not chunk.valid[0]:
            raise ValueError(chunk.errors[0])
        return chunk.graphs.data(0)
    if mol.GetNumAtoms() == 0:
        raise ValueError("molecule has no atoms")
    return featurize_mols([mol]).data(0)


def featurizer_spec() -> dict:
    """What a saved model needs to know to refuse incompatible features."""
    return {"version": FEATURIZER_VERSION, "atom_features": ATOM_FEATURES,
            "bond_features": BOND_FEATURES}
