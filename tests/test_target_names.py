"""Each target is named once: ``--target-columns logS logS`` used to build a model with two
heads whose predictions share one output column, so one head's output was dropped silently.
Refused wherever target names are taken: the run configuration, files and DataFrames."""

from __future__ import annotations

import pandas as pd
import pytest

from molgraph.chem.frame import table_from_frame
from molgraph.chem.parse import read_molecules
from molgraph.training.api import train
from molgraph.training.config import DataConfig

TWICE = ["logS", "other", "logS"]
WORDS = ("'logS' is named twice", "give each target once")


def _refused(call) -> str:
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    assert all(w in message for w in WORDS), message
    return message


def test_the_run_configuration_refuses_a_target_named_twice():
    _refused(lambda: DataConfig(path="x.csv", target_columns=TWICE))


def test_a_file_refuses_a_target_named_twice(data_dir):
    assert _refused(lambda: read_molecules(data_dir / "esol_120.csv", target_columns=TWICE)
                    ).startswith(str(data_dir / "esol_120.csv"))


def test_a_dataframe_refuses_a_target_named_twice(data_dir):
    frame = pd.read_csv(data_dir / "esol_120.csv").assign(other=1.0)
    _refused(lambda: table_from_frame(frame, target_columns=TWICE))
    _refused(lambda: train(frame, TWICE, epochs=1, cache_dir=None))
