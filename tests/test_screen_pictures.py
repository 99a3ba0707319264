"""Pictures after a screen: the score histogram and the top-hits grid, streamed from the
output (and the checkpoint parts) in chunks; ``pictures=False`` and failures."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from screen_helpers import LIBRARY, N_ROWS, read_table, tiny_models

import molgraph.plots.screen as plot_screen
from molgraph.plots import score_histogram, top_hits_grid
from molgraph.screening.pictures import (
    read_chunks,
    score_counts,
    top_hits,
    write_screen_pictures,
)
from molgraph.screening.screen import ScreenConfig, run_screen

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_VALID = N_ROWS - 4  # moses_204 has four invalid rows


def assert_png(path: Path) -> tuple[int, int]:
    """A PNG that matplotlib reads, of sane size and not blank: (height, width)."""
    import matplotlib.image

    assert path.exists() and path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    height, width = image.shape[:2]
    assert 200 <= height <= 4000 and 200 <= width <= 4000, image.shape
    assert image[..., :3].std() > 0.01  # something was drawn
    return height, width


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> list[Path]:
    return tiny_models(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def full(models, tmp_path_factory) -> Path:
    """One model, every row, shards of 50 rows, pictures on (the default)."""
    out = tmp_path_factory.mktemp("pictures") / "all.csv"
    run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, chunk_size=50))
    return out


class _Spy:
    """Records the arguments of the histogram drawn by a screen, then draws it."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        real = plot_screen.score_histogram

        def spy(*args, **kwargs):
            self.calls.append((args, kwargs))
            return real(*args, **kwargs)

        monkeypatch.setattr(plot_screen, "score_histogram", spy)


def test_small_screen_writes_both_pictures(full):
    plots = full.parent / "all_plots"
    assert sorted(p.name for p in plots.iterdir()) == ["score_histogram.png", "top_hits.png"]
    assert_png(plots / "score_histogram.png")
    height, width = assert_png(plots / "top_hits.png")
    assert width > height  # 24 molecules, 6 a row: 4 rows
    summary = json.loads((full.parent / "all.summary.json").read_text())
    assert summary["pictures"] == [str(plots / "score_histogram.png"),
                                   str(plots / "top_hits.png")]


def test_no_pictures(models, tmp_path):
    out = tmp_path / "hits.parquet"
    summary = run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, top_k=5,
                                  pictures=False))
    assert "pictures" not in summary
    assert not (tmp_path / "hits_plots").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hits.invalid.csv", "hits.parquet", "hits.summary.json"]


def test_cli_flag(tmp_path):
    from molgraph.cli.main import build_parser
    from molgraph.cli.options import given_values

    base = ["screen", "--model", "m", "--library", "l.smi", "--out", str(tmp_path / "o.csv")]
    parser = build_parser(base)
    for extra, expected in (([], True), (["--no-pictures"], False), (["--pictures"], True)):
        config = ScreenConfig(**given_values(parser.parse_args([*base, *extra])))
        assert config.pictures is expected
    assert "--no-pictures" in parser._subparsers._group_actions[0].choices["screen"].format_help()


def test_top_k_histogram_counts_every_scored_row(models, tmp_path, monkeypatch):
    """With top_k the output holds 10 rows, but the histogram counts all 200 scored molecules
    (from the parts) and marks the score of the 10th; the grid shows the 10 written."""
    spy = _Spy(monkeypatch)
    out = tmp_path / "top.parquet"
    summary = run_screen(ScreenConfig(models, [LIBRARY], out, workers=0, top_k=10, chunk_size=40,
                                  threshold=-10.0))
    top = read_table(out)
    assert len(top) == 10 and summary["rank_by"] == "logS_mean"
    (counts, edges, path, column), kwargs = spy.calls[0]
    assert column == "logS_mean" and path == tmp_path / "top_plots" / "score_histogram.png"
    assert counts.sum() == N_VALID and kwargs["unscored"] == 4 and len(edges) == len(counts) + 1
    assert kwargs["top_k_cutoff"] == pytest.approx(top["logS_mean"].iloc[-1])
    assert kwargs["threshold"] == -10.0 and kwargs["ascending"] is False
    assert_png(tmp_path / "top_plots" / "score_histogram.png")
    assert_png(tmp_path / "top_plots" / "top_hits.png")
    hits, kept, worst = top_hits(out, "logS_mean", chunk_rows=3)
    assert kept == 10 and hits["smiles"].tolist() == top["smiles"].tolist()
    assert worst == pytest.approx(top["logS_mean"].iloc[-1])


