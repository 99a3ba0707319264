"""Pictures: the figure functions, a real tiny run directory, the hook in write_run, sweeps."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from molgraph.data.dataset import load_dataset
from molgraph.plots import learning_curves, parity_plot, roc_pr_curves, write_run_plots
from molgraph.plots.figures import learning_figure, parity_figure, qualified
from molgraph.sweep.plots import (
    _pyplot,
    history_axes,
    importance_axes,
    intermediate_axes,
    write_sweep_plots,
)
from molgraph.training.api import run_config
from molgraph.training.job import train_on_dataset, write_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA = Path(__file__).parent / "data"
TRAIN = {"threads": 1, "device": "cpu", "batch_size": 32}


def assert_png(path: Path, min_side: int = 300) -> tuple[int, int]:
    """A readable PNG of sane size: (height, width)."""
    import matplotlib.image

    assert path.exists() and path.stat().st_size > 5_000, path
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert min_side <= height <= 3000 and min_side <= width <= 3000, image.shape
    assert image[..., :3].std() > 0.01  # something was drawn, not a blank page
    return height, width


def assert_nothing_clipped(fig) -> list[str]:
    """Every axes with its title, labels, ticks and legend, and the figure's title, inside the
    figure once laid out; returns the visible texts."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    parts = [(ax, ax.get_tightbbox(renderer)) for ax in fig.axes if ax.get_visible()]
    parts += [(t, t.get_window_extent(renderer)) for t in fig.texts if t.get_text().strip()]
    title = fig._suptitle  # no public getter of the artist
    if title is not None and title.get_text():
        parts.append((title, title.get_window_extent(renderer)))
    for artist, box in parts:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, (
            f"clipped: {artist} at {box} in a {width:.0f} x {height:.0f} figure")
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def assert_no_doubled_word(texts: list[str]) -> None:
    for text in texts:
        words = text.lower().split()
        assert all(a != b for a, b in zip(words, words[1:])), f"doubled word in {text!r}"


