"""Heat maps of attributions on the 2D structure (RDKit ``rdMolDraw2D``): each atom, and each
bond where the method gives bond values, highlighted in a diverging colour map (blue negative,
white zero, red positive; saliency's magnitudes in white→red), scaled per molecule and target
to its largest absolute value."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

#: Molecules in ``grid.png``, per row of the grid, and the size of each picture.
GRID_MOLECULES, GRID_COLUMNS = 12, 4
SIZE = (400, 320)
CELL = (300, 260)


def draw_explanation(result, out: Path, draw_limit: int = 100) -> list[Path]:
    """Write ``out/heatmaps/row<R>_<target>.svg`` and ``.png`` for the first ``draw_limit``
    valid molecules and every explained target, and ``out/grid.png`` (the first target of the
    first :data:`GRID_MOLECULES` valid molecules); return the files written."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    from molgraph.chem.featurize import quiet_rdkit

    valid = result.molecules[result.molecules["valid"]]
    if not len(valid) or not result.targets:
        return []
    folder = out / "heatmaps"
    folder.mkdir(parents=True, exist_ok=True)
    atoms = {key: g["attribution"].to_numpy() for key, g in result.atoms.groupby(
        ["row", "target"], sort=False)}
    bonds = {key: g["attribution"].to_numpy() for key, g in result.bonds.groupby(
        ["row", "target"], sort=False)}
    written, grid = [], []
    with quiet_rdkit():
        for position, record in enumerate(valid.to_dict("records")):
            if position >= max(draw_limit, GRID_MOLECULES):
                break
            mol = Chem.MolFromSmiles(record["smiles"])
            for t, target in enumerate(result.targets):
                row = record["row"]
                key = (row, target)
                values = atoms.get(key, np.zeros(mol.GetNumAtoms()))
                colours = _colours(mol, values, bonds.get(key), result.signed)
                pred = record.get(f"{target}_pred", np.nan)
                legend = f"row {row}  {target}  pred {pred:.3g}  ({result.method})"
                if t == 0 and len(grid) < GRID_MOLECULES:
                    grid.append((mol, f"row {row}  {target} {pred:.3g}", colours))
                if position >= draw_limit:
                    continue
                stem = folder / f"row{row}_{_safe(target)}"
                for drawer, suffix in ((rdMolDraw2D.MolDraw2DSVG(*SIZE), ".svg"),
                                       (rdMolDraw2D.MolDraw2DCairo(*SIZE), ".png")):
                    _draw(drawer, mol, legend, colours)
                    path = stem.with_suffix(suffix)
                    text = drawer.GetDrawingText()
                    if suffix == ".svg":
                        path.write_text(text)
                    else:
                        path.write_bytes(text)
                    written.append(path)
        if grid:
            written.append(_grid(grid, out / "grid.png"))
    return written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("_") or "target"


def _colours(mol, atom_values: np.ndarray, bond_values: np.ndarray | None,
             signed: bool) -> tuple[dict[int, tuple], dict[int, tuple]]:
    """Highlight colours by atom index and by bond index (bonds without values: the mean of
    their atoms' values)."""
    import matplotlib

    cmap = matplotlib.colormaps["coolwarm" if signed else "Reds"]
    atom_values = np.nan_to_num(np.asarray(atom_values, dtype=float))
    if bond_values is None or len(bond_values) != mol.GetNumBonds():
        bond_values = np.array([(atom_values[b.GetBeginAtomIdx()]
                                 + atom_values[b.GetEndAtomIdx()]) / 2 for b in mol.GetBonds()])
    bond_values = np.nan_to_num(np.asarray(bond_values, dtype=float)).reshape(-1)

    # one scale for the atoms and bonds of a molecule: its largest absolute value
    top = float(np.abs(np.concatenate([atom_values, bond_values])).max())

    def colour(values: np.ndarray) -> dict[int, tuple]:
        scaled = values / top if top > 0 else np.zeros_like(values)
        level = 0.5 + 0.5 * scaled if signed else np.clip(scaled, 0, 1)
        return {i: tuple(float(c) for c in cmap(v)[:3]) for i, v in enumerate(level)}

    return colour(atom_values), colour(bond_values)


def _draw(drawer, mol, legend: str, colours) -> None:
    atom_colours, bond_colours = colours
    drawer.drawOptions().legendFontSize = 14
    drawer.DrawMolecule(mol, legend=legend, highlightAtoms=list(atom_colours),
                        highlightAtomColors=atom_colours, highlightBonds=list(bond_colours),
                        highlightBondColors=bond_colours)
    drawer.FinishDrawing()


def _grid(items: list, path: Path) -> Path:
    from rdkit.Chem.Draw import rdMolDraw2D

    columns = min(GRID_COLUMNS, len(items))
    lines = -(-len(items) // columns)
    drawer = rdMolDraw2D.MolDraw2DCairo(columns * CELL[0], lines * CELL[1], *CELL)
    drawer.drawOptions().legendFontSize = 16
    drawer.DrawMolecules([m for m, _, _ in items], legends=[legend for _, legend, _ in items],
                         highlightAtoms=[list(c[0]) for _, _, c in items],
                         highlightAtomColors=[c[0] for _, _, c in items],
                         highlightBonds=[list(c[1]) for _, _, c in items],
                         highlightBondColors=[c[1] for _, _, c in items])
    drawer.FinishDrawing()
    path.write_bytes(drawer.GetDrawingText())
    return path


__all__ = ["draw_explanation"]
