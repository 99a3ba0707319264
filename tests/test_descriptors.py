"""RDKit 2D descriptors as molecule-level features: the values ``CalcMolDescriptors`` gives,
computed with the shared work done once per molecule, and the same when spread over processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors

from molgraph.chem import molfeatures
from molgraph.chem.molfeatures import descriptor_names, molecule_features

DATA = Path(__file__).parent / "data"
#: a 131-atom peptide-like chain: above DENSE_ATOMS, so Ipc/AvgIpc take the sparse products
LONG = "C(=O)N".join(["CC(C)"] * 26) + "C"
ODD = ["[Na+].[Cl-]", "C", "[U]", "CC(=O)[O-].[NH4+]", "[2H]C([2H])([2H])O", "c1ccccc1", LONG]


def _reference(smiles: list[str]) -> np.ndarray:
    """What molgraph computed before: ``CalcMolDescriptors``, non-finite as NaN, clipped."""
    out = np.full((len(smiles), len(descriptor_names())), np.nan)
    for i, smi in enumerate(smiles):
        values = Descriptors.CalcMolDescriptors(Chem.MolFromSmiles(smi), missingVal=np.nan)
        out[i] = [values[name] for name in descriptor_names()]
    out[~np.isfinite(out)] = np.nan
    return np.clip(out, -1e10, 1e10).astype(np.float32)


@pytest.fixture(scope="module")
def smiles() -> list[str]:
    esol = pd.read_csv(DATA / "esol_120.csv")["smiles"].str.strip().tolist()
    return esol[:40] + pd.read_csv(DATA / "bace_80.csv")["mol"].tolist()[:10] + ODD


def test_descriptors_are_rdkits_values(smiles):
    assert Chem.MolFromSmiles(LONG).GetNumAtoms() > molfeatures.DENSE_ATOMS
    np.testing.assert_array_equal(molecule_features(smiles, ["rdkit2d"], workers=1),
                                  _reference(smiles))


def test_many_molecules_spread_over_processes_give_the_same(smiles, monkeypatch):
    monkeypatch.setattr(molfeatures, "PARALLEL_ABOVE", 10)
    serial = molecule_features(smiles, ["morgan", "rdkit2d"], workers=1)
    np.testing.assert_array_equal(molecule_features(smiles, ["morgan", "rdkit2d"], workers=2),
                                  serial)
