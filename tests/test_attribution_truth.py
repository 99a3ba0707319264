"""The attributions find the atoms that define the label: a ground-truth task on real MOSES
molecules (label = has a sulfonyl AND a pyridine ring; half the negatives have exactly one),
the small version of experiments/attribution_benchmark.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from sklearn.metrics import roc_auc_score

import molgraph
from molgraph.explain import deletion_curve, explain_molecules

GROUPS = ("S(=O)(=O)", "n1ccccc1")


def _true_atoms(smiles: str) -> set[int]:
    mol = Chem.MolFromSmiles(smiles)
    return {a for s in GROUPS for hit in mol.GetSubstructMatches(Chem.MolFromSmarts(s))
            for a in hit}


def _mean_auroc(atoms: pd.DataFrame, truth: dict[int, set[int]]) -> float:
    scores = []
    for row, part in atoms.groupby("row"):
        y = np.isin(part["atom"].to_numpy(), sorted(truth[row]))
        scores.append(roc_auc_score(y, part["attribution"].to_numpy()))
    return float(np.mean(scores))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = Path(__file__).parent / "data" / "moses_and_400.csv"
    run = molgraph.train(path, ["label"], task="classification", split="scaffold",
                                   seed=0, epochs=25, out=tmp_path_factory.mktemp("and"),
                                   baseline=False, blend=False, train_options={"threads": 1})
    frame = pd.read_csv(path)
    test = frame.iloc[run.split[2]]
    return run, test[test["label"] == 1]["smiles"].tolist()


def test_integrated_gradients_finds_the_two_groups(trained):
    run, positives = trained
    assert run.metrics["test"]["roc_auc"] > 0.9  # the model learned the rule
    truth = {r: _true_atoms(s) for r, s in enumerate(positives, 1)}
    explanation = explain_molecules(run.model, positives, method="integrated_gradients")
    rng = np.random.default_rng(0)
    random = explanation.atoms.assign(attribution=rng.random(len(explanation.atoms)))
    ig, chance = _mean_auroc(explanation.atoms, truth), _mean_auroc(random, truth)
    assert ig >= 0.80 and ig > chance + 0.2, (ig, chance)

    curve = deletion_curve(run.model, explanation, ks=(2, 4)).groupby("k").mean()
    assert (curve["top_drop"] > curve["random_drop"]).all(), curve
