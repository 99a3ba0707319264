"""A setting of the wrong type is refused naming the setting and the type it takes: a JSON
config's ``"epochs": "two"`` used to fail inside the run as "'<' not supported between
instances of 'str' and 'int'"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from molgraph.cli.main import main
from molgraph.training.config import RunConfig

ESOL = Path(__file__).parent / "data" / "esol_120.csv"


@pytest.mark.parametrize("data, words", [
    ({"train": {"epochs": "two"}}, "train.epochs must be a whole number, not 'two'"),
    ({"train": {"epochs": 2.5}}, "train.epochs must be a whole number, not 2.5"),
    ({"train": {"lr": "fast"}}, "train.lr must be a number, not 'fast'"),
    ({"baseline": "no"}, "baseline must be true or false, not 'no'"),
    ({"data": {"target_columns": ["logS", 3]}},
     r"data.target_columns must be a list of text, not \['logS', 3\]"),
    ({"data": {"smiles_column": 3}}, "data.smiles_column must be text or null, not 3"),
    ({"split_sizes": [0.8, "a", 0.1]}, "split_sizes must be a list of 3 numbers"),
    ({"split_sizes": [0.8, 0.2]}, "split_sizes must be a list of 3 numbers"),
    ({"model": 3}, "model must be a ModelConfig, not 3"),
])
def test_a_json_value_of_the_wrong_type_names_the_setting(data, words):
    with pytest.raises(ValueError, match=words):
        RunConfig.from_dict(data)


def test_a_dotted_value_of_the_wrong_type_names_the_setting():
    with pytest.raises(ValueError, match="model.hidden_channels must be a whole number, not '64'"):
        RunConfig().with_values({"model.hidden_channels": "64"})


def test_values_of_the_right_type_pass():
    config = RunConfig.from_dict({"train": {"lr": 1, "epochs": np.int64(3)},
                                  "split_sizes": [0.8, 0.1, 0.1],
                                  "data": {"smiles_column": None}})
    assert config.train.epochs == 3 and config.split_sizes == (0.8, 0.1, 0.1)
    config = config.with_values({"data.target_columns": np.array(["logS"]),
                                 "train.lr": np.float32(0.5), "train.threads": None})
    assert config.train.threads is None and config.train.lr == 0.5


def test_train_with_a_config_of_the_wrong_type_says_which_setting(tmp_path, capsys):
    config = RunConfig().with_values({"data.path": str(ESOL), "data.target_columns": ["logS"]})
    data = config.to_dict()
    data["train"]["epochs"] = "two"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "r.json" in err and "train.epochs must be a whole number, not 'two'" in err, err
    assert "Traceback" not in err
