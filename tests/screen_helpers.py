"""Shared data and tiny trained models for the screening tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).parent / "data"
#: 200 MOSES test-set molecules with four invalid rows inserted (see data/README.md).
LIBRARY = DATA / "moses_204.csv"
#: 1-based data row → the SMILES written there, for the invalid rows of LIBRARY.
INVALID_ROWS = {6: "", 52: "C1CC", 123: "not_a_smiles", 203: "c1ccccc1c"}
N_ROWS = 204


def tiny_models(base: Path) -> list[Path]:
    """Two 2-epoch DMPNNs (hidden 32, seeds 0 and 1) on 120 ESOL molecules, trained once per
    test session (cached under ``base``); the second is blended with its SVM (``blend=True``),
    so every screening path carries a model whose SVM travels with it."""
    out = base / "screen_models"
    models = [out / f"seed{seed}" / "model" for seed in (0, 1)]
    if not all((m / "config.json").exists() for m in models):
        from molgraph.training.api import train

        for seed in (0, 1):
            train(DATA / "esol_120.csv", ["logS"], epochs=2, seed=seed,
                            out=out / f"seed{seed}", model_options={"hidden_channels": 32},
                            cache_dir=None, blend=seed == 1)
    return models


def read_table(path: Path) -> pd.DataFrame:
    """A screening output (CSV or Parquet) with empty strings where CSV would give NaN."""
    if str(path).endswith(".parquet"):
        return pd.read_parquet(path)
    frame = pd.read_csv(path, dtype={"id": str, "smiles": str, "reason": str})
    for column in ("id", "smiles", "reason"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("")
    return frame
