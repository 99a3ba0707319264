"""Morgan (ECFP) bit fingerprints: the classical molecule representation baselines use.

ECFP4 is Morgan radius 2; 2,048 bits is the size MoleculeACE and most benchmarks use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: floats in one block of :func:`max_tanimoto`'s similarities (2 MB)
BLOCK_ELEMENTS = 1 << 19


def morgan_bits(smiles: Sequence[str], radius: int = 2, bits: int = 2048) -> np.ndarray:
    """``[len(smiles), bits]`` uint8 Morgan fingerprints; a row of zeros for a SMILES RDKit
    cannot parse (callers pass valid molecules: molgraph featurized them already)."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    out = np.zeros((len(smiles), bits), dtype=np.uint8)
    for i, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(smi)
        if mol is not None:
            out[i] = generator.GetFingerprintAsNumPy(mol)
    return out


def tanimoto_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a), len(b)]`` Tanimoto similarities of bit fingerprints (the SVM kernel
    MoleculeACE uses on ECFP): |a ∧ b| / (|a| + |b| − |a ∧ b|), 0 for two empty prints.

    ``a`` is taken as a sparse matrix (an ECFP4 print sets about 40 of its 2,048 bits), which
    makes the intersection counts about 50 times fewer operations than a dense product."""
    import scipy.sparse as sp

    columns = np.ascontiguousarray(b.T, dtype=np.float32)  # [bits, len(b)], read row by row
    both = np.asarray(sp.csr_matrix(a, dtype=np.float32) @ columns, dtype=np.float32)
    either = a.sum(1, dtype=np.float32)[:, None] + columns.sum(0)[None, :] - both
    return np.divide(both, either, out=np.zeros_like(both), where=either > 0)


def sparse_bits(bits: np.ndarray):
    """``bits`` ``[n, n_bits]`` as a float32 CSR matrix (an ECFP4 print sets ~40 of its 2,048
    bits: about 400 bytes a molecule instead of 8 KB dense), for :func:`max_tanimoto`."""
    import scipy.sparse as sp

    return sp.csr_matrix(bits, dtype=np.float32)


def max_tanimoto(queries: np.ndarray, bank) -> np.ndarray:
    """``[len(queries)]`` float32: each query's highest Tanimoto similarity to any molecule of
    ``bank`` (nearest-neighbour similarity); 0 against an empty bank.

    Args:
        queries: ``[n, n_bits]`` uint8 bits.
        bank: ``[m, n_bits]`` from :func:`sparse_bits`.

    The similarities ``[m, rows]`` are computed ``rows`` queries at a time, ``rows`` chosen so
    that a block holds about ``BLOCK_ELEMENTS`` floats (2 MB, in a core's cache: 128-row
    blocks ran 3x faster than 2,048-row ones against 3,300 molecules): memory stays flat
    whatever ``n`` and ``m``."""
    out = np.zeros(len(queries), dtype=np.float32)
    if not len(queries) or not bank.shape[0]:
        return out
    bank_counts = np.asarray(bank.sum(1), dtype=np.float32)  # [m, 1]
    rows = int(np.clip(BLOCK_ELEMENTS // bank.shape[0], 16, 4096))
    for start in range(0, len(queries), rows):
        block = np.ascontiguousarray(queries[start:start + rows].T, dtype=np.float32)
        both = bank @ block  # [m, rows] bits in common
        either = bank_counts + block.sum(0)
        either -= both
        np.maximum(either, 1.0, out=either)  # two empty prints: 0 / 1
        both /= either
        out[start:start + rows] = both.max(0)
    return out
