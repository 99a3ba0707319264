"""The pictures of a virtual screen: the score histogram and a grid of the top hits.

Both take what was already computed from the screening output (fixed-bin counts, the best rows)
so that a million-row screen never hands all its scores to a plotting function. Each writes one
PNG at ``path`` (parent folders are made) and returns the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molgraph.plots.figures import DPI, _figure, _save, qualified, wrap

#: the shade of a top hit outside the model's applicability domain (RGB)
OUTSIDE_COLOUR = (1.0, 0.72, 0.72)


def score_histogram(counts: Any, edges: Any, path: str | Path, column: str,
                    threshold: float | None = None, top_k_cutoff: float | None = None, *,
                    unscored: int = 0, ascending: bool = False) -> Path:
    """Bar histogram of the screening scores from ``counts`` per bin (``numpy.histogram``
    style: ``len(edges) == len(counts) + 1``), with the ``threshold`` and the score of the last
    kept top-k molecule (``top_k_cutoff``) marked.

    The title says how many molecules were scored (the sum of ``counts``) and, when
    ``unscored`` is given, how many rows had no score (invalid SMILES). ``ascending``: lower
    scores are better (only stated in the title).
    """
    counts = np.asarray(counts, dtype=float)
    edges = np.asarray(edges, dtype=float)
    if counts.ndim != 1 or edges.shape != (len(counts) + 1,):
        raise ValueError(f"{len(edges)} bin edges for {len(counts)} counts; need one more edge "
                         "than counts")
    scored = int(counts.sum())
    fig, axes = _figure(1, 1, (6.4, 3.8))
    ax = axes[0, 0]
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="tab:blue",
           alpha=0.8, edgecolor="white", linewidth=0.4)
    pad = 0.03 * (edges[-1] - edges[0])
    low, high = edges[0] - pad, edges[-1] + pad
    for value, label, style in ((threshold, "threshold", {"color": "tab:red", "ls": "--"}),
                                (top_k_cutoff, "top-k cutoff", {"color": "tab:green",
                                                                "ls": "-"})):
        if value is None:
            continue
        if low <= value <= high:
            ax.axvline(value, lw=1.5, label=f"{label} {value:.3g}", **style)
        else:  # far from every score: named in the legend, not squashing the bars
            side = "below" if value < low else "above"
            ax.plot([], [], lw=1.5, label=f"{label} {value:.3g} ({side} every score)",
                    **style)
    ax.set_xlim(low, high)
    if threshold is not None or top_k_cutoff is not None:
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(wrap(qualified("predicted", column) + (" (lower is better)" if ascending
                                                          else " (higher is better)"), 6.0))
    ax.set_ylabel("molecules")
    if scored and counts.max() / max(counts[counts > 0].min(), 1) > 1000:
        ax.set_yscale("log")  # a long tail of a million-row library stays visible
    ax.grid(alpha=0.3)
    title = f"{column}: {scored:,} molecules scored"
    if unscored:
        title += f" ({unscored:,} rows without a score)"
    fig.suptitle(wrap(title, 6.4), fontsize=10)
    return _save(fig, path)


def top_hits_grid(smiles: Sequence[str], scores: Sequence[float], path: str | Path, column: str,
                  n: int = 24, per_row: int = 6, similarity: Sequence[float] | None = None,
                  outside: Sequence[bool] | None = None) -> Path:
    """The first ``n`` molecules of ``smiles`` (best first) drawn in a grid, each labelled
    ``rank i: <column> <score>``. A SMILES that does not parse is drawn as an empty cell with
    its label. ``ValueError`` when there is nothing to draw.

    ``similarity`` (one per molecule, NaN when unknown): the Tanimoto similarity to the nearest
    training molecule, added to each label; ``outside``: which molecules are outside the
    model's applicability domain, labelled so and shaded red."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Draw import rdMolDraw2D

    smiles = [str(s) for s in list(smiles)[:n]]
    scores = [float(s) for s in list(scores)[:n]]
    if len(smiles) != len(scores):
        raise ValueError(f"{len(smiles)} SMILES for {len(scores)} scores")
    if not smiles:
        raise ValueError("no molecules to draw")
    RDLogger.DisableLog("rdApp.*")
    try:
        mols = [Chem.MolFromSmiles(s) or Chem.Mol() for s in smiles]
    finally:
        RDLogger.EnableLog("rdApp.*")
    legends = [f"rank {i}: {column} {score:.3g}" for i, score in enumerate(scores, 1)]
    outside = [bool(o) for o in list(outside)[:n]] if outside is not None else [False] * len(mols)
    if similarity is not None:
        legends = [legend + (f"\ntrain similarity {sim:.2f}" if np.isfinite(sim) else "")
                   + (" (outside domain)" if out else "")
                   for legend, sim, out in zip(legends, np.asarray(similarity, float), outside)]
    shade = [[a.GetIdx() for a in m.GetAtoms()] if out else [] for m, out in zip(mols, outside)]
    bonds = [[b.GetIdx() for b in m.GetBonds()] if out else [] for m, out in zip(mols, outside)]
    side = int(round(2.0 * DPI))  # 2 inches a molecule at the figures' resolution
    columns = min(per_row, len(mols))
    # the Cairo drawer itself: Draw.MolsToGridImage returns an IPython image inside a notebook
    drawer = rdMolDraw2D.MolDraw2DCairo(columns * side, -(-len(mols) // columns) * side, side, side)
    drawer.DrawMolecules(mols, legends=legends, highlightAtoms=shade, highlightBonds=bonds,
                         highlightAtomColors=[dict.fromkeys(a, OUTSIDE_COLOUR) for a in shade],
                         highlightBondColors=[dict.fromkeys(b, OUTSIDE_COLOUR) for b in bonds])
    drawer.FinishDrawing()
    png = drawer.GetDrawingText()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(png))
    return path
