"""RDKit molecules → compact categorical graph features.

Each atom is a row of small integers (one category per feature, e.g. element index), each bond
likewise; models embed these categories, as OGB and PyG's ``from_smiles`` do. Keeping indices
instead of one-hot floats makes featurized libraries ~30× smaller on disk and in memory.

Speed: RDKit's Python API costs a wrapper object per atom and per bond (more than parsing the
SMILES), so the properties of a whole chunk are decoded from the molecules' binary pickles with
numpy (:mod:`molgraph.chem.rdkit_pickle`); the rare molecule the decoder does not handle goes
through the API, with identical results. A SMILES without stereo marks or explicit hydrogens skips
the parse steps that cannot change its features. This module imports no torch, so worker
processes start fast.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdchem

from molgraph.chem import rdkit_pickle
from molgraph.chem.graphs import MolGraphs
from molgraph.chem.vocabulary import (
    ATOM_FEATURES,
    BOND_FEATURES,
    BOND_STEREO,
    CHIRAL_TAGS,
    ELEMENTS,
    FORMAL_CHARGES,
    HYBRIDIZATIONS,
    MAX_DEGREE,
    MAX_HS,
)
from molgraph.runtime.processes import process_pool
from molgraph.runtime.progress import Progress
from molgraph.runtime.system import cpu_count


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

#: Bond category by RDKit bond type, following the bond order RDKit reports (a dative bond's is 1).
_BOND_CATEGORIES = {"SINGLE": 0, "DATIVE": 0, "DATIVEONE": 0, "DOUBLE": 1, "TRIPLE": 2,
                    "AROMATIC": 3, "ONEANDAHALF": 3}
_BOND_TYPE_LUT = _lookup({int(getattr(rdchem.BondType, name)): category
                          for name, category in _BOND_CATEGORIES.items()}, 256, 4)

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


#: SMILES needing RDKit's whole parse: stereo marks (stereo perception) or explicit H atoms
#: (``[H]``, ``[2H]``: removed from the graph). Any other SMILES is parsed and sanitized only.
_NEEDS_FULL_PARSE = re.compile(r"[@/\\]|\[\d*H[^a-z]")
_SANITIZED = Chem.SanitizeFlags.SANITIZE_NONE
_WHITESPACE = re.compile(r"\s")
#: a SMILES with a CXSMILES extension (``CC |$R1;$|``): the one space a SMILES may hold
_CXSMILES = re.compile(r"\S+ \|[^|]*\|")
#: bumped when the rules for which SMILES give a graph change (cached graphs key on it)
PARSE_VERSION = 2


def smiles_problem(smiles: str) -> str | None:
    """Why the stripped ``smiles``, though RDKit parses it, is not one molecule's SMILES;
    ``None`` when there is nothing to say.

    Whitespace inside it: RDKit reads the text after a space as the molecule's name, so
    ``CC(=O)O c1ccccc1`` would silently become acetic acid. The ``.smi`` reader splits a
    line's name off first, so a SMILES with a space here came from a table cell or a list."""
    if not _WHITESPACE.search(smiles) or _CXSMILES.fullmatch(smiles):
        return None
    what = "a space" if " " in smiles else "whitespace"
    return (f"SMILES holds {what}: {smiles!r} — a table cell holds one SMILES (RDKit would "
            "read the rest as a name): remove it, or put names in a column of their own")


def _parse(smiles: str) -> tuple[Chem.Mol | None, str | None]:
    """Parse one SMILES as ``Chem.MolFromSmiles`` does, skipping the steps (stereo perception,
    hydrogen removal) that cannot change this SMILES' features: about 20 % of the parse."""
    if not isinstance(smiles, str):  # e.g. NaN from a table read without keep_default_na
        return None, f"not a SMILES string: {smiles!r}"
    smiles = smiles.strip()
    if not smiles:
        return None, "empty SMILES"
    if _NEEDS_FULL_PARSE.search(smiles):
        mol = Chem.MolFromSmiles(smiles)
    else:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is not None and Chem.SanitizeMol(mol, catchErrors=True) != _SANITIZED:
            mol = None
    if mol is None:
        return None, f"invalid SMILES {smiles!r}"
    problem = smiles_problem(smiles)  # RDKit read the part before a space, the rest as a name
    if problem is not None:
        return None, problem
    if mol.GetNumAtoms() == 0:
        return None, f"SMILES {smiles!r} has no atoms"
    return mol, None


