"""Molecules given more than once: always reported, kept, merged or dropped as asked."""

import json

import numpy as np
import pytest

from molgraph.data.duplicates import resolve_duplicates
from molgraph.training.api import train

SMILES = ["CCO", "OCC", "CCC", "CCC", "c1ccccc1"]  # CCO = OCC: one molecule, two notations
Y = np.array([[1.0], [3.0], [2.0], [2.0], [5.0]], dtype=np.float32)
ROWS = np.arange(1, 6)


def test_keep_reports_and_trains_on_every_row(caplog):
    index, y, report = resolve_duplicates(SMILES, Y, ROWS, "regression", "keep", "d.csv")
    assert index.tolist() == [0, 1, 2, 3, 4] and np.array_equal(y, Y)
    assert (report.molecules, report.rows, report.conflicting, report.removed_rows) == (2, 4, 1, 0)
    assert "row 1" in report.examples[0] and "row 2" in report.examples[0]
    assert "d.csv: 2 molecules occur more than once (4 rows), 1 of them with conflicting" \
        in caplog.text


def test_mean_merges_and_drop_leaves_out_conflicts():
    index, y, _ = resolve_duplicates(SMILES, Y, ROWS, "regression", "mean")
    assert index.tolist() == [0, 2, 4] and y[:, 0].tolist() == [2.0, 2.0, 5.0]
    index, y, report = resolve_duplicates(SMILES, Y, ROWS, "regression", "drop")
    assert index.tolist() == [2, 4] and report.removed_rows == 3


def test_classification_mean_is_the_majority_and_a_tie_is_missing():
    y = np.array([[1, 0], [1, 1], [0, np.nan], [0, np.nan], [1, 1]], dtype=np.float32)
    index, merged, _ = resolve_duplicates(SMILES, y, ROWS, "classification", "mean")
    assert merged[0, 0] == 1 and np.isnan(merged[0, 1]) and merged[1, 0] == 0
    with pytest.raises(ValueError, match="unknown duplicates policy"):
        resolve_duplicates(SMILES, y, ROWS, "classification", "median")


def test_training_reports_duplicates_in_metrics(tmp_path, data_dir):
    """ESOL's first 40 molecules, the first 5 again with other labels: merged with ``mean``."""
    import pandas as pd

    esol = pd.read_csv(data_dir / "esol_120.csv").head(40)
    again = esol.head(5).assign(logS=esol["logS"].head(5) + 1.0)
    data = tmp_path / "dups.csv"
    pd.concat([esol, again]).to_csv(data, index=False)
    run = train(data, ["logS"], split="random", epochs=1, out=tmp_path / "run",
                          model_options={"hidden_channels": 8}, cache_dir=False,
                          **{"data.duplicates": "mean"})
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["duplicates"] == {"policy": "mean", "molecules": 5, "rows": 10,
                                     "conflicting": 5, "removed_rows": 5,
                                     "examples": metrics["duplicates"]["examples"]}
    assert sum(len(p) for p in run.split) == 40