@pytest.mark.parametrize("chunk_rows", [7, 1000])
def test_chunked_reading_counts_every_valid_score(full, tmp_path, chunk_rows):
    frame = read_table(full)
    valid = frame["logS"].dropna()
    assert len(valid) == N_VALID
    chunks = list(read_chunks(full, ["logS"], chunk_rows))
    assert [len(c) for c in chunks][:-1] == [min(chunk_rows, N_ROWS)] * (len(chunks) - 1)
    assert len(chunks) == math.ceil(N_ROWS / chunk_rows)
    counts, edges, unscored = score_counts([full], "logS", chunk_rows=chunk_rows)
    assert counts.sum() == N_VALID and unscored == 4
    np.testing.assert_array_equal(counts, np.histogram(valid, bins=edges)[0])
    assert edges[0] == valid.min() and edges[-1] == valid.max()
    # the same from Parquet, and the running top hits equal a full sort
    parquet = tmp_path / "all.parquet"
    frame.to_parquet(parquet, index=False)
    assert [len(c) for c in read_chunks(parquet, ["logS"], chunk_rows)] == [
        len(c) for c in chunks]
    np.testing.assert_array_equal(score_counts([parquet], "logS", chunk_rows=chunk_rows)[0],
                                  counts)
    ok = frame[frame["status"] == "ok"]
    for ascending in (False, True):
        best = ok.sort_values(["logS", "row"], ascending=[ascending, True]).head(24)
        for path in (full, parquet):
            hits, kept, worst = top_hits(path, "logS", ascending, chunk_rows=chunk_rows)
            assert hits["smiles"].tolist() == best["smiles"].tolist() and kept == N_VALID
            assert worst == (ok["logS"].max() if ascending else ok["logS"].min())


def test_standalone_pictures_of_an_output(full, tmp_path):
    out = tmp_path / "copy.tsv"
    read_table(full).to_csv(out, sep="\t", index=False)
    written = write_screen_pictures(out, "logS", ascending=True, threshold=-3.0, chunk_rows=11)
    assert written == [tmp_path / "copy_plots" / "score_histogram.png",
                       tmp_path / "copy_plots" / "top_hits.png"]
    for path in written:
        assert_png(path)


def test_a_plotting_failure_is_a_warning(models, tmp_path, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no Cairo here")

    monkeypatch.setattr(plot_screen, "top_hits_grid", broken)
    out = tmp_path / "hits.csv"
    stale = tmp_path / "hits_plots" / "top_hits.png"
    stale.parent.mkdir()
    stale.write_bytes(b"an earlier run's picture")
    with caplog.at_level(logging.WARNING, logger="molgraph.screening.pictures"):
        summary = run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, top_k=3))
    assert summary["written"] == 3 and len(read_table(out)) == 3
    assert "no Cairo here" in caplog.text
    assert summary["pictures"] == [str(tmp_path / "hits_plots" / "score_histogram.png")]
    assert not stale.exists()  # not left over from the earlier run


def test_plot_functions_directly(tmp_path):
    counts, edges = np.histogram(np.random.default_rng(0).normal(size=500), bins=20)
    assert_png(score_histogram(counts, edges, tmp_path / "h.png", "pIC50", threshold=1.0,
                               top_k_cutoff=1.5))
    with pytest.raises(ValueError, match="edges"):
        score_histogram(counts, edges[:-1], tmp_path / "bad.png", "pIC50")
    # an unparsable SMILES is an empty cell, not an error
    assert_png(top_hits_grid(["CCO", "c1ccccc1O", "not_a_smiles"], [3.0, 2.0, 1.0],
                             tmp_path / "g" / "grid.png", "pIC50"))
    with pytest.raises(ValueError, match="nothing|no molecules"):
        top_hits_grid([], [], tmp_path / "empty.png", "pIC50")
