"""Training and sweeps a person can watch: a bar on a terminal, plain lines elsewhere; epochs
counted from 1 by the loop, the bar, the logs and the run's files."""

import io
import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from molgraph.chem.featurize import featurize_chunk
from molgraph.chem.parse import read_molecules
from molgraph.models.config import ModelConfig
from molgraph.models.registry import build_model
from molgraph.sweep.progress import TrialProgress
from molgraph.tracking.contracts import StopTraining
from molgraph.training.config import TrainConfig
from molgraph.training.loop import fit
from molgraph.training.report import metrics_table
from molgraph.training.watch import EpochProgress

DATA = Path(__file__).parent / "data"

EPOCHS = [{"train_loss": 0.9, "val_rmse": 1.5}, {"train_loss": 0.7, "val_rmse": 1.2},
          {"train_loss": 0.6, "val_rmse": 1.3}]


class _Heard:
    """A callback that remembers, in order, what the loop told it."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_batch_end(self, epoch, done, total):
        self.events.append(("batch", epoch, done, total))

    def on_epoch_end(self, epoch, metrics):
        self.events.append(("epoch", epoch))

    def on_train_end(self):
        self.events.append(("end",))


@pytest.fixture(scope="module")
def esol():
    """The first 100 molecules of esol_120 for training and the next 18 for validation."""
    table = read_molecules(DATA / "esol_120.csv", target_columns=["logS"])
    chunk = featurize_chunk(table.smiles)
    graphs, y = chunk.graphs, table.targets[chunk.valid]
    return (graphs.take(np.arange(100)), y[:100]), (graphs.take(np.arange(100, 118)), y[100:118])


def _fit(esol, epochs, callbacks, patience=0):
    model = build_model(ModelConfig(name="gcn", hidden_channels=8, out_channels=1))
    return fit(model, *esol, TrainConfig(epochs=epochs, batch_size=32, patience=patience),
               callbacks=callbacks)


def test_the_loop_reports_batches_epochs_from_1_and_its_end(esol):
    class EpochsOnly:  # a callback without the optional methods
        def on_epoch_end(self, epoch, metrics):
            pass

    heard = _Heard()
    result = _fit(esol, 2, [heard, EpochsOnly()])
    one_epoch = [("batch", 1, done, 100) for done in (0, 32, 64, 96, 100)]
    assert heard.events[:6] == [*one_epoch, ("epoch", 1)]
    assert heard.events[6:] == [*(("batch", 2, *e[2:]) for e in one_epoch), ("epoch", 2),
                                ("end",)]
    assert [row["epoch"] for row in result.history] == [1, 2]
    best = min(result.history, key=lambda row: row["val_rmse"])
    assert result.best_epoch == best["epoch"] and result.best_score == best["val_rmse"]


def test_a_stop_asked_by_a_callback_still_ends_training(esol):
    heard = _Heard()

    class StopAtTwo:
        def on_epoch_end(self, epoch, metrics):
            if epoch == 2:
                raise StopTraining

    result = _fit(esol, 10, [heard, StopAtTwo()])
    assert [row["epoch"] for row in result.history] == [1, 2] and result.best_epoch in (1, 2)
    assert heard.events[-2:] == [("epoch", 2), ("end",)]


def test_bar_within_each_epoch_closes_when_training_ends(esol, caplog):
    caplog.set_level(logging.INFO, logger="molgraph.training.watch")
    stream = io.StringIO()
    with EpochProgress(3, "rmse", higher_is_better=False, enabled=True, file=stream) as watch:
        _fit(esol, 3, [watch])
        assert watch._bar is None  # closed by the loop, before baselines or plots
        closed = stream.getvalue()
    frames = [f for line in closed.splitlines() for f in line.split("\r") if f.strip()]
    assert any(f.startswith("epoch 1/3:") and "/100 [" in f and "mol/s" in f for f in frames)
    assert any(f.startswith("epoch 2/3:") and "s/epoch, ETA" in f for f in frames)
    last = frames[-1].rstrip()
    assert last.startswith("epoch 3/3: 100%|") and "| 100/100, trained in 0:00:0" in last
    assert " s/epoch, best val_rmse=" in last and "ETA" not in last
    assert last.endswith(f"(epoch {watch.best_epoch})")
    assert stream.getvalue() == closed  # nothing more drawn when the block ends
    lines = [r.getMessage() for r in caplog.records]  # each epoch's scores, above the bar
    assert [line.split(" loss=")[0] for line in lines] == ["epoch 1/3", "epoch 3/3"]


def test_bar_over_epochs_for_a_loop_without_batches():
    stream = io.StringIO()
    with EpochProgress(10, "val_rmse", higher_is_better=False, enabled=True,
                       file=stream) as watch:
        for epoch, metrics in enumerate(EPOCHS, 1):
            watch.on_epoch_end(epoch, metrics)
        watch.on_train_end()
    assert watch.best == 1.2 and watch.best_epoch == 2
    last = stream.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("epochs:  30%|") and "| 3/10 epochs, early stop, trained in " in last
    assert last.endswith(" s/epoch, best val_rmse=1.2 (epoch 2)")


def test_epoch_bar_closes_on_an_error():
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        with EpochProgress(5, "roc_auc", higher_is_better=True, enabled=True,
                           file=stream) as watch:
            watch.on_batch_end(1, 0, 50)
            watch.on_batch_end(1, 20, 50)
            raise RuntimeError("boom")
    assert watch._bar is None and "20/50" in stream.getvalue()
    assert "early stop" not in stream.getvalue()


def test_without_a_bar_plain_lines_within_and_after_epochs(esol, caplog):
    caplog.set_level(logging.INFO, logger="molgraph.training.watch")
    stream = io.StringIO()
    with EpochProgress(2, "rmse", higher_is_better=False, enabled=False, file=stream,
                       log_every=0) as watch:
        _fit(esol, 2, [watch])
        lines = [r.getMessage() for r in caplog.records]
    assert stream.getvalue() == ""
    assert lines[0].startswith("epoch 1/2: 0/100 molecules (0%)")
    assert any(line.startswith("epoch 1/2: 64/100 molecules (64%), ") and "mol/s, ETA" in line
               for line in lines)
    epoch_lines = [line for line in lines if line.startswith("epoch 1/2 loss=")]
    assert len(epoch_lines) == 1 and " s/epoch, ETA 0:00:0" in epoch_lines[0]
    assert lines[-2].startswith("epoch 2/2 loss=") and "ETA" not in lines[-2]
    assert lines[-1].startswith("2/2 epochs in 0:00:0") and " s/epoch), best val_rmse=" in lines[-1]
    assert lines.count(lines[-1]) == 1  # closed by the loop, not again by the block
    assert "█" not in caplog.text and "\r" not in caplog.text


def test_without_a_bar_at_most_one_line_every_log_every_seconds(caplog):
    caplog.set_level(logging.INFO, logger="molgraph.training.watch")
    watch = EpochProgress(4, "val_roc_auc", higher_is_better=True, enabled=False)
    for epoch, auc in enumerate([0.6, 0.8, 0.7, 0.75], 1):
        for done in (0, 10, 20):
            watch.on_batch_end(epoch, done, 20)
        watch.on_epoch_end(epoch, {"train_loss": 0.5, "val_roc_auc": auc})
    watch.on_train_end()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # the first and the last epoch, and the summary
    assert lines[0].startswith("epoch 1/4 loss=0.5, val_roc_auc=0.6, best=0.6 (epoch 1), ")
    assert lines[1].startswith("epoch 4/4 loss=0.5, val_roc_auc=0.75, best=0.8 (epoch 2), ")
    assert lines[2] == "4/4 epochs in 0:00:00 (0.00 s/epoch), best val_roc_auc=0.8 (epoch 2)"


def test_metrics_table_has_fixed_decimals_so_columns_line_up():
    table = metrics_table({"val": {"rmse": 1.234567, "mae": 0.98765, "r2": 0.5},
                           "test": {"rmse": 12.3456, "mae": 0.001234567}}, ["rmse", "mae", "r2"])
    lines = table.splitlines()
    assert lines[0].split() == ["rmse", "mae", "r2"]
    assert lines[1].split() == ["val", "1.2346", "0.9877", "0.5000"]
    assert lines[2].split() == ["test", "12.3456", "0.0012", "n/a"]
    assert len({len(line) for line in lines}) == 1  # right-aligned columns
    assert len({line.index(".", 12) for line in lines[1:]}) == 1  # decimal points aligned


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
    assert any(line.split()[:1] == ["baseline"] for line in lines[header:])  # ECFP baseline
    scores = json.loads(next(line for line in lines if line.startswith("{")))
    assert {"val", "test"} <= set(scores) and set(scores["val"]) == {"rmse", "mae", "r2"}
    log = result.stderr
    assert "epoch 1/2 loss=" in log and "epoch 2/2 loss=" in log
    # the epochs' summary comes as the training ends, before the baselines are fitted
    assert log.index("2/2 epochs in") < log.index("fitting ECFP4 baselines") \
        < log.index("baselines fitted in")
    for text in (result.stdout, result.stderr):
        assert "█" not in text and "\r" not in text
    # one epoch numbering: the log, history.csv and metrics.json count from 1
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    best = int(history["epoch"][history["val_rmse"].idxmin()])
    assert json.loads((out / "metrics.json").read_text())["best_epoch"] == best
    assert f"best={history['val_rmse'].min():.4g} (epoch {best})" in log
