"""Training and sweeps a person can watch: a bar on a terminal, plain lines elsewhere."""

import io
import json
import logging
import pickle
import subprocess
import sys

import optuna
import pytest

from molgraph.sweep.progress import TrialProgress
from molgraph.training.watch import EpochProgress, metrics_table

EPOCHS = [{"train_loss": 0.9, "val_rmse": 1.5}, {"train_loss": 0.7, "val_rmse": 1.2},
          {"train_loss": 0.6, "val_rmse": 1.3}]


def test_epoch_bar_shows_loss_metric_and_best():
    stream = io.StringIO()
    with EpochProgress(3, "rmse", higher_is_better=False, enabled=True, file=stream) as watch:
        for epoch, metrics in enumerate(EPOCHS):
            watch.on_epoch_end(epoch, metrics)
    text = stream.getvalue()
    assert text.rstrip().splitlines()[-1].split("\r")[-1].startswith("epoch: 100%|")
    assert "3/3 [" in text
    assert "loss=0.6, val_rmse=1.3, best=1.2 (epoch 2)" in text
    assert watch.best == 1.2 and watch.best_epoch == 2
    watch.close()  # twice is fine


def test_epoch_bar_ends_cleanly_on_an_early_stop():
    stream = io.StringIO()
    with EpochProgress(10, "val_rmse", higher_is_better=False, enabled=True,
                       file=stream) as watch:
        for epoch, metrics in enumerate(EPOCHS):
            watch.on_epoch_end(epoch, metrics)
    assert stream.getvalue().endswith("3/10 [00:00, best=1.2 (epoch 2), early stop]\n")


def test_epoch_bar_closes_on_an_error():
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        with EpochProgress(5, "roc_auc", higher_is_better=True, enabled=True,
                           file=stream) as watch:
            watch.on_epoch_end(0, {"train_loss": 0.5, "val_roc_auc": 0.7})
            raise RuntimeError("boom")
    assert watch._bar is None and "1/5" in stream.getvalue()


def test_without_a_bar_plain_lines_and_a_summary(caplog):
    caplog.set_level(logging.INFO, logger="molgraph.training.watch")
    stream = io.StringIO()
    with EpochProgress(3, "val_roc_auc", higher_is_better=True, enabled=False,
                       file=stream) as watch:
        for epoch, auc in enumerate([0.6, 0.8, 0.7]):
            watch.on_epoch_end(epoch, {"train_loss": 0.5, "val_roc_auc": auc})
    assert stream.getvalue() == ""
    assert "epoch 1/3 loss=0.5, val_roc_auc=0.6, best=0.6 (epoch 1), ETA" in caplog.text
    assert "epoch 3/3 loss=0.5, val_roc_auc=0.7, best=0.8 (epoch 2)" in caplog.text
    assert "3/3 epochs in 0:00:00, best val_roc_auc=0.8 (epoch 2)" in caplog.text
    assert "█" not in caplog.text and "\r" not in caplog.text


def test_metrics_table_is_aligned_with_4_significant_digits():
    table = metrics_table({"val": {"rmse": 1.234567, "mae": 0.98765, "r2": 0.5},
                           "test": {"rmse": 12.3456, "mae": 0.001234567}}, ["rmse", "mae", "r2"])
    lines = table.splitlines()
    assert lines[0].split() == ["rmse", "mae", "r2"]
    assert lines[1].split() == ["val", "1.235", "0.9877", "0.5"]
    assert lines[2].split() == ["test", "12.35", "0.001235", "nan"]
    assert len({len(line) for line in lines}) == 1  # right-aligned columns


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    if trial.number == 1:
        raise ValueError("bad settings")
    if trial.number == 2:
        trial.report(5.0, step=3)
        raise optuna.TrialPruned()
    return (x - 0.2) ** 2 + trial.number


@pytest.mark.parametrize("bar", [False, True])
def test_trial_progress_counts_pruned_failed_and_best(bar, caplog):
    caplog.set_level(logging.INFO, logger="molgraph.sweep.progress")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    stream = io.StringIO()
    progress = TrialProgress(5, 0, "val_rmse", study.direction, enabled=bar, file=stream)
    progress = pickle.loads(pickle.dumps(progress))  # what a worker process gets
    stream = progress.file  # a copy of the stream
    with progress:
        study.optimize(_objective, n_trials=5, catch=(ValueError,), callbacks=[progress])
    assert progress.counts == {"COMPLETE": 3, "PRUNED": 1, "FAIL": 1} and progress.done == 5
    assert progress.best_trial == 0 and progress.best == pytest.approx(study.best_value)
    assert progress.summary().startswith("5/5 trials done (3 complete, 1 pruned, 1 failed)")
    if bar:
        text = stream.getvalue()
        assert "trials" in text and "5/5" in text and "(trial 0), 1 pruned, 1 failed" in text
        assert caplog.text == ""
    else:
        assert stream.getvalue() == ""
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 5
        assert lines[0] == f"trial 0 COMPLETE val_rmse={study.best_value:.4g} " \
                           f"(best {study.best_value:.4g}, trial 0); 1/5 done"
        assert lines[1].startswith("trial 1 FAIL") and lines[1].endswith("2/5 done (1 failed)")
        assert lines[2].startswith("trial 2 PRUNED at step 3 (val_rmse=5)")
        assert lines[2].endswith("3/5 done (1 pruned, 1 failed)")


def test_trial_progress_bar_starts_where_a_resumed_study_stood():
    stream = io.StringIO()
    progress = TrialProgress(40, 7, "val_rmse", "maximize", enabled=True, file=stream)
    progress._open_bar()
    progress.close()
    assert "7/40" in stream.getvalue()
    with pytest.raises(ValueError, match="direction"):
        TrialProgress(4, 0, "val_rmse", "sideways")


def test_train_cli_without_a_terminal_prints_the_table_and_no_bar(data_dir, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from molgraph.cli.main import main; "
         "sys.exit(main(sys.argv[1:]))", "train", "--data", str(data_dir / "esol_120.csv"),
         "--target-columns", "logS", "--model", "gcn", "--split", "random", "--epochs", "2",
         "--hidden", "16", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["rmse", "mae", "r2"])
    assert lines[header + 1].split()[0] == "val" and lines[header + 2].split()[0] == "test"
    assert lines[header + 3].split()[:3] in (["baseline", "rf", "test"],
                                             ["baseline", "svm", "test"])  # ECFP baseline
    assert lines[header + 4].startswith("test − baseline")
    scores = json.loads(lines[header + 5])  # the JSON line follows the table, as before
    assert {"val", "test"} <= set(scores) and set(scores["val"]) == {"rmse", "mae", "r2"}
    assert "epoch 2/2" in result.stderr and "2/2 epochs in" in result.stderr
    for text in (result.stdout, result.stderr):
        assert "█" not in text and "\r" not in text
