"""A campaign's pictures, drawn again after every round into ``DIR/plots/``:

- ``progress.png``: the best value so far and the top-k average after each round, against the
  molecules acquired (better is up: a minimising campaign's axis is turned over);
- ``found.png`` (with a lookup oracle, which knows the truth): the share of the true top-k
  found after each round, as scores and as molecules, beside what random selection finds on
  average (the share of the pool acquired).

A picture that cannot be drawn is a warning, never the end of a campaign.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from molgraph.plots.figures import _figure, _save

log = logging.getLogger(__name__)

PROGRESS, FOUND = "progress.png", "found.png"


def draw_campaign(directory: Path, history: Sequence[dict], minimize: bool,
                  k: int) -> list[Path]:
    """Draw the pictures of the rounds in ``history`` (``rounds.csv``'s records)."""
    try:
        paths = [progress_figure(directory / PROGRESS, history, minimize, k)]
        if history and history[-1].get("found_scores") is not None:
            paths.append(found_figure(directory / FOUND, history, k))
        return paths
    except Exception as err:  # a picture must not end a campaign
        log.warning("campaign pictures not drawn: %s", err)
        return []


def progress_figure(path: Path, history: Sequence[dict], minimize: bool, k: int) -> Path:
    """Best so far and top-``k`` average per round."""
    fig, axes = _figure(1, 1, (6.0, 3.8))
    ax = axes[0, 0]
    x = [r["acquired"] for r in history]
    for key, label, marker in (("best", "best so far", "o"),
                               ("top_k_average", f"top-{k} average", "s")):
        points = [(a, r[key]) for a, r in zip(x, history) if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker=marker, label=label)
    if minimize:
        ax.invert_yaxis()
    ax.set_xlabel("molecules acquired")
    ax.set_ylabel("oracle value" + (" (lower is better, drawn up)" if minimize else ""))
    ax.set_title(f"campaign progress, {len(history)} rounds")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return _save(fig, path)


def found_figure(path: Path, history: Sequence[dict], k: int) -> Path:
    """Share (%) of the true top-``k`` found per round, and random selection's."""
    fig, axes = _figure(1, 1, (6.0, 3.8))
    ax = axes[0, 0]
    x = [r["acquired"] for r in history]
    for key, label, marker in (("found_scores", f"top-{k} scores found", "o"),
                               ("found_smiles", f"top-{k} molecules found", "s"),
                               ("random_expected", "random selection (expected)", "")):
        ax.plot(x, [100 * r[key] for r in history], marker=marker or None, label=label,
                linestyle="--" if not marker else "-", color="grey" if not marker else None)
    ax.set_xlabel("molecules acquired")
    ax.set_ylabel(f"% of the true top-{k}")
    ax.set_ylim(0, 100)
    ax.set_title("true top-k found (lookup oracle)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)