def featurize_mols(mols: Sequence[Chem.Mol]) -> MolGraphs:
    """Featurize sanitized RDKit molecules (at least one atom each) into one :class:`MolGraphs`."""
    return featurize_pickles([mol.ToBinary() for mol in mols])


def featurize_pickles(blobs: Sequence[bytes]) -> MolGraphs:
    """Featurize molecules given as ``Mol.ToBinary()`` pickles of sanitized molecules.

    Properties are decoded from the pickles in bulk; the rare molecule the decoder does not
    handle is rebuilt and read through RDKit's atom and bond API, with identical results.
    """
    props, decoded = rdkit_pickle.decode(blobs)
    graphs = _assemble(props)
    if decoded.all():
        return graphs
    slow = np.flatnonzero(~decoded)
    rest = _assemble(_read_with_api([Chem.Mol(blobs[i]) for i in slow]))
    order = np.argsort(np.concatenate([np.flatnonzero(decoded), slow]), kind="stable")
    return MolGraphs.concat([graphs, rest]).take(order)


def _read_with_api(mols: Sequence[Chem.Mol]) -> rdkit_pickle.RawProperties:
    """The same properties as :func:`rdkit_pickle.decode`, one RDKit wrapper per atom and bond."""
    atoms = [a for mol in mols for a in mol.GetAtoms()]
    bonds = [b for mol in mols for b in mol.GetBonds()]

    def column(getter, items) -> np.ndarray:
        return np.fromiter(map(int, map(getter, items)), dtype=np.int64, count=len(items))

    return rdkit_pickle.RawProperties(
        atomic_num=column(_A.GetAtomicNum, atoms),
        total_degree=column(_A.GetTotalDegree, atoms),
        formal_charge=column(_A.GetFormalCharge, atoms),
        chiral_tag=column(_A.GetChiralTag, atoms),
        total_hs=column(_A.GetTotalNumHs, atoms),
        hybridization=column(_A.GetHybridization, atoms),
        aromatic=column(_A.GetIsAromatic, atoms).astype(bool),
        in_ring=column(_A.IsInRing, atoms).astype(bool),
        begin=column(_B.GetBeginAtomIdx, bonds),
        end=column(_B.GetEndAtomIdx, bonds),
        bond_type=column(_B.GetBondType, bonds),
        conjugated=column(_B.GetIsConjugated, bonds).astype(bool),
        bond_in_ring=column(_B.IsInRing, bonds).astype(bool),
        stereo=column(_B.GetStereo, bonds),
        n_atoms=np.array([mol.GetNumAtoms() for mol in mols], dtype=np.int64),
        n_bonds=np.array([mol.GetNumBonds() for mol in mols], dtype=np.int64),
    )


