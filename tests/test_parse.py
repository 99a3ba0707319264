import numpy as np
import pytest

from molgraph.chem.parse import iter_molecule_chunks, read_molecules


def test_csv_finds_smiles_column_and_keeps_every_row(data_dir):
    table = read_molecules(data_dir / "with_invalid.csv", target_columns=["activity"])
    assert len(table) == 7
    assert table.smiles[:3] == ["CCO", "not_a_smiles", ""]
    assert table.rows.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert np.isnan(table.targets[3, 0])  # empty label cell is missing, not zero
    assert table.targets[6, 0] == 7.0


def test_mol_column_is_found(data_dir):
    table = read_molecules(data_dir / "bace_80.csv", target_columns=["Class"])
    assert len(table) == 80 and table.smiles[0].startswith(("C", "c", "N", "O", "S", "F"))


def test_multitask_missing_labels(data_dir):
    tasks = ["NR-AR", "NR-AhR", "SR-p53"]
    table = read_molecules(data_dir / "tox21_150.csv", target_columns=tasks)
    assert table.targets.shape == (150, 3)
    assert np.isnan(table.targets).any() and not np.isnan(table.targets).all()


def test_smi_with_header_and_names(data_dir):
    table = read_molecules(data_dir / "small.smi")
    assert table.smiles == ["CCO", "c1ccccc1", "C1CC", "CC(=O)Nc1ccc(O)cc1"]
    assert table.ids[3] == "paracetamol"
    assert table.rows.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("name", ["esol_20.sdf", "esol_20.sdf.gz"])
def test_sdf_labels_from_properties(data_dir, name):
    table = read_molecules(data_dir / name, target_columns=["logS"])
    csv = read_molecules(data_dir / "esol_120.csv", target_columns=["logS"])
    assert len(table) == 20
    np.testing.assert_allclose(table.targets[:, 0], csv.targets[:20, 0], rtol=1e-6)
    assert table.ids[0] == csv.ids[0]


def test_chunks_concatenate_to_whole_file(data_dir):
    chunks = list(iter_molecule_chunks(data_dir / "esol_120.csv", target_columns=["logS"],
                                       chunk_size=50))
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert chunks[2].rows[0] == 101


def test_non_numeric_label_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("smiles,y\nCCO,1\nCCC,active\n")
    with pytest.raises(ValueError, match="row 2.*'y'"):
        read_molecules(path, target_columns=["y"])


def test_missing_column_is_named(data_dir):
    with pytest.raises(ValueError, match="no target column 'nope'"):
        read_molecules(data_dir / "esol_120.csv", target_columns=["nope"])


def test_smi_line_with_empty_smiles_keeps_its_name_as_id(tmp_path):
    path = tmp_path / "lib.smi"
    path.write_text("CCO ethanol\n\tno_structure\nc1ccccc1 benzene\n")
    table = read_molecules(path)
    assert table.smiles == ["CCO", "", "c1ccccc1"]
    assert table.ids == ["ethanol", "no_structure", "benzene"]
