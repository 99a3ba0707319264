"""What a sweep says and records when trials fail or none runs: Optuna's traceback of a failed
trial only with ``-v`` (workers included), the MLflow parent FAILED when no trial completes,
a refused negative timeout, and a last line that says what happened."""

from __future__ import annotations

import logging

import pytest

from molgraph.cli.main import main
from molgraph.sweep.molecules import MoleculeProblem
from molgraph.sweep.optuna_logs import optuna_logs
from molgraph.sweep.space import space_from_dict
from molgraph.sweep.study import run_study
from molgraph.training.api import run_config

SPACE = {"model.name": "gcn", "model.hidden_channels": 8, "model.num_layers": [1, 2]}


def _base(data_dir):
    return run_config(data_dir / "esol_120.csv", ["logS"], epochs=1,
                      train_options={"threads": 1, "device": "cpu", "batch_size": 32})


class _Broken(MoleculeProblem):
    """Every trial raises inside training."""

    def train(self, config, tracker=None, on_step=None):
        raise RuntimeError("the GPU fell off")


def _cli(data_dir, tmp_path, space_text: str, *extra: str) -> list[str]:
    space = tmp_path / "space.yaml"
    space.write_text(space_text)
    return ["sweep", "--data", str(data_dir / "esol_120.csv"), "--target-columns", "logS",
            "--epochs", "1", "--batch-size", "32", "--threads", "1", "--device", "cpu",
            "--no-baseline", "--pruner", "none", "--space", str(space),
            "--out", str(tmp_path / "sweep"), *extra]


class _Heard(logging.Handler):
    """Optuna's records as its own handler gets them (its logger does not propagate)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(self.format(record))


@pytest.fixture
def optuna_heard():
    heard = _Heard()
    heard.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("optuna").addHandler(heard)
    yield heard
    logging.getLogger("optuna").removeHandler(heard)


def test_a_failed_trial_shows_no_optuna_traceback_without_verbose(data_dir, tmp_path,
                                                                  optuna_heard):
    result = run_study(_Broken(_base(data_dir)), tmp_path / "s", space_from_dict(SPACE),
                       trials=2, pruner="none")
    assert result["states"] == {"FAIL": 2}
    heard = "\n".join(optuna_heard.text)
    assert "failed with" not in heard and "Traceback" not in heard


def test_nor_in_worker_processes(data_dir, tmp_path, capfd):
    result = run_study(_Broken(_base(data_dir)), tmp_path / "s", space_from_dict(SPACE),
                       trials=2, jobs=2, pruner="none")
    assert result["states"] == {"FAIL": 2}
    err = capfd.readouterr().err  # Optuna's lines start "[W 2026-..." and "[I 2026-..."
    assert "failed with" not in err and "[W " not in err
    assert "[I " not in err  # nor Optuna's own line per trial


def test_verbose_shows_optuna_s_traceback(data_dir, tmp_path, optuna_heard):
    optuna_log = logging.getLogger("optuna")
    before = optuna_log.level
    optuna_log.setLevel(logging.DEBUG)  # what molgraph -v does
    try:
        run_study(_Broken(_base(data_dir)), tmp_path / "s", space_from_dict(SPACE), trials=1,
                  pruner="none")
    finally:
        optuna_log.setLevel(before)
    heard = "\n".join(optuna_heard.text)
    assert "Trial 0 failed with parameters" in heard and "the GPU fell off" in heard


def test_negative_timeout_is_refused(data_dir, tmp_path, capsys):
    args = _cli(data_dir, tmp_path, "model.name: gcn\n", "--timeout", "-5")
    assert main(args) == 2
    assert "timeout must be a positive number of seconds, not -5" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_no_trial_started_says_why_and_the_parent_run_fails(data_dir, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = _cli(data_dir, tmp_path, "model.name: gcn\n", "--timeout", "1e-6",
                "--tracking-uri", uri)
    assert main(args) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == ("no trial ran: the time limit (--timeout 1e-06 s) ran out before the "
                    "first trial started")
    (parent,) = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("molgraph").experiment_id])
    assert parent.info.status == "FAILED"
    assert parent.data.tags["molgraph.error"] == last


def test_every_trial_failed_says_why_and_the_parent_run_fails(data_dir, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # a learning rate this large makes the loss NaN: every trial fails, inside training
    args = _cli(data_dir, tmp_path, "model.name: gcn\nmodel.hidden_channels: 8\n"
                "train.lr: [1.0e+30, 1.0e+31]\ntrain.warmup_epochs: 0\n", "--trials", "2",
                "--tracking-uri", uri)
    assert main(args) == 1
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("no trial completed: 2 failed, e.g. trial 0: ")
    assert out.endswith(f"(every failure: {tmp_path / 'sweep' / 'sweep.json'})")
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("molgraph").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "FAILED" and parent.data.tags["molgraph.error"] == out
    assert sorted(r.info.status for r in runs if r is not parent) == ["FAILED", "FAILED"]


def test_every_trial_pruned_says_so(tmp_path):
    from molgraph.sweep.run import no_result

    summary = {"n_trials": 3, "states": {"PRUNED": 3}, "failures": [], "timeout": None}
    assert no_result(summary, tmp_path) == (
        "no trial completed: every one of the 3 trials was pruned (stopped early by the "
        "pruner; --pruner none turns it off)")


def test_the_trials_bar_writes_why_a_trial_failed():
    import io

    import optuna

    from molgraph.sweep.progress import TrialProgress

    def objective(trial):
        trial.set_user_attr("fail_reason", "RuntimeError: the GPU fell off")
        raise RuntimeError("the GPU fell off")

    stream = io.StringIO()
    study = optuna.create_study()
    with TrialProgress(1, 0, "val_rmse", "minimize", enabled=True, file=stream) as bar, \
            optuna_logs(logging.INFO):
        study.optimize(objective, n_trials=1, catch=(RuntimeError,), callbacks=[bar])
    assert "trial 0 FAIL: RuntimeError: the GPU fell off; 1/1 done (1 failed)" in \
        stream.getvalue()


def test_a_gene_fold_without_a_finite_score_is_not_reported_to_the_pruner():
    from molgraph.sweep.genes import _FoldBest

    heard = []
    folds = _FoldBest("pr_auc", lambda step, value: heard.append((step, value)))
    folds.on_epoch_end(1, {"fold0_train_loss": 0.5, "fold0_val_pr_auc": float("nan")})
    folds.on_epoch_end(1, {"fold1_train_loss": 0.5, "fold1_val_pr_auc": 0.8})
    folds.end_fold()
    # a NaN is no score: reported, the pruner would stop the trial as PRUNED and hide why
    assert heard == [(1, 0.8)]
