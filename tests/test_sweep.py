"""Sweeps with real Optuna on tiny data: the space, failures, resume, stale trials, workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import FixedTrial, TrialState

from molgraph.cli.main import main
from molgraph.sweep.molecules import MoleculeProblem
from molgraph.sweep.space import default_space, load_space, space_from_dict
from molgraph.sweep.study import STUDY_NAME, open_storage, run_study
from molgraph.training.api import run_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
TINY = """\
model.name: {type: categorical, choices: [dmpnn, gcn, gat]}
model.hidden_channels: {type: int, low: 8, high: 16, step: 8}
model.num_layers: [1, 2]
model.heads: {type: categorical, choices: [1, 2], when: {model.name: gat}}
train.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
"""
COMMON = {"model.name": "gcn", "model.hidden_channels": 64, "model.num_layers": 2,
          "model.dropout": 0.1, "model.ffn_layers": 1, "model.molecule_features": "none",
          "train.lr": 1e-3,
          "train.weight_decay": 1e-6, "train.batch_size": 32}


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _base(data_dir, epochs: int = 2, **settings):
    return run_config(data_dir / "esol_120.csv", ["logS"], epochs=epochs,
                      train_options={"threads": 1, "device": "cpu", "batch_size": 32},
                      **settings)


def test_default_space_conditions():
    space = default_space()
    gat = space.sample(FixedTrial({**COMMON, "model.name": "gat", "model.pooling": "sum",
                                   "model.heads": 4}))
    assert gat["model.heads"] == 4 and gat["model.pooling"] == "sum"
    gcn = space.sample(FixedTrial({**COMMON, "model.pooling": "mean"}))
    assert "model.heads" not in gcn and gcn["model.pooling"] == "mean"
    afp = space.sample(FixedTrial({**COMMON, "model.name": "attentivefp"}))
    assert "model.heads" not in afp and "model.pooling" not in afp
    # a setting fixed outside the space (a flag) decides its conditions
    fixed = space.without(["model.name"]).sample(
        FixedTrial({**COMMON, "model.heads": 2, "model.pooling": "max"}), {"model.name": "gat"})
    assert fixed["model.heads"] == 2 and "model.name" not in fixed


def test_default_space_file_matches_the_code():
    assert load_space(EXPERIMENTS / "sweep_space_default.yaml").to_dict() == \
        default_space().to_dict()
    assert load_space(EXPERIMENTS / "sweep_space_dmpnn.yaml").names[0] == "model.name"


def test_yaml_shorthands(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("train.epochs: 3\nmodel.num_layers: [1, 2]\n"
                    "train.lr: {type: float, low: 1e-4, high: 1e-2, log: true}\n")
    space = load_space(path)
    assert [p.kind for p in space.params] == ["fixed", "categorical", "float"]
    assert space.params[2].low == 1e-4  # YAML's "1e-4" string read as a number


@pytest.mark.parametrize("text, message", [
    ("model.hiden_channels: [8]", "model.hiden_channels: unknown"),
    ("data.path: [a.csv]", "data.path: unknown or unsearchable"),
    ("model.hidden_channels: {type: float, low: 1, high: 2}", "not a float setting"),
    ("model.dropout: {type: float, low: 0.3, high: 0.1}", "must be below high"),
    ("train.lr: {type: float, low: 0, high: 0.1, log: true}", "log: true needs low > 0"),
    ("model.name: [gcn, gta]", "'gta' is refused"),
    ("train.batch_size: [1, 32]", "batch size must be at least 2"),
    ("model.num_layers: {type: int, low: 1}", "needs low and high"),
    ("model.num_layers: {type: range, low: 1, high: 2}", "type must be one of"),
    ("model.num_layers: {type: int, low: 1, high: 3, stride: 1}", "unknown keys ['stride']"),
    ("model.heads: {type: int, low: 1, high: 2, when: {model.name: gat}}\nmodel.name: [gat]",
     "must come before"),
    ("model.name: [gcn, gat]\nmodel.heads: {type: int, low: 1, high: 2, when: {model.name: gta}}",
     "is never ['gta']"),
    ("- model.name", "a search space is a mapping"),
    ("model.name: [gcn\n", "not valid YAML"),
])
def test_yaml_errors_name_file_and_entry(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_space(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_sweep_cli_writes_best_then_resumes_the_same_study(data_dir, tmp_path, tiny, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--epochs", "2", "--batch-size", "32", "--threads", "1", "--device", "cpu",
            "--space", str(tiny), "--pruner", "none", "--out", str(out)]
    assert main([*args, "--trials", "3"]) == 0
    assert '"val_rmse"' in capsys.readouterr().out
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["n_trials"] == 3 and summary["states"] == {"COMPLETE": 3}
    assert summary["best_model"] == "best"
    assert set(summary["best_params"]) >= {"model.name", "train.lr"}
    assert summary["trials_run"] == 3 and summary["trials_per_hour"] > 0
    metrics = json.loads((out / "best" / "metrics.json").read_text())
    assert json.loads((out / "best" / "trial.json").read_text())["trial"] == \
        summary["best_trial"]
    assert "test" not in metrics and (out / "best" / "val_predictions.csv").exists()
    assert metrics["val"]["rmse"] == pytest.approx(summary["best_value"])
    assert json.loads((out / "best_config.json").read_text())["train"]["epochs"] == 2

    pred = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(out / "best"), "--data",
                 str(data_dir / "esol_120.csv"), "--out", str(pred)]) == 0
    assert len(pd.read_csv(pred)) == 120

    assert main([*args, "--trials", "5"]) == 0  # continues: 2 more, not 5
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["n_trials"] == 5 and summary["trials_run"] == 2
    assert main([*args, "--trials", "5"]) == 0  # nothing left to run
    assert json.loads((out / "sweep.json").read_text())["trials_run"] == 0


def test_stale_running_trial_is_failed_on_start(data_dir, tmp_path, tiny):
    out = tmp_path / "sweep"
    out.mkdir()
    study = optuna.create_study(storage=open_storage(out, None), study_name=STUDY_NAME)
    study.ask()  # a trial whose process died: never told
    result = run_study(_base(data_dir), out, tiny, trials=2, pruner="none")
    trials = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(out, None)).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[0].user_attrs["fail_reason"].startswith("stale")
    assert result["trials_run"] == 1 and result["best_trial"] == 1


class _OutOfMemory(MoleculeProblem):
    """Training raises inside every trial (as a GPU out of memory would)."""

    def train(self, config, tracker=None, on_step=None):
        raise RuntimeError(f"no room for {config.model.num_layers} layers")


def test_failing_trial_is_recorded_and_the_sweep_goes_on(data_dir, tmp_path):
    space = space_from_dict({"model.name": "gcn", "model.num_layers": [1, 2]})
    result = run_study(_OutOfMemory(_base(data_dir)), tmp_path / "sweep", space, trials=2,
                       pruner="none")
    assert result["states"] == {"FAIL": 2} and result["best_trial"] is None
    failures = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["failures"]
    assert len(failures) == 2 and all("no room for" in f["reason"] for f in failures)


def test_nan_loss_fails_the_trial(data_dir, tmp_path):
    space = space_from_dict({"model.name": "gcn", "model.hidden_channels": 8,
                             "train.lr": 1.0e30, "train.warmup_epochs": 0})
    result = run_study(_base(data_dir), tmp_path / "sweep", space, trials=1, pruner="none")
    reason = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["failures"][0]
    assert result["states"] == {"FAIL": 1}, reason
    assert "not finite" in reason["reason"] or "NaN" in reason["reason"]


class _Recorder:
    """A tracker and trial callback that remember what they were told (it pickles)."""

    def __init__(self) -> None:
        self.params, self.steps, self.finished = [], [], []

    def __call__(self, number, settings):
        self.current = number
        return self

    def log_params(self, params):
        self.params.append(params)

    def log_metrics(self, metrics, step):
        if "best_val_rmse" in metrics:
            self.best = (self.current, step, metrics["best_val_rmse"])
        else:
            self.steps.append((self.current, step, metrics["val_rmse"]))

    def on_trial(self, study, trial):
        self.finished.append((trial.number, trial.state))


def test_epochs_reach_the_pruner_and_the_tracker(data_dir, tmp_path, tiny):
    recorder = _Recorder()
    run_study(_base(data_dir, epochs=3), tmp_path / "a", tiny, trials=1, pruner="none",
              tracker_factory=recorder, on_trial_end=[recorder.on_trial])
    trial = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(tmp_path / "a", None)
                              ).trials[0]
    assert sorted(trial.intermediate_values) == [1, 2, 3]  # the pruner's steps are epochs
    assert [s[:2] for s in recorder.steps] == [(0, 1), (0, 2), (0, 3)]
    assert recorder.params[0]["train.epochs"] == 3
    assert recorder.finished == [(0, TrialState.COMPLETE)]
    assert recorder.best == (0, trial.user_attrs["best_epoch"], trial.value)
    assert not any("test" in key for key in trial.user_attrs["val"])
    # a pruner that gives up at once: pruned after the first epoch, not failed
    pruned = run_study(_base(data_dir, epochs=3), tmp_path / "b", tiny, trials=2,
                       pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    assert pruned["states"] == {"PRUNED": 2} and not (tmp_path / "b" / "best").exists()


def test_resume_on_other_data_is_refused(data_dir, tmp_path, tiny):
    run_study(_base(data_dir), tmp_path / "s", tiny, trials=1, pruner="none")
    with pytest.raises(ValueError, match="other data"):
        run_study(_base(data_dir, split="random"), tmp_path / "s", tiny, trials=2)


def test_two_worker_processes_share_one_study(data_dir, tmp_path, tiny):
    out = tmp_path / "sweep"
    result = run_study(_base(data_dir), out, tiny, trials=4, jobs=2, pruner="none",
                       keep_trials="best")
    trials = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(out, None)).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3] and result["trials_run"] == 4
    assert all(t.state == TrialState.COMPLETE for t in trials)
    pids = {t.user_attrs["worker"]["pid"] for t in trials}
    assert len(pids) == 2 and os.getpid() not in pids
    assert [p.name for p in (out / "trials").iterdir()] == [f"{result['best_trial']:04d}"]
    assert (out / "best" / "model" / "weights.pt").exists()


def test_shared_rdb_study_fails_only_trials_whose_process_is_gone(data_dir, tmp_path, tiny):
    import subprocess
    import sys

    from molgraph.sweep.objective import owner

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(storage=url, study_name="shared")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    study.ask().set_user_attr("worker", {**owner(), "pid": int(dead), "started": "1"})
    study.ask().set_user_attr("worker", owner())  # alive: another worker on this study
    first = run_study(_base(data_dir), tmp_path / "a", tiny, trials=3, storage=url,
                      study_name="shared", pruner="median")
    second = run_study(_base(data_dir), tmp_path / "b", tiny, trials=4, storage=url,
                       study_name="shared", pruner="median")
    states = [t.state for t in optuna.load_study(study_name="shared", storage=url).trials]
    assert states[:2] == [TrialState.FAIL, TrialState.RUNNING]
    assert first["trials_run"] == 1 and second["trials_run"] == 1 and len(states) == 4
    assert first["storage"] == url and second["n_trials"] == 4


def test_timeout_starts_no_trial_after_the_deadline(data_dir, tmp_path, tiny):
    result = run_study(_base(data_dir), tmp_path / "s", tiny, trials=5, timeout=1e-6)
    assert result["trials_run"] == 0 and result["n_trials"] == 0
    assert result["best_trial"] is None and not (tmp_path / "s" / "best").exists()


def test_sweep_tracks_one_parent_run_and_a_child_run_per_trial(data_dir, tmp_path, tiny):
    from mlflow.tracking import MlflowClient

    out = tmp_path / "tracked"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
                 "--epochs", "2", "--batch-size", "32", "--threads", "1", "--device", "cpu",
                 "--space", str(tiny), "--pruner", "none", "--trials", "2", "--out", str(out),
                 "--tracking-uri", uri, "--experiment", "sweep-test", "--seeds", "0", "1"]) == 0
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("sweep-test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 2
    best = json.loads((out / "sweep.json").read_text())
    assert parents[0].data.metrics["best_val_rmse"] == pytest.approx(best["best_value"])
    assert parents[0].data.tags["best.model.name"] == str(best["best_params"]["model.name"])
    for child in children:
        assert child.data.tags["optuna.state"] == "COMPLETE"
        assert "model.hidden_channels" in child.data.params
        assert "test_rmse" not in child.data.metrics
        assert len(client.get_metric_history(child.info.run_id, "val_rmse")) == 2
    assert {c.data.tags["optuna.trial_number"] for c in children} == {"0", "1"}

    # the test sets are scored once, at the end: best and default over seeds 0 and 1
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["seeds"] == [0, 1] and evaluation["metric"] == "test_rmse"
    for label in ("best", "default"):
        cell = evaluation[label]["rmse"]
        assert len(cell["values"]) == 2 and cell["mean"] == pytest.approx(np.mean(cell["values"]))
        for seed in (0, 1):
            run_dir = out / "evaluation" / label / f"seed{seed}"
            assert json.loads((run_dir / "metrics.json").read_text())["seed"] == seed
            assert (run_dir / "plots" / "parity.png").exists()
    assert parents[0].data.metrics["best_test_rmse_mean"] == \
        pytest.approx(evaluation["best"]["rmse"]["mean"])
    assert "test_rmse" not in json.dumps(json.loads((out / "sweep.json").read_text()))
    # the sweep's pictures, and the parent's artifacts: not every trial's model
    assert {"optimization_history.png", "best_learning_curves.png",
            "best_validation_parity.png"} <= \
        {p.name for p in (out / "plots").iterdir()}
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"sweep.json", "best_config.json", "evaluation.json", "plots", "best"} <= artifacts
    assert "trials" not in artifacts
    # the best model as an MLflow pyfunc model: SMILES in, predictions with invalid rows out
    import mlflow

    model_uri = parents[0].data.tags["molgraph.best_model_uri"]
    mlflow.set_tracking_uri(uri)
    try:
        frame = mlflow.pyfunc.load_model(model_uri).predict(
            pd.DataFrame({"smiles": ["CCO", "not a smiles", "c1ccccc1O"]}))
    finally:
        mlflow.set_tracking_uri(None)
    assert frame["valid"].tolist() == [True, False, True]
    # an invalid row's prediction is None, which the server writes as JSON null
    assert frame["logS_pred"][1] is None
    assert np.isfinite(frame["logS_pred"][[0, 2]].astype(float)).all()


def test_genes_sweep_scores_folds_on_validation_and_trains_the_best(tmp_path):
    genes = Path(__file__).parent / "data" / "genes"
    out = tmp_path / "genes-sweep"
    space = tmp_path / "genes.yaml"
    space.write_text("model.name: [gcn, sage, mlp]\nmodel.hidden_channels: [8, 16]\n"
                     "train.lr: {type: float, low: 1.0e-3, high: 5.0e-2, log: true}\n")
    args = ["genes", "sweep", "--network", str(genes / "network.tsv"), "--format", "edgelist",
            "--features", str(genes / "omics.tsv"), "--positives", str(genes / "positives.txt"),
            "--negatives", str(genes / "negatives.txt"), "--folds", "2", "--epochs", "3",
            "--space", str(space), "--trials", "3", "--seeds", "0", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["kind"] == "genes" and summary["metric"] == "val_pr_auc"
    assert summary["states"] == {"COMPLETE": 3}
    trial = json.loads((out / "trials" / "0000" / "metrics.json").read_text())
    assert set(trial["val"]) == {"pr_auc", "pr_auc_fold0", "pr_auc_fold1"}
    assert "cv" not in trial  # the folds' test genes are not looked at
    study = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(out, None))
    assert all(len(t.intermediate_values) == 2 for t in study.trials)  # one step per fold
    # best/ is `genes train` with the best configuration, and `genes predict` reads it
    assert json.loads((out / "best" / "trial.json").read_text())["trial"] == summary["best_trial"]
    best_config = json.loads((out / "best_config.json").read_text())
    assert json.loads((out / "best" / "run_config.json").read_text()) == best_config
    assert main(["genes", "predict", "--model", str(out / "best"),
                 "--out", str(tmp_path / "ranked.csv")]) == 0
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["kind"] == "genes" and evaluation["best"]["pr_auc"]["mean"] > 0
    assert main([*args, "--trials", "4"]) == 0  # resumes the same study
    assert json.loads((out / "sweep.json").read_text())["n_trials"] == 4


def test_gene_space_entries_are_checked_against_the_gene_configuration(tmp_path):
    from molgraph.sweep.genes import gene_space_base

    path = tmp_path / "bad.yaml"
    path.write_text("model.name: [gcn, pooling]\n")
    with pytest.raises(ValueError, match="'pooling' is refused"):
        load_space(path, gene_space_base())
    path.write_text("model.pooling: [mean]\n")  # a molecule setting
    with pytest.raises(ValueError, match="unknown or unsearchable"):
        load_space(path, gene_space_base())


def test_a_restarted_tracked_sweep_continues_its_parent_run(data_dir, tmp_path, tiny):
    """After a kill, the same command continues the same MLflow parent run, and the child run
    the dead process left RUNNING is closed as KILLED (its Optuna trial is failed too)."""
    from mlflow.tracking import MlflowClient

    from molgraph.tracking.mlflow_runs import MlflowTracker

    out, uri = tmp_path / "tracked", f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--epochs", "2", "--batch-size", "32", "--threads", "1", "--device", "cpu",
            "--space", str(tiny), "--pruner", "none", "--out", str(out),
            "--tracking-uri", uri, "--experiment", "resumed"]
    assert main([*args, "--trials", "1"]) == 0
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("resumed").experiment_id
    (parent,) = client.search_runs([experiment], "attributes.status = 'FINISHED' and "
                                   "tags.`optuna.study` = 'molgraph'")
    # what a SIGKILL leaves: a child run still RUNNING (and the parent RUNNING)
    dead = MlflowTracker.start(uri, "resumed", "trial 1", parent.info.run_id)
    client.update_run(parent.info.run_id, status="RUNNING")
    assert main([*args, "--trials", "2"]) == 0
    runs = client.search_runs([experiment])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.run_id for p in parents] == [parent.info.run_id]
    assert parents[0].info.status == "FINISHED" and parents[0].data.metrics["n_trials"] == 2
    killed = client.get_run(dead.run_id)
    assert killed.info.status == "KILLED" and killed.data.tags["optuna.state"] == "FAIL"
    assert sum(r.data.tags.get("mlflow.parentRunId") == parent.info.run_id for r in runs) == 3
