"""``molgraph.screen``: screening as one call that returns the hits as a DataFrame.

Molecules in memory (a list, Series or array of SMILES, or a DataFrame with a SMILES column and
optionally an id column) or library files; models as directories, or as a model trained in
memory (``molgraph.train(...).model``). The work is the screening engine's
(:func:`molgraph.screening.screen.run_screen`: worker processes, shards, every row accounted
for, drug-likeness filters, applicability domain), on a temporary copy of in-memory molecules;
the ranked table comes back as a DataFrame, its summary in ``frame.attrs["summary"]``.

Example (in a notebook)::

    hits = molgraph.screen(["CCO", "c1ccccc1O", "not a smiles"], "runs/esol", top_k=2)
    hits = molgraph.screen(library_df, run.model, druglike=True)      # every row, ranked
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molgraph.chem.frame import table_from_frame
from molgraph.screening.screen import ScreenConfig, run_screen

Molecules = str | Path | Sequence[str] | pd.Series | pd.DataFrame | np.ndarray


def _write_table(molecules: Any, path: Path, smiles_column: str | None) -> None:
    """In-memory molecules as a CSV (``smiles`` and, when given, ``id``), one row each in
    order, so the engine numbers the rows as the input is ordered (row 1 is the first)."""
    frame = molecules if isinstance(molecules, pd.DataFrame) else pd.DataFrame(
        {"smiles": list(molecules.tolist() if hasattr(molecules, "tolist") else molecules)})
    table = table_from_frame(frame, smiles_column)
    columns = {"smiles": table.smiles, **({"id": table.ids} if table.ids else {})}
    pd.DataFrame(columns).to_csv(path, index=False)


def _model_dirs(models: Any, where: Path) -> list[str]:
    """Model directories: given ones as they are, a model in memory saved under ``where``."""
    items = models if isinstance(models, list | tuple) else [models]
    dirs = []
    for k, model in enumerate(items):
        if hasattr(model, "save"):  # a TrainedModel or EnsembleModel trained in memory
            dirs.append(str(model.save(where / f"model{k}")))
        else:
            dirs.append(str(model))
    return dirs


def screen(molecules: Molecules, models: Any, *, out: str | Path | None = None,
           smiles_column: str | None = None, **options: Any) -> pd.DataFrame:
    """Score ``molecules`` with ``models`` and return the kept rows, ranked.

    Args:
        molecules: SMILES (list, Series, array), a DataFrame (SMILES column found
            automatically or named by ``smiles_column``; an ``id``/``name`` column is carried
            over), or a library file path.
        models: a model directory, a model in memory, or a list of either (an ensemble).
        out: also write the table there (``.csv``, ``.tsv``, ``.parquet``) with its summary
            and pictures; by default nothing is written.
        **options: any :class:`~molgraph.screening.screen.ScreenConfig` field, e.g. ``top_k``,
            ``threshold``, ``druglike``, ``filters``, ``workers``.

    Returns:
        One row per kept molecule: ``rank`` (with ``top_k`` or ``threshold``), ``row`` (1 =
        the first input), ``id``, ``smiles``, the scores, ``status`` and ``reason``; the
        run's summary in ``.attrs["summary"]``.
    """
    with tempfile.TemporaryDirectory(prefix="molgraph-screen-") as tmp:
        work = Path(tmp)
        if isinstance(molecules, str | Path):
            library = str(molecules)
        else:
            library = str(work / "molecules.csv")
            _write_table(molecules, Path(library), smiles_column)
            smiles_column = None
        target = Path(out) if out is not None else work / "hits.parquet"
        options.setdefault("pictures", out is not None)
        config = ScreenConfig(models=_model_dirs(models, work), libraries=[library],
                              out=str(target), smiles_column=smiles_column, **options)
        summary = run_screen(config)
        frame = (pd.read_parquet(target) if target.suffix in (".parquet", ".pq")
                 else pd.read_csv(target, sep="\t" if target.suffix == ".tsv" else ",",
                                  keep_default_na=False))
    frame.attrs["summary"] = summary
    return frame
