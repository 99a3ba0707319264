"""One explanation picture: a molecule's attributions on its 2D structure, a caption and a
colour bar in the explained units, all drawn with RDKit's drawer so that the SVG (vector) and
the PNG are the same picture.

Layout, top to bottom: the molecule, the caption lines, the colour bar with its numbers and
what they mean. Two styles: ``discs`` colours each atom (and bond) by its own value, exactly as
the bar reads; ``contours`` spreads the atom values as Gaussians into a continuous field
(RDKit's ``SimilarityMaps``), which reads at a glance; each bond's value is split between its
two atoms there, so the field still adds up to the whole prediction. Blue lowers the
prediction, red raises it; both are light enough for black atom labels to stay readable.
RDKit's built-in font has ASCII glyphs only, so text is reduced to ASCII.
"""

from __future__ import annotations

import textwrap
import unicodedata
from dataclasses import dataclass

import numpy as np

STYLES = ("discs", "contours")
#: the colour of the most negative value, of zero and of the most positive value
NEGATIVE, ZERO, POSITIVE = (0.40, 0.58, 0.93), (1.0, 1.0, 1.0), (0.93, 0.40, 0.35)
BAR_STEPS = 64
#: RDKit's depiction bond length (its 2D coordinates' unit)
BOND = 1.5
#: smallest canvas (pixels) a picture is drawn on
MIN_SIZE = (200, 200)


@dataclass
class Picture:
    """What one picture shows.

    Attributes:
        mol: the RDKit molecule (atom ``i`` is the graph's node ``i``).
        atoms: ``[n_atoms]`` attributions.
        bonds: ``[n_bonds]`` attributions, or None when the method gives none.
        caption: lines under the molecule; a line is wrapped when too long, and the picture
            keeps at least half its height for the molecule by shortening the longest lines.
        scale: what the bar's numbers are (``contribution to predicted logS``).
        signed: False for magnitudes (saliency): white to red from 0.
    """

    mol: object
    atoms: np.ndarray
    bonds: np.ndarray | None
    caption: list[str]
    scale: str
    signed: bool = True


def check_size(size: tuple[int, int], option: str = "size") -> tuple[int, int]:
    """``(width, height)`` as integers, or a ``ValueError`` naming ``option``."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{option} must be two whole numbers, width and height in pixels, "
                         f"not {size!r}") from err
    if width < MIN_SIZE[0] or height < MIN_SIZE[1] or max(width, height) > 4000:
        raise ValueError(f"{option} {width} {height}: give a width and height from "
                         f"{MIN_SIZE[0]} to 4000 pixels")
    return width, height


def check_style(style: str) -> str:
    """``style`` when it is one of :data:`STYLES`, else a ``ValueError`` listing them."""
    if style not in STYLES:
        raise ValueError(f"unknown picture style {style!r}; choose from {', '.join(STYLES)}")
    return style


def render(picture: Picture, size: tuple[int, int], style: str = "discs",
           svg: bool = False) -> bytes | str:
    """The picture as PNG bytes or SVG text, ``size`` = (width, height) in pixels."""
    from rdkit.Chem.Draw import rdMolDraw2D

    check_style(style)
    width, height = size
    font = float(max(12, min(18, round(width / 30))))
    line = round(1.35 * font)
    margin = max(6, round(0.02 * width))
    chars = _chars(width - 2 * margin, font)
    bar_block = margin + round(0.9 * font) + 2 * line + margin
    lines = _fit_caption(picture.caption, chars, (height // 2 - bar_block) // line)
    panel = height - bar_block - len(lines) * line - margin
    drawer = (rdMolDraw2D.MolDraw2DSVG if svg else rdMolDraw2D.MolDraw2DCairo)(
        width, height, width, panel)
    options = drawer.drawOptions()
    options.useBWAtomPalette()  # black labels on the coloured atoms
    options.fixedBondLength = width / 10  # pixels per unit at most: methane stays small
    _white(drawer, width, height)
    top = _molecule(drawer, picture, style, (width, panel))
    drawer.SetFontSize(font)
    drawer.SetColour((0.0, 0.0, 0.0))
    for i, text in enumerate(lines):
        _text(drawer, text, margin, panel + (i + 0.8) * line)
    _bar(drawer, picture, top, (margin, height - bar_block + margin, width - margin), font, line)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def colour_of(level: float, signed: bool = True) -> tuple[float, float, float]:
    """The colour of ``level`` in [-1, 1] (signed) or [0, 1]: white at 0."""
    level = float(np.clip(level, -1.0 if signed else 0.0, 1.0))
    end = POSITIVE if level >= 0 else NEGATIVE
    a = abs(level)
    return tuple((1 - a) * z + a * e for z, e in zip(ZERO, end))


def ascii_text(text: str) -> str:
    """``text`` in the glyphs RDKit's font has (``−`` → ``-``, ``µ`` → ``u``, others ``?``)."""
    text = str(text).replace("\u2212", "-").replace("\u00b5", "u").replace("\u03bc", "u")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c if c.isascii() else ("" if unicodedata.combining(c) else "?")
                   for c in decomposed)


