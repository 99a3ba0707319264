"""A sweep started again continues its study only when its trials stay comparable: the same
input files by content, one study per directory, a space whose searched distributions Optuna
can continue; and ``best/`` is never a model other than the best trial's."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from molgraph.cli.main import main
from molgraph.sweep.space import space_from_dict
from molgraph.sweep.storage import open_storage
from molgraph.sweep.study import STUDY_NAME, run_study
from molgraph.training.api import run_config

GENES = Path(__file__).parent / "data" / "genes"
SPACE = {"model.name": "gcn", "model.hidden_channels": 8,
         "train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True}}


def _base(data: Path):
    return run_config(data, ["logS"], epochs=1,
                      train_options={"threads": 1, "device": "cpu", "batch_size": 32})


@pytest.fixture
def esol(data_dir, tmp_path) -> Path:
    path = tmp_path / "esol.csv"
    shutil.copy(data_dir / "esol_120.csv", path)
    return path


def _study(out: Path, name: str = STUDY_NAME) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(out, None))


def test_resume_after_the_data_changed_in_place_is_refused(esol, tmp_path):
    out, space = tmp_path / "sweep", space_from_dict(SPACE)
    run_study(_base(esol), out, space, trials=1, pruner="none")
    frame = pd.read_csv(esol)
    frame["logS"] *= 10  # same path, other labels
    frame.to_csv(esol, index=False)
    with pytest.raises(ValueError) as err:
        run_study(_base(esol), out, space, trials=2, pruner="none")
    assert str(err.value) == (
        f"{esol} (data.path) changed since study 'molgraph' began: its trials were scored "
        "on the file as it was, and new ones would mix with them; restore the file, or start "
        "a study on it in another --out (and, with --storage, another --study-name)")
    assert len(_study(out).trials) == 1


def test_a_study_begun_before_contents_were_recorded_continues_with_a_warning(esol, tmp_path,
                                                                              caplog):
    out, space = tmp_path / "sweep", space_from_dict(SPACE)
    run_study(_base(esol), out, space, trials=1, pruner="none")
    study = _study(out)
    study.set_user_attr("data", {k: v for k, v in study.user_attrs["data"].items()
                                 if k != "files"})  # as an older molgraph left it
    with caplog.at_level(logging.WARNING, logger="molgraph.sweep"):
        run_study(_base(esol), out, space, trials=1, pruner="none")
    assert "cannot tell whether its input files changed since: recording them now" in \
        caplog.text
    assert set(_study(out).user_attrs["data"]["files"]) == {"data.path"}


def test_a_gene_sweep_resumed_after_its_labels_changed_is_refused(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    shutil.copy(GENES / "labels.csv", labels)
    space = tmp_path / "space.yaml"
    space.write_text("model.name: mlp\nmodel.hidden_channels: 8\ntrain.epochs: 2\n")
    args = ["genes", "sweep", "--network", str(GENES / "network.tsv"), "--format", "edgelist",
            "--labels", str(labels), "--folds", "2", "--space", str(space), "--no-baseline",
            "--out", str(tmp_path / "sweep")]
    assert main([*args, "--trials", "1"]) == 0
    frame = pd.read_csv(labels)
    frame["label"] = 1 - frame["label"]
    frame.to_csv(labels, index=False)
    assert main([*args, "--trials", "2"]) == 2
    assert f"{labels} (data.labels) changed since study 'molgraph' began" in \
        capsys.readouterr().err


def test_a_second_study_in_one_directory_is_refused(data_dir, tmp_path, capsys):
    # the probe's repro: study B's trial 0 overwrote study A's, best/ kept A's model
    out = tmp_path / "sweep"
    common = ["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
              "--epochs", "1", "--threads", "1", "--no-baseline", "--trials", "1",
              "--out", str(out)]
    for width in (48, 32):
        (tmp_path / f"h{width}.yaml").write_text(f"model.name: gcn\n"
                                                 f"model.hidden_channels: {width}\n")
    assert main([*common, "--space", str(tmp_path / "h48.yaml")]) == 0
    before = (out / "best" / "model" / "weights.pt").read_bytes()
    capsys.readouterr()
    assert main([*common, "--space", str(tmp_path / "h32.yaml"), "--study-name", "B"]) == 2
    assert capsys.readouterr().err == (
        f"molgraph sweep: error: {out} holds the sweep of study 'molgraph' (journal: "
        f"optuna.log); another study there would overwrite its trials/ and best/: give "
        f"another --out, or --study-name molgraph to continue it\n")
    assert (out / "best" / "model" / "weights.pt").read_bytes() == before
    assert json.loads((out / "best_config.json").read_text())["model"]["hidden_channels"] == 48


def test_a_directory_from_before_the_study_marker_is_claimed_by_its_sweep_json(esol,
                                                                                tmp_path):
    out, space = tmp_path / "sweep", space_from_dict(SPACE)
    run_study(_base(esol), out, space, trials=1, pruner="none")
    (out / "study.json").unlink()  # as an older molgraph left the directory
    with pytest.raises(ValueError, match="holds the sweep of study 'molgraph'"):
        run_study(_base(esol), out, space, trials=1, study_name="other", pruner="none")


def test_a_changed_distribution_is_refused_before_any_trial(esol, tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    study = optuna.create_study(storage=open_storage(out, None), study_name=STUDY_NAME)
    study.add_trial(create_trial(params={"train.lr": 1e-3}, value=1.0, distributions={
        "train.lr": FloatDistribution(1e-4, 1e-2, log=True)}))
    linear = {**SPACE, "train.lr": {"type": "float", "low": 1.0e-2, "high": 2.0e-2}}
    with pytest.raises(ValueError) as err:
        run_study(_base(esol), out, space_from_dict(linear, "s2.yaml"), trials=3)
    assert str(err.value).startswith(
        "s2.yaml: train.lr: study 'molgraph' searched it as float in [0.0001, 0.01], log, and "
        "Optuna cannot continue it as float in [0.01, 0.02]: ")
    assert str(err.value).endswith("keep its type, log and choices, or start a study with "
                                   "this space in another --out (and, with --storage, another "
                                   "--study-name)")
    assert len(_study(out).trials) == 1  # no trial burnt


def test_a_changed_range_or_a_new_setting_is_a_warning(esol, tmp_path, caplog):
    out = tmp_path / "sweep"
    run_study(_base(esol), out, space_from_dict(SPACE), trials=1, pruner="none")
    wider = {**SPACE, "train.lr": {"type": "float", "low": 1.0e-5, "high": 1.0e-2,
                                   "log": True}, "model.num_layers": [1, 2]}
    with caplog.at_level(logging.WARNING, logger="molgraph.sweep"):
        run_study(_base(esol), out, space_from_dict(wider), trials=2, pruner="none")
    assert "the search space differs from the one study 'molgraph' started with: " \
           "model.num_layers added; train.lr changed" in caplog.text
    assert [t.state for t in _study(out).trials] == [TrialState.COMPLETE] * 2


def test_best_is_removed_when_the_best_trial_ran_in_another_directory(esol, tmp_path,
                                                                      capsys):
    out, elsewhere = tmp_path / "X", tmp_path / "B"
    space = tmp_path / "space.yaml"
    space.write_text("model.name: gcn\nmodel.hidden_channels: 8\n")
    args = ["sweep", "--data", str(esol), "--target-columns", "logS", "--epochs", "1",
            "--threads", "1", "--no-baseline", "--space", str(space), "--out", str(out)]
    assert main([*args, "--trials", "1"]) == 0
    assert json.loads((out / "best" / "trial.json").read_text())["trial"] == 0
    # trial 1, better, ran in B, joined through --storage X/optuna.log
    study = _study(out)
    config = study.trials[0].user_attrs["config"]
    study.add_trial(create_trial(value=study.best_value / 2, user_attrs={
        "settings": {}, "config": config, "out": str(elsewhere)}))
    capsys.readouterr()
    assert main([*args, "--trials", "2"]) == 0
    assert not (out / "best").exists()
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["best_trial"] == 1 and summary["best_model"] is None
    assert summary["best_ran_in"] == str(elsewhere)
    lines = capsys.readouterr()
    assert (f"best model: not in this directory: trial 1 ran in {elsewhere} "
            f"({elsewhere}/trials/0001); its configuration: {out}/best_config.json") in lines.out
    assert f"removed {out}/best (trial 0's model): the best trial, 1, ran in {elsewhere}" in \
        lines.err


def test_a_refused_resume_leaves_the_tracked_parent_run_as_it_was(esol, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    space = tmp_path / "space.yaml"
    space.write_text("model.name: gcn\nmodel.hidden_channels: 8\n")
    args = ["sweep", "--data", str(esol), "--target-columns", "logS", "--epochs", "1",
            "--threads", "1", "--no-baseline", "--space", str(space), "--tracking-uri", uri,
            "--out", str(tmp_path / "sweep")]
    assert main([*args, "--trials", "1"]) == 0
    esol.write_text(esol.read_text().replace("\n", "\r\n"))  # same rows, other bytes
    assert main([*args, "--trials", "2"]) == 2
    assert "(data.path) changed since study 'molgraph' began" in capsys.readouterr().err
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("molgraph").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "FINISHED" and "molgraph.error" not in parent.data.tags
    assert [r.info.status for r in runs if r is not parent] == ["FINISHED"]
