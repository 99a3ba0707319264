"""The gene run configuration: JSON round trip, dotted names, and the CLI flags built from it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from molgraph.cli import genes as genes_cli
from molgraph.cli.main import build_parser, main
from molgraph.genes.config import (
    FORMATS,
    MODELS,
    GeneDataConfig,
    GeneModelConfig,
    GeneRunConfig,
    GeneTrainConfig,
)
from molgraph.runtime.configs import flatten, from_dict, to_dict, with_values

DATA = GeneDataConfig("net.tsv", "edgelist", features=["a.tsv"], label_columns=["x", "y"],
                      network_options={"header": True}, labels="labels.csv")


def _config(*argv: str) -> GeneRunConfig:
    argv = ["genes", "train", "--out", "o", *argv]
    return genes_cli.gene_run_config(build_parser(argv).parse_args(argv))


def test_defaults_are_unchanged():
    assert to_dict(GeneModelConfig()) == {"name": "gcn", "hidden_channels": 64, "num_layers": 2,
                                          "dropout": 0.5, "heads": 4, "residual": True,
                                          "input_dropout": 0.0, "use_labels": "none"}
    assert to_dict(GeneTrainConfig()) == {"lr": 0.01, "weight_decay": 5e-4, "epochs": 300,
                                          "patience": 50, "class_weight": "balanced",
                                          "device": "auto", "threads": None}
    run = GeneRunConfig(DATA)
    assert (run.folds, run.val_fraction, run.seed) == (5, 0.1, 0)


def test_json_round_trip():
    config = GeneRunConfig(DATA, GeneModelConfig(name="gat", heads=2), seed=3)
    text = json.dumps(to_dict(config))
    assert from_dict(GeneRunConfig, json.loads(text)) == config


def test_dotted_names_set_nested_fields():
    config = with_values(GeneRunConfig(data=DATA), {"model.hidden_channels": 32,
                                                    "train.lr": 3e-4, "seed": 7,
                                                    "data.structural": True})
    assert config.model.hidden_channels == 32 and config.train.lr == 3e-4
    assert config.seed == 7 and config.data.structural and config.model.name == "gcn"
    assert "model.hidden_channels" in flatten(config) and "train.patience" in flatten(config)
    with pytest.raises(ValueError, match="model.hidden"):
        with_values(GeneRunConfig(data=DATA), {"model.hidden": 32})


def test_choices_match_the_library():
    from molgraph.genes.models import MODELS as BUILT
    from molgraph.genes.parsers import FORMATS as READ

    assert set(FORMATS) == set(READ) and MODELS is BUILT


def test_model_defaults_to_gcn_and_old_flags_still_work():
    config = _config("--network", "n.tsv", "--format", "edgelist", "--labels", "l.csv")
    assert config.model == GeneModelConfig() and config.train == GeneTrainConfig()
    config = _config("--network", "n.tsv", "--format", "string", "--positives", "p.txt",
                     "--negatives", "n.txt", "--model", "gat", "--hidden", "16", "--layers",
                     "3", "--no-residual", "--lr", "0.1", "--weight-decay", "0", "--epochs",
                     "9", "--class-weight", "none", "--threads", "2", "--folds", "4", "--seed",
                     "5", "--input-dropout", "0.2", "--heads", "2", "--keep-self-loops",
                     "--features", "a.tsv", "--features", "b.tsv", "c.tsv", "--min-score",
                     "700", "--largest-component")
    assert config.model == GeneModelConfig("gat", 16, 3, 0.5, 2, False, 0.2)
    assert config.train == GeneTrainConfig(0.1, 0.0, 9, 50, "none", "auto", 2)
    assert (config.folds, config.seed) == (4, 5)
    data = config.data
    assert data.features == ["a.tsv", "b.tsv", "c.tsv"] and data.self_loops == "keep"
    assert data.network_options == {"info": None, "min_score": 700, "organism": None}
    assert data.largest_component


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["genes", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("architecture (default: gcn)", "(default: 64)", "(default: 0.01)",
                  "(default: 300)", "(default: 50)", "(default: balanced)", "(default: 0.0005)",
                  "(default: drop)", "(default: auto)", "(default: 0)", "(default: 0.1)",
                  "(default: 5)", "--hidden", "--layers"):
        assert shown in text, shown


def test_missing_inputs_are_argparse_errors(capsys):
    with pytest.raises(SystemExit):
        _config("--labels", "l.csv")
    assert "required: --network, --format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _config("--network", "n.tsv", "--format", "edgelist")
    assert "--labels --positives is required" in capsys.readouterr().err


def test_config_file_is_overridden_by_the_flags_given(tmp_path):
    saved = GeneRunConfig(DATA, GeneModelConfig(name="sage", hidden_channels=16), seed=2)
    (tmp_path / "run_config.json").write_text(json.dumps(to_dict(saved)))
    assert _config("--config", str(tmp_path)) == saved
    config = _config("--config", str(tmp_path / "run_config.json"), "--hidden", "8")
    assert config == with_values(saved, {"model.hidden_channels": 8})
    assert config.data.network_options == {"header": True}  # no reader flag given: kept
    (tmp_path / "bad.json").write_text(json.dumps({"model": {"name": "gcn"}}))
    with pytest.raises(ValueError, match="not a gene run configuration"):
        _config("--config", str(tmp_path / "bad.json"))


def test_building_the_parser_does_not_import_torch():
    code = ("import sys; from molgraph.cli.main import build_parser; "
            "build_parser(['genes', 'train']); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
