"""Splits the user brings (--split-column, --split-file, --test-data) are used exactly, and every
run writes split.json, which --split-file reads back to the same split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgraph.cli.main import main
from molgraph.data.predefined import TEST, TRAIN, UNUSED, VAL, read_split_file

DATA = Path(__file__).parent / "data"
ESOL = DATA / "esol_120.csv"
TRAIN_ARGS = ["train", "--target-columns", "logS", "--epochs", "1", "--hidden", "8",
              "--no-cache", "--no-baseline", "--threads", "1", "--device", "cpu"]


def _with_split(tmp_path: Path, parts: list[str], name: str = "esol_split.csv") -> Path:
    frame = pd.read_csv(ESOL)
    frame["split"] = parts
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _train(tmp_path: Path, out: str, *args: str) -> tuple[dict, dict, pd.DataFrame]:
    assert main([*TRAIN_ARGS, "--out", str(tmp_path / out), *args]) == 0
    run = tmp_path / out
    return (json.loads((run / "split.json").read_text()),
            json.loads((run / "metrics.json").read_text()),
            pd.read_csv(run / "test_predictions.csv"))


def test_split_column_is_used_row_for_row(tmp_path):
    parts = ["train"] * 80 + ["val"] * 20 + ["test"] * 20
    rng = np.random.default_rng(0)
    parts = [parts[i] for i in rng.permutation(120)]
    data = _with_split(tmp_path, parts)
    split, metrics, test = _train(tmp_path, "run", "--data", str(data), "--split-column", "split")
    for key in ("train", "val", "test"):
        expected = [i for i, p in enumerate(parts) if p == key]
        assert split[key] == expected
        assert split["rows"][key] == [i + 1 for i in expected]
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (80, 20, 20)
    assert metrics["split"] == "column 'split'"
    assert sorted(test["row"]) == split["rows"]["test"]


def test_without_val_rows_validation_is_drawn_from_train_by_the_seed(tmp_path):
    parts = ["Train"] * 100 + [" TEST "] * 20  # case and spaces do not matter
    data = _with_split(tmp_path, parts)
    first, metrics, _ = _train(tmp_path, "a", "--data", str(data), "--split-column", "split",
                               "--split", "random", "--seed", "3")
    again, _, _ = _train(tmp_path, "b", "--data", str(data), "--split-column", "split",
                         "--split", "random", "--seed", "3")
    other, _, _ = _train(tmp_path, "c", "--data", str(data), "--split-column", "split",
                         "--split", "random", "--seed", "4")
    assert first["test"] == list(range(100, 120))
    assert set(first["val"]) < set(range(100)) and 8 <= len(first["val"]) <= 14
    assert sorted(first["train"] + first["val"]) == list(range(100))
    assert first == again and first["val"] != other["val"]
    assert metrics["n_val"] == len(first["val"])


def test_split_json_reads_back_as_the_same_split(tmp_path):
    made, _, _ = _train(tmp_path, "scaffold", "--data", str(ESOL), "--split", "scaffold",
                        "--seed", "2")
    again, metrics, _ = _train(tmp_path, "again", "--data", str(ESOL), "--split-file",
                               str(tmp_path / "scaffold" / "split.json"), "--seed", "7")
    assert {k: again[k] for k in ("train", "val", "test")} == \
        {k: made[k] for k in ("train", "val", "test")}
    assert metrics["split"].startswith("file ")


def test_split_file_in_chemprop_form_with_ranges_and_rows_left_out(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps([{"train": "0-69,75", "val": [70, 71, 72], "test": "80-89"}]))
    parts = read_split_file(path, 120)
    assert (parts[:70] == TRAIN).all() and parts[75] == TRAIN
    assert (parts[70:73] == VAL).all() and (parts[80:90] == TEST).all()
    assert (parts[[73, 74, 76, 79, 90, 119]] == UNUSED).all()
    split, metrics, _ = _train(tmp_path, "run", "--data", str(ESOL), "--split-file", str(path))
    assert split["test"] == list(range(80, 90)) and split["val"] == [70, 71, 72]
    assert metrics["n_train"] == 71


def test_invalid_rows_never_shift_the_split(tmp_path):
    rows = ["CCO,1,train", "not_a_smiles,2,test", "CCCO,3,train", "c1ccccc1,4,test",
            "CCN,5,val", "CC(C)O,6,train", "CCCN,7,train", "CCOC,8,val", "OCCO,9,test"]
    data = tmp_path / "mixed.csv"
    data.write_text("smiles,logS,split\n" + "\n".join(rows) + "\n")
    split, _, test = _train(tmp_path, "run", "--data", str(data), "--split-column", "split",
                            "--batch-size", "2")
    assert split["test"] == [3, 8] and split["val"] == [4, 7] and split["train"] == [0, 2, 5, 6]
    assert sorted(test["row"]) == [4, 9]
    assert test.set_index("row").loc[4, "smiles"] == "c1ccccc1"


def test_test_data_is_the_test_set_and_overlap_is_reported(tmp_path, capsys):
    frame = pd.read_csv(ESOL)
    train_file, test_file = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:100].to_csv(train_file, index=False)
    frame.iloc[95:].to_csv(test_file, index=False)  # 5 molecules in both files
    split, metrics, test = _train(tmp_path, "run", "--data", str(train_file), "--test-data",
                                  str(test_file))
    assert split["test"] == list(range(25)) and split["rows"]["test"] == list(range(1, 26))
    assert 8 <= metrics["n_val"] <= 14  # a ninth of the training file, as 80/10/10 has
    assert sorted(split["train"] + split["val"]) == list(range(100))
    assert split["files"] == {"data": str(train_file), "test_data": str(test_file)}
    assert metrics["n_test"] == 25 and sorted(test["row"]) == list(range(1, 26))
    assert test.set_index("row").loc[1, "smiles"] == frame["smiles"].iloc[95].strip()
    assert "5 of 25 test molecules are also in the training or validation" in \
        capsys.readouterr().err


def test_test_data_with_other_targets_is_refused(tmp_path, capsys):
    other = tmp_path / "other.csv"
    other.write_text("smiles,solubility\nCCO,1\n")
    assert main([*TRAIN_ARGS, "--data", str(ESOL), "--test-data", str(other),
                 "--out", str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err
    assert "other.csv" in err and "logS" in err and "Traceback" not in err


@pytest.mark.parametrize("flag", ["--split-column", "--split-file", "--test-data"])
def test_flags_are_in_the_help(flag, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert flag in capsys.readouterr().out


@pytest.mark.parametrize("key", ["valid", "validation", "Val"])
def test_split_file_takes_the_part_names_of_the_split_column(key, tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"training": "0-89", key: "90-104", "test": "105-119"}))
    parts = read_split_file(path, 120)
    assert (parts[:90] == TRAIN).all() and (parts[90:105] == VAL).all()
    assert (parts[105:] == TEST).all()


@pytest.mark.parametrize("split, words", [
    ({"train": "0-89", "val": "104-90", "test": "105-119"},
     ["'val'", "'104-90'", "runs backwards", "90-104"]),
    ({"train": "0-89", "holdout": "90-104", "test": "105-119"},
     ["'holdout'", "not a part", "train", "val", "valid", "test"]),
    ({"train": "0-89", "val": [90], "valid": [91], "test": "105-119"},
     ["'val' and 'valid'", "same part"]),
])
def test_split_file_refuses_what_would_drop_rows_silently(split, words, tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(split))
    with pytest.raises(ValueError) as err:
        read_split_file(path, 120)
    message = str(err.value)
    assert message.startswith(str(path)) and all(w in message for w in words), message


def test_test_data_without_labels_is_refused(tmp_path, capsys):
    frame = pd.read_csv(ESOL)
    train_file, test_file = tmp_path / "train.csv", tmp_path / "unlabelled.csv"
    frame.iloc[:100].to_csv(train_file, index=False)
    frame.iloc[100:].assign(logS=None).to_csv(test_file, index=False)
    out = tmp_path / "run"
    assert main([*TRAIN_ARGS, "--data", str(train_file), "--test-data", str(test_file),
                 "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{test_file}: the test part (20 molecules, the split given by test file" in err, err
    assert "has no label in 'logS'" in err
    assert "molgraph predict" in err and "Traceback" not in err
    assert not (out / "metrics.json").exists()


def test_metrics_count_the_labelled_molecules_of_each_part(tmp_path, capsys):
    frame = pd.read_csv(ESOL)
    labelled = [0, 1, 2, 3, 4, 5, 90, 105, 106]  # 6 train, 1 validation, 2 test labels
    frame.loc[~frame.index.isin(labelled), "logS"] = None
    data = tmp_path / "sparse.csv"
    frame.to_csv(data, index=False)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": "0-89", "val": "90-104", "test": "105-119"}))
    _, metrics, _ = _train(tmp_path, "run", "--data", str(data), "--split-file", str(split))
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (90, 15, 15)
    assert (metrics["n_train_labelled"], metrics["n_val_labelled"],
            metrics["n_test_labelled"]) == ({"logS": 6}, {"logS": 1}, {"logS": 2})
    assert "in the validation part (15 molecules) 'logS' has 1 label;" in \
        " ".join(capsys.readouterr().err.split())


def test_merging_duplicates_keeps_the_given_test_rows_in_test(tmp_path, capsys):
    frame = pd.read_csv(ESOL)
    frame.loc[105:114, "smiles"] = frame.loc[0:9, "smiles"].to_numpy()  # test copies of train
    parts = ["train"] * 90 + ["val"] * 15 + ["test"] * 15
    data = tmp_path / "copies.csv"
    frame.assign(split=parts).to_csv(data, index=False)
    split, metrics, test = _train(tmp_path, "run", "--data", str(data), "--split-column",
                                  "split", "--duplicates", "mean")
    assert split["test"] == list(range(105, 120)) and metrics["n_test"] == 15
    assert split["train"] == list(range(90)) and len(test) == 15
    err = " ".join(capsys.readouterr().err.split())
    assert "10 of 15 test molecules are also in the training or validation" in err
    assert "(10 molecules in several parts of the given split are merged within each part" in err
