"""RDKit 2D descriptors as molecule-level features: the values ``CalcMolDescriptors`` gives,
computed with the shared work done once per molecule, and the same when spread over processes."""

from __future__ import annotations

import subprocess
import sys
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


def test_above_the_size_limit_the_superlinear_descriptors_are_missing():
    """At ``LARGE_ATOMS`` atoms every descriptor is RDKit's; one atom more, the size-limited
    ones are missing (the model reads them as the training mean) and the rest are RDKit's."""
    at, above = "C" * molfeatures.LARGE_ATOMS, "C" * (molfeatures.LARGE_ATOMS + 1)
    u = molecule_features([at, above], ["rdkit2d"], workers=1)
    limited = np.isin(descriptor_names(), molfeatures.size_limited_names())
    assert limited.sum() == 51 and {"Ipc", "AvgIpc", "BCUT2D_MWHI", "BertzCT"} <= set(
        molfeatures.size_limited_names())
    assert np.isfinite(u[0, limited]).sum() > 40
    assert np.isnan(u[1, limited]).all()
    functions = dict(Descriptors._descList)
    mol = Chem.MolFromSmiles(above)
    expected = [functions[name](mol) for name in np.array(descriptor_names())[~limited]]
    np.testing.assert_allclose(u[1, ~limited], np.float32(expected), rtol=1e-6)
    sizes = [molfeatures.LARGE_ATOMS, molfeatures.LARGE_ATOMS + 1]
    assert molfeatures.size_limited(sizes, ["morgan", "rdkit2d"]).tolist() == [False, True]
    assert not molfeatures.size_limited(sizes, ["morgan"]).any()


def test_a_3000_atom_chain_takes_seconds():
    """It took about an hour (Ipc, BCUT2D's eigenvalues, the EState indices: n³)."""
    code = ("from molgraph.chem.molfeatures import molecule_features; "
            "u = molecule_features(['C' * 3000], ['rdkit2d'], workers=1); print(u.shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
