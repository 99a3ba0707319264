"""The pickle decoder must give exactly what RDKit's atom and bond API gives, or step aside."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molgraph.chem import rdkit_pickle
from molgraph.chem.featurize import _read_with_api, featurize_mols, quiet_rdkit

EDGE_CASES = [
    "C[N+](C)(C)C", "[NH3+]CC(=O)[O-]", "[Na+].[Cl-]", "C", "[He]", "[13CH3][2H]", "[U]",
    "C[C@H](N)C(=O)O", r"F/C=C/F", r"C/C=C\C", "[Fe+2].[Cl-].[Cl-]",
    "[2H]C([13CH3])[NH3+]", "C[S@@](=O)c1ccccc1", "[CH2]C", "[C]", "c1cc[nH]c1",
    "O=[N+]([O-])c1ccccc1", "[O-][Cl+3]([O-])([O-])[O-]", "C1CC2CCC1C2", "[H][H]",
    "C1=CC=CC=C1", "N#N", "C12C3C4C1C5C2C3C45", "[O-2].[Fe+3]", "[NH4+]", "O",
    "C[Si](C)(C)OP(=O)(O)O", "CC(C)(C)[Se][Te]I", "[Li][H]", "F[Xe]F",
]


def _molecules(data_dir) -> list[Chem.Mol]:
    smiles = list(EDGE_CASES)
    for name in ("moses_204.csv", "tox21_150.csv", "esol_120.csv", "bace_80.csv"):
        table = pd.read_csv(data_dir / name)
        column = next(c for c in table.columns if c.lower() in ("smiles", "mol"))
        smiles += table[column].dropna().tolist()
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    mols += list(Chem.SDMolSupplier(str(data_dir / "esol_20.sdf"), removeHs=False))
    return [m for m in mols if m is not None]


def _assert_same(a: rdkit_pickle.RawProperties, b: rdkit_pickle.RawProperties) -> None:
    for field in dataclasses.fields(rdkit_pickle.RawProperties):
        np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name),
                                      err_msg=field.name)


def test_decoder_matches_rdkit_api(data_dir):
    mols = _molecules(data_dir)
    props, decoded = rdkit_pickle.decode([m.ToBinary() for m in mols])
    assert decoded.all()  # every molecule here takes the fast path
    _assert_same(props, _read_with_api(mols))


def test_molecules_the_decoder_skips_fall_back_with_identical_features(data_dir, monkeypatch):
    skipped = ["[CH3:1]C", "C" * 300, "*c1ccccc1"]  # atom map, > 255 atoms, dummy label
    mols = [Chem.MolFromSmiles(s) for s in skipped + EDGE_CASES[:10] + skipped]
    blobs = [m.ToBinary() for m in mols]
    _, decoded = rdkit_pickle.decode(blobs)
    assert not decoded[:3].any() and not decoded[-3:].any() and decoded[3:-3].all()
    mixed = featurize_mols(mols)
    monkeypatch.setattr(rdkit_pickle, "SUPPORTED_VERSIONS", set())
    assert not rdkit_pickle.decode(blobs)[1].any()  # an unknown pickle version: never decoded
    reference = featurize_mols(mols)
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(mixed, name), getattr(reference, name))


@pytest.mark.parametrize("smiles", [r"C[C@H](N)/C=C/C", "[2H]C(Cl)Br", "CC(N)C=CC",
                                    "[H]C([H])([H])O", "not a smiles", "C1CC"])
def test_short_parse_gives_rdkits_molecule(smiles):
    """SMILES without stereo marks or explicit H skip steps that cannot change their features."""
    from molgraph.chem.featurize import _parse

    with quiet_rdkit():
        mol, error = _parse(smiles)
        reference = Chem.MolFromSmiles(smiles)
    assert (mol is None) == (reference is None) == (error is not None)
    if mol is not None:
        assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(reference)
        _assert_same(rdkit_pickle.decode([mol.ToBinary()])[0], _read_with_api([reference]))


def test_no_molecules_decode_to_nothing():
    props, decoded = rdkit_pickle.decode([])
    assert len(decoded) == 0 and len(props.n_atoms) == 0 and len(props.atomic_num) == 0
