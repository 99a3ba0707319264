"""Sharing without weights (FLuID): owners annotate one public library with their own models,
``molgraph distill`` pools the annotations, a student trains on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molgraph.cli.main import main
from molgraph.privacy.distill import pool_annotations

DATA = Path(__file__).parent / "data"
#: owner → the Tox21 assays it holds (two share SR-ARE, so the student has three tasks)
OWNERS = {"a": ["NR-AhR", "SR-ARE"], "b": ["SR-ARE"], "c": ["NR-ER"]}


def _annotation(smiles, **columns) -> pd.DataFrame:
    return pd.DataFrame({"row": range(1, len(smiles) + 1), "smiles": smiles, **columns})


def test_pooling_keeps_the_sure_owners_majority_and_weights_values_by_width():
    smiles = ["CCO", "CCN", "CCC", "CCCl", "not a smiles"]
    nan = float("nan")
    owners = [
        _annotation(smiles, t_pred=[.9, .2, .6, .8, nan], t_set=["{1}", "{0}", "{0, 1}", "{1}",
                                                                 nan],
                    v_pred=[1.0, 2.0, 3.0, 4.0, nan], v_lower=[0.5, 1.0, 2.0, 3.0, nan],
                    v_upper=[1.5, 3.0, 4.0, 5.0, nan]),
        _annotation(smiles, t_pred=[.7, .6, .5, .3, nan], t_set=["{1}", "{1}", "{0, 1}", "{0}",
                                                                 nan],
                    v_pred=[3.0, 2.0, 1.0, 4.0, nan], v_lower=[1.5, 0.0, 0.0, 3.5, nan],
                    v_upper=[4.5, 4.0, 2.0, 4.5, nan]),
        _annotation(smiles, t_pred=[.4, .1, .9, .2, nan], t_set=["{0}", "{0}", "{}", "{0}", nan]),
    ]
    pooled = pool_annotations(owners)
    assert pooled.tasks == {"t": "classification", "v": "regression"}
    assert pooled.owners == {"t": 3, "v": 2}
    t = pooled.table["t"].to_numpy()
    # 2 of 3 sure owners say 1; 2 of 3 say 0; nobody is sure; 2 of 3 say 0; invalid SMILES
    np.testing.assert_array_equal(t[:4], [1.0, 0.0, np.nan, 0.0])
    assert np.isnan(t[4]) and pooled.labelled["t"] == 3
    assert pooled.agreement["t"] == pytest.approx(0.0)  # no molecule had all sure owners agree
    v = pooled.table["v"].to_numpy()
    # widths 1 and 3: weights 1 and 1/9
    assert v[0] == pytest.approx((1.0 + 3.0 / 9) / (1 + 1 / 9))
    assert v[1] == pytest.approx(2.0) and np.isnan(v[4])


def test_annotations_of_different_libraries_are_refused():
    one = _annotation(["CCO", "CCN"], t_pred=[.1, .2], t_set=["{0}", "{0}"])
    other = _annotation(["CCO", "CCC"], t_pred=[.1, .2], t_set=["{0}", "{0}"])
    with pytest.raises(ValueError, match="same public library"):
        pool_annotations([one, other])
    with pytest.raises(ValueError, match="not an annotation"):
        pool_annotations([pd.DataFrame({"smiles": ["CCO"], "y": [1]})])


def test_three_owners_annotate_a_public_library_and_distill_pools_them(tmp_path, capsys):
    """Each owner trains on its own assays and annotates MOSES molecules (public, unlabelled);
    the pooled file holds the union of their tasks, labelled where a sure owner said so.
    (Owners this small are sure of the inactive class only: the notebook
    ``sharing_without_weights`` trains a student on real-sized owners.)"""
    library = DATA / "moses_204.csv"
    annotations = []
    for owner, assays in OWNERS.items():
        run = tmp_path / owner
        assert main(["train", "--data", str(DATA / "tox21_150.csv"), "--target-columns",
                     *assays, "--task", "classification", "--split", "random",
                     "--split-sizes", "0.6", "0.2", "0.2", "--epochs", "2",
                     "--hidden-channels", "16", "--no-baseline", "--threads", "1",
                     "--no-cache", "--out", str(run)]) == 0
        annotation = tmp_path / f"{owner}.csv"
        assert main(["predict", "--model", str(run), "--data", str(library),
                     "--out", str(annotation)]) == 0
        annotations.append(str(annotation))
    pooled = tmp_path / "pooled.csv"
    capsys.readouterr()
    assert main(["distill", "--annotations", *annotations, "--out", str(pooled)]) == 0
    said = capsys.readouterr().out
    assert "--target-columns NR-AhR SR-ARE NR-ER --task classification" in said
    table = pd.read_csv(pooled)
    assert list(table.columns) == ["smiles", "NR-AhR", "SR-ARE", "NR-ER"]
    assert len(table) == len(pd.read_csv(library))
    assert set(np.unique(table[["NR-AhR", "SR-ARE", "NR-ER"]].dropna().to_numpy())) <= {0, 1}
    labelled = table[["NR-AhR", "SR-ARE", "NR-ER"]].notna().sum()
    assert (labelled > 0).all()
