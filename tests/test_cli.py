import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from molgraph.cli.main import main


def test_train_then_predict_keeps_every_row(data_dir, tmp_path):
    out = tmp_path / "run"
    code = main(["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
                 "--model", "dmpnn", "--split", "scaffold", "--seed", "1", "--epochs", "2",
                 "--hidden", "32", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"rmse", "mae", "r2"} <= set(metrics["val"]) and {"rmse", "mae", "r2"} <= set(
        metrics["test"])
    preds = pd.read_csv(out / "test_predictions.csv")
    assert len(preds) == metrics["n_test"] and "logS_pred" in preds

    pred_csv = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(out), "--data", str(data_dir / "with_invalid.csv"),
                 "--out", str(pred_csv)]) == 0
    frame = pd.read_csv(pred_csv, keep_default_na=False)
    assert frame["row"].tolist() == list(range(1, 8))
    assert frame["smiles"].tolist()[:2] == ["CCO", "not_a_smiles"]
    bad = frame["error"] != ""
    assert bad.tolist() == [False, True, True, False, True, False, False]
    assert (frame.loc[bad, "logS_pred"] == "").all()


def test_train_classification_multitask_from_sdf_and_csv(data_dir, tmp_path):
    out = tmp_path / "tox"
    code = main(["train", "--data", str(data_dir / "tox21_150.csv"), "--target-columns",
                 "NR-AR", "NR-AhR", "SR-MMP", "--task", "classification", "--model", "gcn",
                 "--split", "random", "--epochs", "2", "--hidden", "16", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"roc_auc", "pr_auc"} <= set(metrics["test"])

    sdf_out = tmp_path / "sdf"
    assert main(["train", "--data", str(data_dir / "esol_20.sdf.gz"), "--target-columns",
                 "logS", "--model", "gat", "--split", "random", "--epochs", "1", "--hidden",
                 "16", "--out", str(sdf_out)]) == 0


def test_bad_input_gives_exit_code_and_message(data_dir, tmp_path, capsys):
    code = main(["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "nope",
                 "--out", str(tmp_path / "x")])
    assert code == 2
    assert "no target column 'nope'" in capsys.readouterr().err


def test_screen_parser_does_not_import_torch():
    # `molgraph screen` must not wait ~3 s on torch and PyG through `train`'s model choices
    code = ("import sys; from molgraph.cli.main import build_parser; "
            "build_parser(['screen', '--help']); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_every_verb_is_listed_without_one(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out
    assert all(verb in usage for verb in ("train", "predict", "screen", "featurize", "genes"))


def _leaf_parsers(parser):
    """Every verb's parser (``genes train`` included), by name."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = list(_leaf_parsers(sub))
                yield from inner or [(name, sub)]


def test_help_shows_every_default():
    from molgraph.cli.main import build_parser

    for verb, parser in _leaf_parsers(build_parser([])):
        for action in parser._actions:
            if action.required or not action.option_strings or action.dest == "help":
                continue
            text = action.help or ""
            assert "default" in text or "required" in text, \
                f"{verb} {action.option_strings}: {text}"


def test_a_missing_file_is_named_in_words_not_as_an_errno(tmp_path, capsys):
    labels = Path(__file__).parent / "data" / "genes" / "labels.csv"
    code = main(["genes", "train", "--network", str(tmp_path / "nope.tsv"), "--format",
                 "edgelist", "--labels", str(labels), "--out", str(tmp_path / "g")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith(f"{tmp_path / 'nope.tsv'}: no such file; check the path")
    assert "Errno" not in err