def _chars(width: float, font: float) -> int:
    """How many characters of RDKit's font (about half as wide as high) fit in ``width``."""
    return max(20, int(width / (0.5 * font)))


def _fit_caption(caption: list[str], chars: int, max_lines: int) -> list[str]:
    """Each caption line wrapped at ``chars``; when there are more than ``max_lines``, the
    longest wrapped block loses lines, its last kept line ending in ``...``."""
    blocks = [textwrap.wrap(ascii_text(text), chars, break_on_hyphens=False,
                            break_long_words=True) or [""] for text in caption]
    max_lines = max(len(blocks), max_lines)
    while sum(len(b) for b in blocks) > max_lines:
        longest = max(blocks, key=len)
        del longest[-1]
        longest[-1] = longest[-1][:max(0, chars - 3)] + "..."
    return [text for block in blocks for text in block]


def _white(drawer, width: int, height: int) -> None:
    from rdkit import Geometry

    drawer.SetFillPolys(True)
    drawer.SetColour((1.0, 1.0, 1.0))
    drawer.DrawRect(Geometry.Point2D(0, 0), Geometry.Point2D(width, height), True)


def _molecule(drawer, picture: Picture, style: str, panel: tuple[int, int]) -> float:
    """Draw the molecule in the top ``panel`` (width, height); return the value that gets the
    full colour."""
    mol, atoms = picture.mol, np.nan_to_num(np.asarray(picture.atoms, dtype=float))
    bonds = None if picture.bonds is None else np.nan_to_num(
        np.asarray(picture.bonds, dtype=float)).reshape(-1)
    if bonds is not None and len(bonds) != mol.GetNumBonds():
        bonds = None
    if style == "contours":
        weights = atoms.copy()
        for b, bond in enumerate(mol.GetBonds() if bonds is not None else ()):
            weights[[bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()]] += bonds[b] / 2
        return _contours(drawer, mol, weights, picture.signed, panel)
    if bonds is None:  # a bond without a value of its own: the mean of its atoms'
        bonds = np.array([(atoms[b.GetBeginAtomIdx()] + atoms[b.GetEndAtomIdx()]) / 2
                          for b in mol.GetBonds()])
    top = float(np.abs(np.concatenate([atoms, bonds])).max()) if len(atoms) else 0.0

    def colours(values: np.ndarray) -> dict[int, tuple]:
        return {i: colour_of(v / top if top > 0 else 0.0, picture.signed)
                for i, v in enumerate(values)}

    drawer.drawOptions().highlightRadius = 0.4
    atom_colours, bond_colours = colours(atoms), colours(bonds)
    drawer.DrawMolecule(mol, highlightAtoms=list(atom_colours),
                        highlightAtomColors=atom_colours, highlightBonds=list(bond_colours),
                        highlightBondColors=bond_colours)
    return top


