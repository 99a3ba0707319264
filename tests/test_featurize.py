import numpy as np
import pytest
import torch
from rdkit import Chem

from molgraph.chem.featurize import featurize_chunk, featurize_smiles, mol_to_data
from molgraph.chem.vocabulary import ATOM_FEATURES, BOND_FEATURES, HYBRIDIZATIONS

ODD = {
    "charged": "C[N+](C)(C)C",
    "zwitterion": "[NH3+]CC(=O)[O-]",
    "salt": "[Na+].[Cl-]",
    "single_atom": "C",
    "no_bonds": "[He]",
    "isotope": "[13CH3][2H]",
    "unseen_element": "[U]",
    "dummy_atom": "*c1ccccc1",
    "stereo": "C[C@H](N)C(=O)O",
    "double_bond_stereo": r"F/C=C/F",
    "organometallic": "[Fe+2].[Cl-].[Cl-]",
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_molecules_featurize(name):
    data = mol_to_data(ODD[name])
    mol = Chem.MolFromSmiles(ODD[name])
    assert data.x.shape == (mol.GetNumAtoms(), len(ATOM_FEATURES))
    assert data.edge_index.shape == (2, 2 * mol.GetNumBonds())
    assert data.edge_attr.shape == (2 * mol.GetNumBonds(), len(BOND_FEATURES))
    assert (data.x >= 0).all()
    assert (data.x < torch.tensor(list(ATOM_FEATURES.values()))).all()
    if data.edge_attr.numel():
        assert (data.edge_attr < torch.tensor(list(BOND_FEATURES.values()))).all()


def test_unseen_element_goes_to_other_slot():
    assert mol_to_data("[U]").x[0, 0] == ATOM_FEATURES["element"] - 1


def test_stereo_is_read_when_present():
    chiral = mol_to_data("C[C@H](N)C(=O)O").x[:, 3]
    assert chiral.max() > 0
    trans = mol_to_data(r"F/C=C/F").edge_attr[:, 3]
    assert trans.max() > 0
    assert mol_to_data("CC(N)C(=O)O").x[:, 3].max() == 0


def test_edges_in_both_directions_and_reverse_is_xor_one():
    data = mol_to_data("CC(=O)Nc1ccc(O)cc1")
    src, dst = data.edge_index
    rev = torch.arange(src.numel()) ^ 1
    assert torch.equal(src[rev], dst) and torch.equal(dst[rev], src)
    assert torch.equal(data.edge_attr[rev], data.edge_attr)


def test_aromatic_and_ring_features():
    data = mol_to_data("c1ccccc1C")
    assert data.x[:6, 6].tolist() == [1] * 6 and data.x[6, 6] == 0
    assert data.x[:6, 7].tolist() == [1] * 6 and data.x[6, 7] == 0
    assert data.x[0, 5] == HYBRIDIZATIONS.index("SP2")


def test_invalid_and_empty_smiles_reported_by_position():
    chunk = featurize_chunk(["CCO", "C1CC", "", "xyz", "c1ccccc1"])
    assert chunk.valid.tolist() == [True, False, False, False, True]
    assert set(chunk.errors) == {1, 2, 3}
    assert "empty" in chunk.errors[2]
    assert len(chunk.graphs) == 2


def test_mol_to_data_rejects_invalid_smiles():
    with pytest.raises(ValueError, match="invalid SMILES"):
        mol_to_data("C1CC")


def test_parallel_equals_serial(data_dir):
    import pandas as pd

    smiles = pd.read_csv(data_dir / "esol_120.csv")["smiles"].tolist() * 3 + ["bad"]
    serial = featurize_smiles(smiles, workers=1)
    parallel = featurize_smiles(smiles, workers=2, chunk_size=50, parallel_above=0)
    assert parallel.errors == serial.errors == {360: "invalid SMILES 'bad'"}
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(parallel.graphs, name),
                                      getattr(serial.graphs, name))