def _history(epochs: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    epoch = np.arange(epochs)
    loss = 1.2 * np.exp(-epoch / 8) + 0.05 + rng.normal(0, 0.01, epochs)
    val = 0.7 + 0.6 * np.exp(-epoch / 6) + 0.004 * np.maximum(epoch - 18, 0) ** 1.5
    return pd.DataFrame({"epoch": epoch, "train_loss": loss, "val_rmse": val,
                         "val_mae": 0.8 * val, "val_r2": 1 - val ** 2 / 2})


# --- the figure functions -------------------------------------------------------------------

def test_learning_curves(tmp_path):
    history = _history()
    best = int(history["epoch"][history["val_rmse"].idxmin()])
    assert_png(learning_curves(history, tmp_path / "lc.png", "val_rmse", best_epoch=best))
    # the bare metric name, the best epoch found by itself, a list of dicts, one epoch
    assert_png(learning_curves(history.to_dict("records"), tmp_path / "a" / "lc.png", "rmse"))
    one = pd.DataFrame({"epoch": [0], "train_loss": [0.9], "val_roc_auc": [0.61]})
    assert_png(learning_curves(one, tmp_path / "one.png", "roc_auc", best_epoch=0))
    with pytest.raises(ValueError, match="val_roc_auc"):
        learning_curves(history, tmp_path / "x.png", "roc_auc")


def test_parity_plot_leaves_missing_labels_out(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.normal(-3, 2, (80, 2))
    pred = y + rng.normal(0, 0.6, y.shape)
    y[::7, 0] = np.nan          # missing labels
    pred[3, 1] = np.nan         # a molecule that could not be predicted
    assert_png(parity_plot(y, pred, ["logS", "logP"], tmp_path / "parity.png"))
    assert_png(parity_plot(y[:, 0], pred[:, 0], "logS", tmp_path / "one.png"))
    # six targets: four panels; a target without labels gets a panel saying so
    many = np.repeat(y[:, :1], 6, axis=1)
    many[:, 2] = np.nan
    h, w = assert_png(parity_plot(many, many + 0.1, [f"t{i}" for i in range(6)],
                                  tmp_path / "many.png"))
    assert h > 600 and w > 600  # 2 x 2
    with pytest.raises(ValueError, match="names"):
        parity_plot(y, pred, ["logS"], tmp_path / "bad.png")


ESOL = "measured log solubility in mols per litre"  # ESOL's own column name


def test_long_target_names_are_neither_doubled_nor_clipped():
    rng = np.random.default_rng(3)
    y = rng.normal(-3, 2, 60)
    fig = parity_figure(y, y + rng.normal(0, 0.5, 60), ESOL,
                        title="Best trial, validation set: predicted vs measured",
                        references={"baseline (RF, ECFP4)": [0.71], "GNN alone": [None]})
    ax = fig.axes[0]
    assert " ".join(ax.get_xlabel().split()) == ESOL  # was "measured measured log ..."
    assert " ".join(ax.get_ylabel().split()) == "predicted log solubility in mols per litre"
    texts = assert_nothing_clipped(fig)
    assert_no_doubled_word(texts)
    assert any("baseline (RF, ECFP4): RMSE 0.71" in t for t in texts)
    assert not any("GNN alone" in t for t in texts)  # no score, no line
    assert qualified("measured", "logS") == "measured logS"
    assert qualified("predicted", "Predicted pIC50") == "predicted pIC50"
    assert qualified("measured", "measured") == "measured"
    # four long-named panels and a long title in a 2 x 2 figure
    many = np.column_stack([y] * 4)
    fig = parity_figure(many, many + 0.2, [f"{ESOL} ({i})" for i in range(4)],
                        title="Test set (GNN blended with the ECFP4 SVM): predicted vs measured")
    assert_no_doubled_word(assert_nothing_clipped(fig))


@pytest.mark.parametrize("first", [0, 1])
def test_learning_curves_show_epochs_as_history_holds_them(first):
    history = _history(20)
    history["epoch"] += first  # 0-based or 1-based: shown as the column holds them
    kept = first + 6  # metrics.json's best_epoch, taken as is
    fig = learning_figure(history, "val_rmse", best_epoch=kept)
    star = [line for line in fig.axes[-1].get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xdata()) == [kept]
    texts = assert_nothing_clipped(fig)
    assert any(f"kept: epoch {kept} " in t for t in texts)
    ticks = [t for t in fig.axes[-1].get_xticks() if first <= t <= first + 19]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no 2.5 steps


def test_write_run_plots_takes_best_epoch_from_metrics_as_is(tmp_path, monkeypatch):
    import molgraph.plots.run

    history = _history(8)
    history["epoch"] += 1
    history.to_csv(tmp_path / "history.csv", index=False)
    (tmp_path / "metrics.json").write_text(json.dumps({"best_epoch": 5, "task": "regression"}))
    seen = []
    monkeypatch.setattr(molgraph.plots.run, "learning_curves",
                        lambda history, path, column, best: seen.append(best) or path)
    write_run_plots(tmp_path)
    assert seen == [5]


def test_roc_pr_many_tasks_with_missing_labels_and_one_class(tmp_path, caplog):
    rng = np.random.default_rng(2)
    n, tasks = 150, 12
    y = (rng.random((n, tasks)) < 0.15).astype(float)
    score = np.clip(0.3 * y + rng.random((n, tasks)) * 0.8, 0, 1)
    y[rng.random((n, tasks)) < 0.2] = np.nan     # Tox21-like gaps
    y[:, 4] = np.where(np.isnan(y[:, 4]), np.nan, 0.0)  # one class only: no curve
    names = [f"task-{i}" for i in range(tasks)]
    assert_png(roc_pr_curves(y, score, names, tmp_path / "roc.png"))
    assert_png(roc_pr_curves(y[:, :2], score[:, :2], names[:2], tmp_path / "two.png"))
    # nothing to draw: no file, no error
    with caplog.at_level(logging.WARNING):
        assert roc_pr_curves(y[:, 4], score[:, 4], "task-4", tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists() and "both classes" in caplog.text


def test_importing_the_package_does_not_load_matplotlib():
    code = ("import sys, molgraph.plots, molgraph.training.job; "
            "print('matplotlib' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out.split()[0] == "False"


# --- a real tiny run ------------------------------------------------------------------------

def _tiny_run(path, targets, task, model, tmp_path_factory, name):
    config = run_config(path, targets, task=task, model=model, split="random", epochs=3,
                        model_options={"hidden_channels": 16}, train_options=TRAIN)
    dataset = load_dataset(path, config.data.smiles_column, targets, cache_dir=False)
    run = train_on_dataset(dataset, config)
    out = tmp_path_factory.mktemp(name)
    write_run(run, dataset, out)
    return run, dataset, out


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    return _tiny_run(DATA / "esol_120.csv", ["logS"], "regression", "gcn", tmp_path_factory,
                     "esol")


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory):
    return _tiny_run(DATA / "tox21_150.csv", ["NR-AR", "NR-AhR", "SR-MMP"], "classification",
                     "gcn", tmp_path_factory, "tox")


def test_training_writes_its_pictures(regression_run, classification_run):
    _, _, out = regression_run
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["learning_curves.png",
                                                                 "parity.png"]
    for path in (out / "plots").iterdir():
        assert_png(path)
    _, _, out = classification_run
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["learning_curves.png",
                                                                 "roc_pr.png"]
    for path in (out / "plots").iterdir():
        assert_png(path)


def test_write_run_plots_again_and_with_files_missing(regression_run, tmp_path):
    _, _, out = regression_run
    assert [p.name for p in write_run_plots(out)] == ["learning_curves.png", "parity.png"]
    assert write_run_plots(tmp_path / "empty") == []
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "history.csv").write_text((out / "history.csv").read_text())
    (partial / "metrics.json").write_text("{not json")
    assert [p.name for p in write_run_plots(partial)] == ["learning_curves.png"]
    (partial / "test_predictions.csv").write_text("row,smiles\n1,CCO\n")  # no target pairs
    assert [p.name for p in write_run_plots(partial)] == ["learning_curves.png"]


def test_one_class_test_set_does_not_fail(classification_run, tmp_path):
    _, _, out = classification_run
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("metrics.json", "history.csv"):
        (run_dir / name).write_text((out / name).read_text())
    frame = pd.read_csv(out / "test_predictions.csv")
    frame[["NR-AR", "NR-AhR", "SR-MMP"]] = frame[["NR-AR", "NR-AhR", "SR-MMP"]].where(
        frame[["NR-AR", "NR-AhR", "SR-MMP"]].isna(), 0.0)
    frame.to_csv(run_dir / "test_predictions.csv", index=False)
    assert [p.name for p in write_run_plots(run_dir)] == ["learning_curves.png"]


def test_a_failing_picture_never_fails_the_run(regression_run, tmp_path, monkeypatch, caplog):
    import molgraph.plots

    def broken(run_dir):
        raise RuntimeError("no display")

    monkeypatch.setattr(molgraph.plots, "write_run_plots", broken)
    run, dataset, _ = regression_run
    with caplog.at_level(logging.WARNING, logger="molgraph.training.job"):
        assert write_run(run, dataset, tmp_path / "run") == tmp_path / "run"
    assert (tmp_path / "run" / "test_predictions.csv").exists()
    assert "no display" in caplog.text and not (tmp_path / "run" / "plots").exists()


# --- sweeps ---------------------------------------------------------------------------------

def _study(out: Path, trials: int = 8) -> optuna.Study:
    """A real in-memory study of a cheap objective that reports per-epoch values and writes
    trial directories as a sweep does."""
    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("train.lr", 1e-4, 1e-2, log=True)
        layers = trial.suggest_int("model.num_layers", 1, 4)
        history = _history(12, seed=trial.number)
        history["val_rmse"] += abs(np.log10(lr) + 3) * 0.3 + 0.05 * layers
        for step, value in enumerate(history["val_rmse"]):
            trial.report(float(value), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        directory = out / "trials" / f"{trial.number:04d}"
        directory.mkdir(parents=True)
        history.to_csv(directory / "history.csv", index=False)
        best = int(history["val_rmse"].idxmin())
        (directory / "metrics.json").write_text(json.dumps({"best_epoch": best}))
        return float(history["val_rmse"].min())

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3,
                                                                   n_warmup_steps=4))
    study.optimize(objective, n_trials=trials)
    return study


def test_sweep_pictures(tmp_path):
    import matplotlib.pyplot as plt

    study = _study(tmp_path)
    written = write_sweep_plots(study, tmp_path, "rmse")
    assert [p.name for p in written] == ["optimization_history.png", "param_importances.png",
                                         "best_learning_curves.png", "intermediate_values.png"]
    for path in written:
        assert path.parent == tmp_path / "plots"
        assert_png(path)
    assert plt.get_fignums() == []  # every figure closed
    # optuna's ggplot style does not leak into the pictures drawn afterwards
    assert plt.rcParams["axes.facecolor"] == plt.rcParamsDefault["axes.facecolor"]


def test_sweep_pictures_name_the_metric_count_whole_trials_and_warn_of_few(tmp_path):
    study = _study(tmp_path, trials=3)
    with _pyplot() as plt:
        try:
            history = history_axes(study, "val_rmse")
            importances = importance_axes(study, "val_rmse", ["model.num_layers", "train.lr"])
            intermediate = intermediate_axes(study, "val_rmse")
            for ax in (history, importances, intermediate):
                fig = ax.get_figure()
                fig.set_layout_engine("constrained")
                texts = assert_nothing_clipped(fig)
                assert not any("Objective" in t for t in texts), texts
                assert ax.get_ylabel() == "val_rmse" or ax is importances
            for ax in (history, intermediate):  # trials and epochs: whole numbers only
                assert all(float(t).is_integer() for t in ax.get_xticks())
            assert "only 3 complete trials" in importances.get_figure().get_suptitle()
            labels = [t.get_text() for t in intermediate.get_legend().get_texts()]
            assert labels == ["trial 0", "trial 1", "trial 2"]
        finally:
            plt.close("all")
    many = _study(tmp_path / "many", trials=8)
    with _pyplot() as plt:
        complete = len(many.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
        title = importance_axes(many, "val_rmse", ["train.lr"]).get_figure().get_suptitle()
        plt.close("all")
    assert ("too few" in title) == (complete < 5)


def test_sweep_pictures_with_little_to_show(tmp_path, caplog):
    one = _study(tmp_path / "one", trials=1)
    with caplog.at_level(logging.INFO, logger="molgraph.sweep.plots"):
        names = [p.name for p in write_sweep_plots(one, tmp_path / "one", "rmse")]
    assert names == ["optimization_history.png", "best_learning_curves.png",
                     "intermediate_values.png"]
    assert "parameter importances need two complete trials" in caplog.text
    # the best trial's directory was not kept, and nothing reported per-epoch values
    study = optuna.create_study()
    for x in (1.0, 2.0, 3.0):
        study.enqueue_trial({"x": x})
    study.optimize(lambda t: t.suggest_float("x", 0, 5) ** 2, n_trials=3)
    names = [p.name for p in write_sweep_plots(study, tmp_path / "bare", "rmse")]
    assert names == ["optimization_history.png", "param_importances.png"]
    assert write_sweep_plots(optuna.create_study(), tmp_path / "none", "rmse") == []
