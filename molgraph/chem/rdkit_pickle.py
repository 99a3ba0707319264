"""Atom and bond properties of many RDKit molecules at once, decoded from their binary pickles.

Why: RDKit's Python API needs a wrapper object per atom and per bond (about 3 µs each, more than
parsing the SMILES), while ``Mol.ToBinary()`` writes every property we featurize in C++ in a few
µs. This module decodes the pickles of a whole chunk with numpy, stepping through atom *k* (bond
*k*, ring *k*) of all molecules at once, so the Python cost is per chunk, not per atom.

Only the pickle layout verified by the tests is decoded (``SUPPORTED_VERSIONS``). A molecule
outside what the decoder handles — another pickle version, more than 255 atoms, query atoms or
bonds, atom-map numbers, dummy labels, PDB residue info, no ring information — is marked as not
decoded, and the caller reads it through RDKit's API instead, so results never depend on the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit.Chem import rdchem

#: (major, minor) pickle versions whose atom, bond and ring records this decoder was checked on.
SUPPORTED_VERSIONS = {(16, 4)}

_HEADER = 30  # endian id, version tag, 3 version ints, #atoms, #bonds, flag byte, BEGINATOM tag
_BEGINATOM, _BEGINBOND = 1, 11
_RING_TAGS = (66, 67)  # symmetrised SSSR (what sanitization leaves) and FastFindRings
_SP3 = int(rdchem.HybridizationType.SP3)
_SINGLE = int(rdchem.BondType.SINGLE)


@dataclass
class RawProperties:
    """Per-atom and per-bond RDKit properties of the decoded molecules, concatenated.

    Atom arrays (one entry per atom): ``atomic_num``, ``total_degree``, ``formal_charge``,
    ``chiral_tag``, ``total_hs``, ``hybridization``, ``aromatic``, ``in_ring``. Bond arrays:
    ``begin``, ``end`` (atom index within its molecule), ``bond_type`` (``rdchem.BondType``
    value), ``conjugated``, ``bond_in_ring``, ``stereo``. ``n_atoms``/``n_bonds`` per molecule.
    """

    atomic_num: np.ndarray
    total_degree: np.ndarray
    formal_charge: np.ndarray
    chiral_tag: np.ndarray
    total_hs: np.ndarray
    hybridization: np.ndarray
    aromatic: np.ndarray
    in_ring: np.ndarray
    begin: np.ndarray
    end: np.ndarray
    bond_type: np.ndarray
    conjugated: np.ndarray
    bond_in_ring: np.ndarray
    stereo: np.ndarray
    n_atoms: np.ndarray
    n_bonds: np.ndarray


class _Reader:
    """Vectorised little-endian reads at many offsets of one byte buffer."""

    def __init__(self, blobs: Sequence[bytes]):
        self.buf = np.frombuffer(b"".join(blobs) + bytes(8), dtype=np.uint8)
        self.last = len(self.buf) - 8

    def u8(self, pos: np.ndarray) -> np.ndarray:
        return self.buf[np.minimum(pos, self.last)].astype(np.int64)

    def i8(self, pos: np.ndarray) -> np.ndarray:
        return self.buf[np.minimum(pos, self.last)].view(np.int8).astype(np.int64)

    def i32(self, pos: np.ndarray) -> np.ndarray:
        pos = np.minimum(pos, self.last)
        b = [self.buf[pos + i].astype(np.int64) for i in range(4)]
        return (b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24).astype(np.int32).astype(np.int64)


def _bit(flags: np.ndarray, bit: int) -> np.ndarray:
    return (flags >> bit) & 1


def _optional_byte(reader: _Reader, q: np.ndarray, present: np.ndarray, default: int,
                   signed: bool = False) -> np.ndarray:
    """Read a byte where ``present`` (advancing ``q`` in place), else ``default``."""
    value = np.where(present == 1, (reader.i8 if signed else reader.u8)(q), default)
    q += present
    return value


def _steps(counts: np.ndarray) -> list[np.ndarray]:
    """For k = 0, 1, ...: the positions (into ``counts``) of the molecules with more than k items.

    Molecules are visited longest first, so each step's set is a prefix of one ordering.
    """
    order = np.argsort(-counts, kind="stable")
    sorted_counts = counts[order]
    return [order[:np.searchsorted(-sorted_counts, -k, side="left")]
            for k in range(int(counts.max(initial=0)))]


def decode(blobs: Sequence[bytes]) -> tuple[RawProperties, np.ndarray]:
    """Properties of every molecule the decoder handles, and a mask of which ones those are.

    Args:
        blobs: ``Mol.ToBinary()`` of each molecule (taking the pickle right after parsing lets
            the molecule be freed at once, which keeps a large chunk's memory in cache).

    Returns:
        ``(props, decoded)``: ``decoded[i]`` says whether molecule ``i`` is in ``props`` (in
        input order); the others must be read through RDKit's API.
    """
    reader = _Reader(blobs)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    start = np.cumsum(lengths) - lengths
    end_of_blob = start + lengths

    ok = (lengths > _HEADER) & (reader.i32(start) == np.int32(np.uint32(0xDEADBEEF)))
    major, minor = reader.i32(start + 8), reader.i32(start + 12)
    ok &= np.isin(major * 1000 + minor, [a * 1000 + b for a, b in SUPPORTED_VERSIONS])
    n_atoms, n_bonds = reader.i32(start + 20), reader.i32(start + 24)
    ok &= (n_atoms >= 1) & (n_atoms <= 255) & (n_bonds >= 0) & (reader.u8(start + 29) == _BEGINATOM)
    n_atoms, n_bonds = np.where(ok, n_atoms, 0), np.where(ok, n_bonds, 0)
    atom_offset = np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64)
    bond_offset = np.concatenate([[0], np.cumsum(n_bonds)]).astype(np.int64)
    total_atoms, total_bonds = int(atom_offset[-1]), int(bond_offset[-1])

    atom = {name: np.zeros(total_atoms, dtype=np.int64) for name in (
        "atomic_num", "formal_charge", "chiral_tag", "explicit_hs", "implicit_hs",
        "hybridization", "aromatic")}
    pos = start + _HEADER
    for k, mi in enumerate(_steps(n_atoms)):
        p = pos[mi]
        flags, props = reader.u8(p + 1), reader.u8(p + 2) | reader.u8(p + 3) << 8
        # query, atom map, dummy label, monomer info; old float isotope; unknown property bits
        ok[mi] &= ((flags & 0b11110) == 0) & ((props & 1) == 0) & (props < 512)
        ok[mi] &= (reader.u8(p + 4) == 0) & (reader.u8(p + 5) == 0)
        q = p + 6
        at = atom_offset[mi] + k
        atom["atomic_num"][at] = reader.u8(p)
        atom["aromatic"][at] = _bit(flags, 6)
        atom["formal_charge"][at] = _optional_byte(reader, q, _bit(props, 1), 0, signed=True)
        atom["chiral_tag"][at] = _optional_byte(reader, q, _bit(props, 2), 0)
        atom["hybridization"][at] = _optional_byte(reader, q, _bit(props, 3), _SP3)
        atom["explicit_hs"][at] = _optional_byte(reader, q, _bit(props, 4), 0)
        q += _bit(props, 5)  # explicit valence
        implicit = _optional_byte(reader, q, _bit(props, 6), 0)
        atom["implicit_hs"][at] = np.where(_bit(flags, 5) == 1, 0, implicit)  # noImplicit
        q += _bit(props, 7) + 4 * _bit(props, 8)  # radical electrons, isotope
        pos[mi] = q

    ok &= reader.u8(pos) == _BEGINBOND
    pos += 1
    bond = {name: np.zeros(total_bonds, dtype=np.int64) for name in (
        "begin", "end", "bond_type", "conjugated", "stereo")}
    for k, mi in enumerate(_steps(n_bonds)):
        p = pos[mi]
        flags = reader.u8(p + 2)
        ok[mi] &= (flags & 0b10001) == 0  # query bond, MDL end points
        b = bond_offset[mi] + k
        bond["begin"][b], bond["end"][b] = reader.u8(p), reader.u8(p + 1)
        bond["conjugated"][b] = _bit(flags, 5)
        q = p + 3
        bond["bond_type"][b] = _optional_byte(reader, q, _bit(flags, 3), _SINGLE)
        q += _bit(flags, 2)  # bond direction
        has_stereo = _bit(flags, 1)
        bond["stereo"][b] = _optional_byte(reader, q, has_stereo, 0)
        q += has_stereo * (1 + reader.u8(q))  # stereo atoms: a count, then one byte each
        pos[mi] = q

    ok &= np.isin(reader.u8(pos), _RING_TAGS)
    n_rings = np.where(ok, reader.i32(pos + 1), 0)
    ok &= (n_rings >= 0) & (n_rings <= 255)
    n_rings = np.where(ok, n_rings, 0)
    pos += 5
    ring_mol, ring_local, ring_succ = [], [], []  # each ring atom and its successor
    for mi in _steps(n_rings):
        p = pos[mi]
        size = reader.u8(p)
        first = np.repeat(p + 1, size)
        within = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
        ring_mol.append(np.repeat(mi, size))
        ring_local.append(reader.u8(first + within))
        ring_succ.append(reader.u8(first + (within + 1) % np.repeat(size, size)))
        pos[mi] = p + 1 + size
    ok &= pos <= end_of_blob
    ring_mol, ring_local, ring_succ = (np.concatenate(parts) if parts else np.zeros(0, np.int64)
                                       for parts in (ring_mol, ring_local, ring_succ))
    bond_mol = np.repeat(np.arange(len(blobs)), n_bonds)
    ok &= _all_below(n_atoms, bond_mol, np.maximum(bond["begin"], bond["end"]))
    ok &= _all_below(n_atoms, ring_mol, np.maximum(ring_local, ring_succ))

    # Only molecules decoded cleanly take part from here: a misaligned one could point elsewhere.
    keep_bond, keep_ring = ok[bond_mol], ok[ring_mol]
    gu = atom_offset[bond_mol] + bond["begin"]
    gv = atom_offset[bond_mol] + bond["end"]
    ru = (atom_offset[ring_mol] + ring_local)[keep_ring]
    rv = (atom_offset[ring_mol] + ring_succ)[keep_ring]
    in_ring = np.zeros(total_atoms, dtype=bool)
    in_ring[ru] = True
    stride = total_atoms + 1
    bond_in_ring = np.isin(np.minimum(gu, gv) * stride + np.maximum(gu, gv),
                           np.minimum(ru, rv) * stride + np.maximum(ru, rv))
    degree = np.bincount(np.concatenate([gu[keep_bond], gv[keep_bond]]), minlength=total_atoms)
    total_hs = atom["explicit_hs"] + atom["implicit_hs"]

    keep_atom = np.repeat(ok, n_atoms)
    props = RawProperties(
        atomic_num=atom["atomic_num"][keep_atom],
        total_degree=(degree + total_hs)[keep_atom],
        formal_charge=atom["formal_charge"][keep_atom],
        chiral_tag=atom["chiral_tag"][keep_atom],
        total_hs=total_hs[keep_atom],
        hybridization=atom["hybridization"][keep_atom],
        aromatic=atom["aromatic"][keep_atom].astype(bool),
        in_ring=in_ring[keep_atom],
        begin=bond["begin"][keep_bond],
        end=bond["end"][keep_bond],
        bond_type=bond["bond_type"][keep_bond],
        conjugated=bond["conjugated"][keep_bond].astype(bool),
        bond_in_ring=bond_in_ring[keep_bond],
        stereo=bond["stereo"][keep_bond],
        n_atoms=n_atoms[ok],
        n_bonds=n_bonds[ok],
    )
    return props, ok


def _all_below(n_atoms: np.ndarray, owner: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per molecule: every atom index it refers to is one of its atoms (decoding stayed aligned)."""
    bad = index >= n_atoms[owner]
    return np.bincount(owner, weights=bad, minlength=len(n_atoms)) == 0