def _contours(drawer, mol, weights: np.ndarray, signed: bool, panel: tuple[int, int]) -> float:
    """RDKit's similarity-map field (``SimilarityMaps.GetSimilarityMapFromWeights``'s
    Gaussians, sigma 0.3 bond lengths) under the molecule, on a scale set here so that the field
    fits the panel and a bond is at most as long as in the ``discs`` style."""
    from rdkit import Geometry
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = rdMolDraw2D.PrepareMolForDrawing(mol, addChiralHs=False)
    xy = mol.GetConformer().GetPositions()[:, :2]
    sigma = 0.3 * BOND
    low, high = xy.min(0) - 3 * sigma, xy.max(0) + 3 * sigma
    span = np.maximum(high - low, np.asarray(panel) / drawer.drawOptions().fixedBondLength)
    centre = (low + high) / 2
    drawer.SetScale(*panel, Geometry.Point2D(*(centre - span / 2)),
                    Geometry.Point2D(*(centre + span / 2)))
    top = float(np.abs(weights).max()) if len(weights) else 0.0
    params = rdMolDraw2D.ContourParams()
    params.fillGrid, params.setScale, params.extraGridPadding = True, False, 0.5
    params.setColourMap([NEGATIVE, ZERO, POSITIVE] if signed else [ZERO, ZERO, POSITIVE])
    rdMolDraw2D.ContourAndDrawGaussians(
        drawer, [Geometry.Point2D(*p) for p in xy], [float(w) for w in weights],
        [sigma] * len(xy), nContours=6 if top > 0 else 0, params=params)
    drawer.drawOptions().clearBackground = False  # keep the field under the molecule
    drawer.DrawMolecule(mol)
    return top


def _text(drawer, text: str, x: float, y: float, align: int = 1) -> None:
    """``align``: 0 centre, 1 start, 2 end (RDKit's)."""
    from rdkit import Geometry

    drawer.DrawString(ascii_text(text), Geometry.Point2D(x, y), align, True)


def _bar(drawer, picture: Picture, top: float, box: tuple[int, int, int], font: float,
         line: int) -> None:
    """The colour bar from ``box`` = (left, top, right), its end values and its meaning."""
    from rdkit import Geometry

    left, y, right = box
    height = round(0.9 * font)
    levels = np.linspace(-1.0 if picture.signed else 0.0, 1.0, BAR_STEPS)
    step = (right - left) / BAR_STEPS
    drawer.SetFillPolys(True)
    for i, level in enumerate(levels):
        drawer.SetColour(colour_of(level, picture.signed))
        drawer.DrawRect(Geometry.Point2D(left + i * step, y),
                        Geometry.Point2D(left + (i + 1) * step + 0.5, y + height), True)
    drawer.SetFillPolys(False)
    drawer.SetColour((0.3, 0.3, 0.3))
    drawer.DrawRect(Geometry.Point2D(left, y), Geometry.Point2D(right, y + height), True)
    drawer.SetColour((0.0, 0.0, 0.0))
    ticks = y + height + 0.85 * line
    value = f"{top:.2g}"
    if picture.signed:
        _text(drawer, f"-{value} lowers", left, ticks, 1)
        _text(drawer, "0", (left + right) / 2, ticks, 0)
        _text(drawer, "raises +" + value, right, ticks, 2)
    else:
        _text(drawer, "0", left, ticks, 1)
        _text(drawer, value, right, ticks, 2)
    chars = _chars(right - left, font)
    scale = ascii_text(picture.scale)
    if len(scale) > chars:
        scale = scale[:chars - 3] + "..."
    _text(drawer, scale, (left + right) / 2, ticks + line, 0)


__all__ = ["MIN_SIZE", "STYLES", "Picture", "ascii_text", "check_size", "check_style",
           "colour_of", "render"]