def _assemble(raw: rdkit_pickle.RawProperties) -> MolGraphs:
    """Map raw RDKit properties onto the feature vocabularies, as one :class:`MolGraphs`."""
    x = np.empty((len(raw.atomic_num), len(ATOM_FEATURES)), dtype=np.int8)
    x[:, 0] = _ELEMENT_LUT[np.clip(raw.atomic_num, 0, 255)]
    x[:, 1] = np.minimum(raw.total_degree, MAX_DEGREE + 1)
    charge = raw.formal_charge - FORMAL_CHARGES[0]
    x[:, 2] = np.where((charge >= 0) & (charge < len(FORMAL_CHARGES)), charge,
                       len(FORMAL_CHARGES))
    x[:, 3] = _CHIRAL_LUT[np.clip(raw.chiral_tag, 0, 255)]
    x[:, 4] = np.minimum(raw.total_hs, MAX_HS + 1)
    x[:, 5] = _HYBRID_LUT[np.clip(raw.hybridization, 0, 255)]
    x[:, 6] = raw.aromatic
    x[:, 7] = raw.in_ring

    # Each bond becomes two adjacent directed edges (u→v, v→u): the reverse of edge e is e ^ 1.
    bond_attr = np.empty((len(raw.begin), len(BOND_FEATURES)), dtype=np.int8)
    bond_attr[:, 0] = _BOND_TYPE_LUT[np.clip(raw.bond_type, 0, 255)]
    bond_attr[:, 1] = raw.conjugated
    bond_attr[:, 2] = raw.bond_in_ring
    bond_attr[:, 3] = _STEREO_LUT[np.clip(raw.stereo, 0, 255)]
    pairs = np.stack([raw.begin, raw.end]).astype(np.int32)
    edge_index = np.empty((2, 2 * pairs.shape[1]), dtype=np.int32)
    edge_index[:, 0::2] = pairs
    edge_index[:, 1::2] = pairs[::-1]
    return MolGraphs(
        x=x,
        edge_index=edge_index,
        edge_attr=np.repeat(bond_attr, 2, axis=0),
        atom_ptr=np.concatenate([[0], np.cumsum(raw.n_atoms)]).astype(np.int64),
        edge_ptr=np.concatenate([[0], np.cumsum(2 * raw.n_bonds)]).astype(np.int64),
    )


def featurize_chunk(smiles: Sequence[str]) -> FeaturizedChunk:
    """Parse and featurize SMILES; invalid ones are reported by position, never raised."""
    blobs, errors = [], {}
    valid = np.zeros(len(smiles), dtype=bool)
    with quiet_rdkit():
        for i, smi in enumerate(smiles):
            mol, error = _parse(smi)
            if mol is None:
                errors[i] = error
                continue
            valid[i] = True
            blobs.append(mol.ToBinary())  # the molecule is freed now, not at the chunk's end
        graphs = featurize_pickles(blobs)
    return FeaturizedChunk(graphs, valid, errors)


def valid_smiles(smiles: Sequence[str], valid: np.ndarray) -> list[str]:
    """The SMILES of the rows that have a graph (``valid`` ``[len(smiles)]``), one per
    graph, in order."""
    return [s for s, ok in zip(smiles, valid) if ok]


def featurize_smiles(smiles: Sequence[str], workers: int | None = None,
                     chunk_size: int = 5_000, parallel_above: int = 20_000,
                     progress: Progress | None = None) -> FeaturizedChunk:
    """Featurize many SMILES, in parallel worker processes when there are more than
    ``parallel_above`` of them.

    Args:
        smiles: SMILES strings; invalid or empty ones are reported in ``errors`` by position.
        workers: processes (default: one per available CPU).
        chunk_size: SMILES per task sent to a worker (or, with ``progress``, between two
            updates of it).
        parallel_above: below this many SMILES, process start-up costs more than it saves.
        progress: counts the SMILES done, chunk by chunk (default: none, silent).
    """
    workers = workers or cpu_count()
    parallel = workers > 1 and len(smiles) > parallel_above
    if not parallel and (progress is None or len(smiles) <= chunk_size):
        chunk = featurize_chunk(smiles)
        if progress is not None:
            progress.update(len(smiles))
        return chunk
    starts = range(0, len(smiles), chunk_size)
    chunks = (smiles[s:s + chunk_size] for s in starts)
    with process_pool(workers) if parallel else contextlib.nullcontext() as pool:
        parts = []
        for part in (map if pool is None else pool.map)(featurize_chunk, chunks):
            parts.append(part)
            if progress is not None:
                progress.update(len(part.valid))
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
