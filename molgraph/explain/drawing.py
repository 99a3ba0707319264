"""The heat-map files of an explanation: one picture per molecule and target
(``heatmaps/row<R>_<target>.svg|png``) and ``grid.png``, an overview of the first molecules.

Each picture (``molgraph.explain.picture``) carries its own caption (row, id, SMILES, the
prediction, the method, and for a blended model which part was explained) and its own colour
bar: the colours are scaled per molecule and target to the largest absolute value, so the bar's
end values say what full colour means in that picture.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from molgraph.explain.picture import Picture, check_size, check_style, render

#: Molecules in ``grid.png`` and per row of it.
GRID_MOLECULES, GRID_COLUMNS = 12, 4
#: default size of a heat map and of one cell of the grid, in pixels (width, height)
SIZE = (640, 560)
CELL = (360, 380)


def draw_explanation(result, out: Path, draw_limit: int = 100,
                     size: tuple[int, int] = SIZE, style: str = "discs") -> list[Path]:
    """Write ``out/heatmaps/row<R>_<target>.svg`` and ``.png`` (``size`` pixels) for the
    first ``draw_limit`` valid molecules and every explained target, and ``out/grid.png`` (the
    first target of the first :data:`GRID_MOLECULES` valid molecules); return the files
    written."""
    from rdkit import Chem

    from molgraph.chem.featurize import quiet_rdkit

    size, style = check_size(size), check_style(style)
    valid = result.molecules[result.molecules["valid"]]
    if not len(valid) or not result.targets:
        return []
    folder = out / "heatmaps"
    folder.mkdir(parents=True, exist_ok=True)
    atoms = {key: g["attribution"].to_numpy() for key, g in result.atoms.groupby(
        ["row", "target"], sort=False)}
    bonds = {key: g["attribution"].to_numpy() for key, g in result.bonds.groupby(
        ["row", "target"], sort=False)}
    written, cells = [], []
    with quiet_rdkit():
        for position, record in enumerate(valid.to_dict("records")):
            if position >= max(draw_limit, GRID_MOLECULES):
                break
            mol = Chem.MolFromSmiles(record["smiles"])
            for t, target in enumerate(result.targets):
                key = (record["row"], target)
                values = atoms.get(key, np.zeros(mol.GetNumAtoms()))
                picture = Picture(mol, values, bonds.get(key), [], _scale(result, target),
                                  result.signed)
                if t == 0 and len(cells) < GRID_MOLECULES:
                    picture.caption = _caption(result, record, target, short=True)
                    cells.append(render(picture, CELL, style))
                if position >= draw_limit:
                    continue
                picture.caption = _caption(result, record, target)
                stem = folder / f"row{record['row']}_{_safe(target)}"
                stem.with_suffix(".svg").write_text(render(picture, size, style, svg=True))
                stem.with_suffix(".png").write_bytes(render(picture, size, style))
                written += [stem.with_suffix(".svg"), stem.with_suffix(".png")]
        if cells:
            written.append(_grid(cells, out / "grid.png"))
    return written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_") or "target"


def _scale(result, target: str) -> str:
    """What the colour bar's numbers are, in the explained units."""
    whose = "the GNN's" if target in result.gnn_weights else "the"
    if not result.signed:
        return f"gradient magnitude for {whose} prediction (no sign)"
    if result.task == "classification":
        return f"atom contribution to {whose} logit (log-odds)"
    return f"atom contribution to {whose} prediction (label units)"


def _caption(result, record: dict, target: str, short: bool = False) -> list[str]:
    """Row (and id) with the method, the SMILES, the prediction; for a blended model, the
    GNN's share (the part the colours explain)."""
    head = f"row {record['row']}"
    if str(record.get("id", "") or "") not in ("", "nan"):
        head += f" | id {record['id']}"
    pred = f"{target}: predicted {record.get(f'{target}_pred', np.nan):.3g}"
    weight = result.gnn_weights.get(target)
    if short:
        if weight is not None:
            pred += f" (colours: GNN part, w {weight:.2g})"
        return [head, record["smiles"], pred]
    lines = [f"{head} | {result.method}", record["smiles"], pred]
    if weight is not None:
        gnn = record.get(f"{target}_gnn_pred", np.nan)
        lines.append(f"colours: the GNN part (weight {weight:.2g} of the blended prediction; "
                     f"the GNN alone predicts {gnn:.3g})")
    return lines


def _grid(cells: list[bytes], path: Path, gap: int = 4) -> Path:
    """The cell pictures side by side, :data:`GRID_COLUMNS` a row, on a light grey ground."""
    from PIL import Image

    columns = min(GRID_COLUMNS, len(cells))
    rows = -(-len(cells) // columns)
    width, height = CELL
    grid = Image.new("RGB", (columns * (width + gap) + gap, rows * (height + gap) + gap),
                     (225, 225, 225))
    for i, png in enumerate(cells):
        with Image.open(io.BytesIO(png)) as cell:
            grid.paste(cell.convert("RGB"), (gap + (i % columns) * (width + gap),
                                             gap + (i // columns) * (height + gap)))
    grid.save(path)
    return path


__all__ = ["CELL", "SIZE", "draw_explanation"]
