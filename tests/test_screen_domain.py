"""Screening output carries the applicability domain: each written row's nearest-training
similarity and flag, computed in workers when every row is written and for the selected rows
otherwise, counted in the summary and shown on the top-hits picture."""

from __future__ import annotations

import numpy as np
import pytest
from screen_helpers import DATA, LIBRARY, N_ROWS, read_table, tiny_models

from molgraph.inference.domain import DEFAULT_THRESHOLD
from molgraph.inference.loading import load_model
from molgraph.screening.pictures import top_hits
from molgraph.screening.screen import ScreenConfig, run_screen


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    return tiny_models(tmp_path_factory.getbasetemp())


def _expected(frame, model_dirs) -> np.ndarray:
    """Similarity to the nearest molecule any of the models learned from (their union)."""
    sims = [load_model(m, "cpu").train_similarity(frame["smiles"].tolist()) for m in model_dirs]
    return np.max(sims, axis=0)


def test_every_row_written_has_similarity_from_the_workers(tmp_path, models):
    summary = run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "all.csv", workers=2,
                                      chunk_size=50))
    frame = read_table(tmp_path / "all.csv")
    assert list(frame.columns)[-2:] == ["train_similarity", "in_domain"]
    ok = frame["status"] == "ok"
    np.testing.assert_allclose(frame.loc[ok, "train_similarity"], _expected(frame, models[:1])[ok],
                               rtol=1e-6)
    assert frame.loc[~ok, ["train_similarity", "in_domain"]].isna().all().all()
    threshold = frame.loc[ok, "train_similarity"] >= DEFAULT_THRESHOLD
    assert (frame.loc[ok, "in_domain"] == threshold).all()
    assert summary["out_of_domain"] == int((frame["in_domain"] == False).sum())  # noqa: E712
    assert 0 < summary["out_of_domain"] < N_ROWS
    assert summary["domain_threshold"] == DEFAULT_THRESHOLD


def test_selected_rows_get_it_at_assembly_and_the_threshold_counts(tmp_path, models):
    """Top-k in worker processes (which skip the domain) and an ensemble of two models whose
    training sets differ: the similarity is to the nearest molecule of either."""
    summary = run_screen(ScreenConfig(models, [LIBRARY], tmp_path / "top.csv", workers=2,
                                      top_k=20, chunk_size=50, domain_threshold=0.3))
    top = read_table(tmp_path / "top.csv")
    np.testing.assert_allclose(top["train_similarity"], _expected(top, models), rtol=1e-6)
    assert summary["out_of_domain"] == int((top["train_similarity"] < 0.3).sum())
    assert summary["domain_threshold"] == 0.3
    hits, _, _ = top_hits(tmp_path / "top.csv", "logS_mean")  # what the picture is drawn from
    assert {"train_similarity", "in_domain"} <= set(hits.columns)
    assert (tmp_path / "top_plots" / "top_hits.png").stat().st_size > 0


def test_parts_kept_from_a_selection_are_completed_when_every_row_is_written(tmp_path, models):
    out = tmp_path / "r.csv"
    run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, top_k=5, keep_parts=True))
    run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, resume=True))
    frame = read_table(out)
    assert len(frame) == N_ROWS
    ok = frame["status"] == "ok"
    np.testing.assert_allclose(frame.loc[ok, "train_similarity"], _expected(frame, models[:1])[ok],
                               rtol=1e-6)


def test_a_model_saved_before_the_domain_screens_with_empty_columns(tmp_path):
    summary = run_screen(ScreenConfig([DATA / "saved_models" / "gcn"], [LIBRARY],
                                      tmp_path / "old.csv", workers=0, top_k=5))
    top = read_table(tmp_path / "old.csv")
    assert top["train_similarity"].isna().all() and top["in_domain"].isna().all()
    assert summary["out_of_domain"] is None


def test_threshold_outside_zero_to_one_is_refused(models, tmp_path):
    with pytest.raises(ValueError, match="--domain-threshold .* between 0 and 1"):
        ScreenConfig([models[0]], [LIBRARY], tmp_path / "x.csv", domain_threshold=35)


def test_top_hits_grid_labels_similarity_and_shades_outside(tmp_path):
    """Unknown similarities (NaN) and unparsable SMILES are drawn without failing."""
    from molgraph.plots.screen import top_hits_grid

    path = top_hits_grid(["CCO", "c1ccccc1O", "not_a_smiles"], [3.0, 2.0, 1.0],
                         tmp_path / "grid.png", "pIC50", similarity=[0.72, 0.21, np.nan],
                         outside=[False, True, False])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
