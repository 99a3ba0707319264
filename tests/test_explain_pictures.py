"""Explanation heat maps a chemist can read: size options, a colour bar in the explained units,
the SMILES and row in the caption, labels readable on the coloured atoms, the contour style."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rdkit import Chem

from molgraph.cli.explain import DEFAULT_SIZE, STYLE_NAMES
from molgraph.cli.main import main
from molgraph.explain import explain_molecules
from molgraph.explain.drawing import CELL, SIZE, _caption
from molgraph.explain.picture import (
    NEGATIVE,
    POSITIVE,
    STYLES,
    Picture,
    _fit_caption,
    ascii_text,
    colour_of,
    render,
)

SAVED = Path(__file__).parent / "data" / "saved_models"
SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "not a smiles", "C", "[Na+].[Cl-]",
          "Clc1cccc(N2CCN(CCCCNC(=O)c3ccc4ccccc4c3)CC2)c1Cl"]


@pytest.fixture(scope="module")
def result():
    return explain_molecules(SAVED / "dmpnn", SMILES, n_steps=20, device="cpu")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=float) / 255


def _bar_row(pixels: np.ndarray) -> int | None:
    """The first row (from the bottom quarter) that runs from the blue end to the red end."""
    near = lambda colour, row: np.abs(row - np.asarray(colour)).max(axis=1) < 0.06  # noqa: E731
    for y in range(3 * len(pixels) // 4, len(pixels)):
        blue, red = np.flatnonzero(near(NEGATIVE, pixels[y])), np.flatnonzero(
            near(POSITIVE, pixels[y]))
        if len(blue) and len(red) and blue.max() < red.min():
            return y
    return None


def test_heat_maps_have_a_colour_bar_and_the_asked_size(result, tmp_path):
    out = result.write(tmp_path / "default")
    png = out / "heatmaps" / "row1_logS.png"
    with Image.open(png) as image:
        assert image.size == SIZE == DEFAULT_SIZE == (640, 560)  # was 400 x 320
    assert _bar_row(_pixels(png)) is not None  # blue on the left, red on the right
    assert (out / "heatmaps" / "row1_logS.svg").read_text().count("width='640px'") == 1
    with Image.open(out / "grid.png") as grid:  # 4 valid molecules in one row of cells
        assert grid.size == (4 * (CELL[0] + 4) + 4, CELL[1] + 8)
    assert _bar_row(_pixels(out / "grid.png")[:, :CELL[0] + 4]) is not None  # the first cell's

    small = result.write(tmp_path / "small", size=(500, 400), style="contours")
    with Image.open(small / "heatmaps" / "row5_logS.png") as image:
        assert image.size == (500, 400)
    assert _bar_row(_pixels(small / "heatmaps" / "row5_logS.png")) is not None
    contours, discs = _pixels(small / "heatmaps" / "row1_logS.png"), _pixels(
        out / "heatmaps" / "row1_logS.png")
    assert contours.shape != discs.shape or not np.allclose(contours, discs)
    assert sorted(p.name for p in (small / "heatmaps").iterdir() if p.suffix == ".png") == [
        "row1_logS.png", "row3_logS.png", "row4_logS.png", "row5_logS.png"]  # one atom too


def test_black_atom_labels_stay_readable_on_the_strongest_colours():
    def luminance(colour) -> float:
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in colour]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for level in (-1.0, 1.0):  # WCAG contrast of black text: at least 4.5 (coolwarm's was 2.6)
        assert (luminance(colour_of(level)) + 0.05) / 0.05 >= 4.5
    assert colour_of(0.0) == (1.0, 1.0, 1.0) and colour_of(-1.0, signed=False) == (1, 1, 1)


def test_captions_give_row_id_smiles_prediction_and_the_explained_part(result):
    record = {"row": 7, "id": "aspirin", "smiles": SMILES[0], "logS_pred": -1.72,
              "logS_gnn_pred": -1.5}
    lines = _caption(result, record, "logS")
    assert lines[:3] == ["row 7 | id aspirin | integrated_gradients", SMILES[0],
                         "logS: predicted -1.72"]
    result.gnn_weights = {"logS": 0.7}
    try:
        assert "weight 0.7 of the blended prediction" in _caption(result, record, "logS")[-1]
        assert _caption(result, record, "logS", short=True)[-1].endswith("(colours: GNN part, "
                                                                         "w 0.7)")
    finally:
        result.gnn_weights = {}
    # a long SMILES is wrapped, not cut; too many lines shorten the longest block
    long = "C" * 150
    assert _fit_caption(["row 1", long], 60, 10) == ["row 1", "C" * 60, "C" * 60, "C" * 30]
    fitted = _fit_caption(["row 1", long], 60, 2)
    assert fitted == ["row 1", "C" * 57 + "..."]
    assert ascii_text("pIC50 (\u00b5M) \u2212log") == "pIC50 (uM) -log"


def test_size_and_style_options(result, tmp_path, capsys):
    assert set(STYLE_NAMES) == set(STYLES)
    with pytest.raises(ValueError, match="size 50 50: give a width and height from 200"):
        result.write(tmp_path / "x", size=(50, 50))
    with pytest.raises(ValueError, match="unknown picture style 'blobs'"):
        result.write(tmp_path / "x", style="blobs")
    assert not (tmp_path / "x").exists()  # refused before writing anything
    picture = Picture(Chem.MolFromSmiles("C"), np.zeros(1), None, ["row 1"], "scale")
    with pytest.raises(ValueError, match="unknown picture style"):
        render(picture, (300, 300), "heat")

    out = tmp_path / "cli"
    assert main(["explain", "--model", str(SAVED / "gcn"), "--smiles", "CCO", "c1ccccc1O",
                 "--out", str(out), "--size", "420", "360", "--style", "contours",
                 "--steps", "5"]) == 0
    with Image.open(out / "heatmaps" / "row2_logS.png") as image:
        assert image.size == (420, 360)
    assert main(["explain", "--model", str(SAVED / "gcn"), "--smiles", "CCO", "--out",
                 str(tmp_path / "bad"), "--size", "10", "10"]) == 2
    err = capsys.readouterr().err
    assert "--size 10 10" in err and "Traceback" not in err
