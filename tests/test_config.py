"""The run configuration: JSON round trips, dotted names, and the CLI flags derived from it."""

import dataclasses
import json
import subprocess
import sys

import pytest

from molgraph.cli.main import build_parser, main
from molgraph.models.config import ModelConfig
from molgraph.training.api import run_config, train
from molgraph.training.config import DataConfig, RunConfig, TrainConfig


def test_run_config_round_trips_through_json(tmp_path):
    config = RunConfig(DataConfig("data.csv", ["y"]), task="classification", seed=3,
                       split_sizes=(0.7, 0.1, 0.2),
                       model=ModelConfig("gat", hidden_channels=64, heads=2),
                       train=TrainConfig(lr=3e-4, threads=1))
    path = config.save(tmp_path / "run_config.json")
    assert RunConfig.load(path) == config
    assert json.loads(path.read_text())["model"]["heads"] == 2


def test_dotted_names_set_nested_fields_and_typos_are_named():
    config = RunConfig().with_values({"model.hidden_channels": 32, "train.lr": 0.01,
                                      "seed": 5})
    assert (config.model.hidden_channels, config.train.lr, config.seed) == (32, 0.01, 5)
    assert config.flat()["model.hidden_channels"] == 32 and "model.atom_vocab" not in config.flat()
    with pytest.raises(ValueError, match=r"unknown settings \['model.hiden_channels'\]"):
        RunConfig().with_values({"model.hiden_channels": 32})
    with pytest.raises(ValueError, match="unknown model"):
        RunConfig().with_values({"model.name": "mpnn"})


def test_a_malformed_run_config_file_is_named(tmp_path):
    path = tmp_path / "run_config.json"
    path.write_text('{"model": {"hidden": 3}}')
    with pytest.raises(ValueError, match="run_config.json: not a molgraph run configuration"):
        RunConfig.load(path)


def test_options_given_as_dicts_or_keywords_no_longer_collide(data_dir):
    config = run_config("x.csv", ["y"], model_options={"name": "gcn"},
                        train_options={"epochs": 5})
    assert (config.model.name, config.train.epochs) == ("gcn", 5)
    with pytest.raises(ValueError, match="train.epochs given twice"):
        run_config("x.csv", ["y"], epochs=3, train_options={"epochs": 5})
    run = train(data_dir / "esol_120.csv", ["logS"], split="random",
                          train_options={"epochs": 2}, model_options={"name": "gcn",
                                                                      "hidden_channels": 16},
                          cache_dir=False)
    assert len(run.fit.history) == 2 and run.config.model.out_channels == 1


def _flags(parser) -> set[str]:
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    return {flag for action in sub._actions for flag in action.option_strings}


def test_every_model_and_train_field_has_a_flag_with_its_default_in_help(capsys):
    flags = _flags(build_parser(["train"]))
    renamed = {"name": "model"}
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if not f.metadata.get("derived"):
                assert "--" + renamed.get(f.name, f.name).replace("_", "-") in flags, f.name
    assert {"--hidden", "--layers", "--data", "--no-cache", "--config"} <= flags
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 300)" in text and "(default: 0.001)" in text and "(default: dmpnn)" in text


def test_config_file_repeats_a_run_and_flags_override_it(data_dir, tmp_path):
    first = tmp_path / "first"
    assert main(["train", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
                 "--model", "gine", "--split", "random", "--epochs", "1", "--hidden", "16",
                 "--weight-decay", "0.01", "--ffn-layers", "1", "--no-cache",
                 "--out", str(first)]) == 0
    saved = RunConfig.load(first / "run_config.json")
    assert (saved.model.name, saved.model.hidden_channels, saved.model.ffn_layers,
            saved.train.weight_decay, saved.data.cache) == ("gine", 16, 1, 0.01, False)
    second = tmp_path / "second"
    assert main(["train", "--config", str(first / "run_config.json"), "--seed", "4",
                 "--out", str(second)]) == 0
    again = RunConfig.load(second / "run_config.json")
    assert again == dataclasses.replace(saved, seed=4)


def test_train_without_data_says_which_flag_is_missing(capsys, tmp_path):
    assert main(["train", "--target-columns", "y", "--out", str(tmp_path / "x")]) == 2
    assert "--data" in capsys.readouterr().err


def test_core_imports_stay_light():
    """optuna, mlflow, deepchem and dask load only where used; the train CLI's parser needs no
    torch."""
    code = ("import sys; import molgraph, molgraph.training.job, molgraph.screening.screen, "
            "molgraph.inference.predict; from molgraph.cli.main import build_parser; "
            "heavy = {'optuna', 'mlflow', 'deepchem', 'dask', 'distributed'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    code = ("import sys; from molgraph.cli.main import build_parser; build_parser(['train']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
