import gzip

import numpy as np
import pytest

from molgraph.chem.parse import (
    iter_molecule_chunks,
    parse_delimiter,
    read_molecules,
    table_delimiter,
)


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


CHEMBL = "esol_30_chembl.csv"  # ';'-separated, every field quoted, as ChEMBL's web export


def test_chembl_export_is_read_with_its_semicolons(data_dir):
    table = read_molecules(data_dir / CHEMBL, target_columns=["Standard Value"])
    esol = read_molecules(data_dir / "esol_120.csv", target_columns=["logS"])
    assert len(table) == 30 and table.smiles == [s.strip() for s in esol.smiles[:30]]
    np.testing.assert_allclose(table.targets[:, 0], esol.targets[:30, 0], rtol=1e-6)
    assert table.ids[6] == "2,2,4,6,6'-PCB"  # a quoted comma stays in its field


@pytest.mark.parametrize("given", [";", None])
def test_delimiter_given_or_found_reads_the_same(data_dir, given):
    assert table_delimiter(data_dir / CHEMBL, given=given) == ";"


def test_gzipped_export_and_tabs_in_a_csv_are_found(data_dir, tmp_path):
    gz = tmp_path / "export.csv.gz"
    gz.write_bytes(gzip.compress((data_dir / CHEMBL).read_bytes()))
    assert len(read_molecules(gz)) == 30
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("smiles\tname\tlogS\nCCO\tethanol, dry\t1.5\nCCC\tpropane\t2\n")
    table = read_molecules(tabs, target_columns=["logS"])
    assert table.smiles == ["CCO", "CCC"] and table.ids == ["ethanol, dry", "propane"]
    assert table_delimiter(data_dir / "esol_120.csv") == ","
    assert table_delimiter(data_dir / "genes" / "network.tsv") == "\t"


@pytest.mark.parametrize("given, expected", [("tab", "\t"), ("\\t", "\t"), ("\t", "\t"),
                                             ("|", "|"), (";", ";")])
def test_delimiter_spellings(given, expected):
    assert parse_delimiter(given) == expected


def test_delimiter_of_two_characters_is_refused():
    with pytest.raises(ValueError, match="one character"):
        parse_delimiter(";;")


def test_wrong_delimiter_names_the_right_one(data_dir):
    with pytest.raises(ValueError, match=r"esol_30_chembl.csv: .*one column.*semicolon-separated"
                       r".*--delimiter ';'"):
        read_molecules(data_dir / CHEMBL, delimiter=",")
    with pytest.raises(ValueError, match=r"comma-separated.*--delimiter ','"):
        read_molecules(data_dir / "esol_120.csv", delimiter="\t")


def test_decimal_comma_is_named(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text('"Smiles";"pChEMBL Value"\n"CCO";"6,5"\n')
    with pytest.raises(ValueError, match=r"row 1.*'6,5' \(a decimal comma"):
        read_molecules(path, target_columns=["pChEMBL Value"])


def test_two_smiles_columns_say_which_was_read(tmp_path, caplog):
    from molgraph.chem.frame import table_from_frame

    path = tmp_path / "two.csv"
    path.write_text("smiles,SMILES,logS\nCCO,c1ccccc1,1\n")
    with caplog.at_level("WARNING", "molgraph.chem.parse"):
        assert read_molecules(path, target_columns=["logS"]).smiles == ["CCO"]
        assert read_molecules(path, "SMILES").smiles == ["c1ccccc1"]  # chosen: nothing to say
        table_from_frame(__import__("pandas").read_csv(path))
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: SMILES read from column 'smiles'; it also has 'SMILES': give "
        "--smiles-column to read another",
        "the DataFrame: SMILES read from column 'smiles'; it also has 'SMILES': give "
        "smiles_column to read another"]
