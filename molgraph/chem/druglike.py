"""Drug-likeness columns and filters: Lipinski's rule of five, Veber's rules and PAINS alerts.

- Lipinski (Lipinski et al., 1997): molecular weight ≤ 500, cLogP ≤ 5, H-bond donors ≤ 5,
  H-bond acceptors ≤ 10; a molecule passes with at most one violation.
- Veber (Veber et al., 2002): rotatable bonds ≤ 10 and topological polar surface area ≤ 140 Å².
- PAINS (Baell & Holloway, 2010): substructure alerts for pan-assay interference, matched with
  RDKit's ``FilterCatalog``; the first matching alert's name is reported.

PAINS matching is the slow part (~200 molecules/s per core), so it is only run when asked for.
This module imports no torch: it runs in featurization worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import Crippen, rdMolDescriptors

FILTERS = ("lipinski", "veber", "pains")

#: Descriptor columns and their dtypes, in output order.
DESCRIPTOR_COLUMNS = {
    "mol_weight": np.float32,
    "logp": np.float32,
    "hbd": np.int16,
    "hba": np.int16,
    "tpsa": np.float32,
    "rotatable_bonds": np.int16,
    "lipinski_violations": np.int8,
    "lipinski_pass": bool,
    "veber_pass": bool,
}
PAINS_COLUMN = "pains"

_CATALOG = None


def _pains_catalog():
    global _CATALOG
    if _CATALOG is None:
        from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

        params = FilterCatalogParams()
        params.AddCatalog(FilterCatalogParams.FilterCatalogs.PAINS)
        _CATALOG = FilterCatalog(params)
    return _CATALOG


def check_filters(names: Sequence[str]) -> list[str]:
    """The filter names, validated (``lipinski``, ``veber``, ``pains``)."""
    unknown = sorted(set(names) - set(FILTERS))
    if unknown:
        raise ValueError(f"unknown filter(s) {unknown}; choose from {', '.join(FILTERS)}")
    return list(dict.fromkeys(names))


def describe_mols(mols: Sequence[Chem.Mol], pains: bool = False) -> dict[str, np.ndarray]:
    """Drug-likeness descriptors of sanitized molecules.

    Returns:
        One array of length ``len(mols)`` per name in ``DESCRIPTOR_COLUMNS`` (and ``pains``, the
        first PAINS alert's name or ``""``, when ``pains`` is true).
    """
    n = len(mols)
    out = {name: np.zeros(n, dtype=dtype) for name, dtype in DESCRIPTOR_COLUMNS.items()}
    for i, mol in enumerate(mols):
        out["mol_weight"][i] = rdMolDescriptors.CalcExactMolWt(mol)
        out["logp"][i] = Crippen.MolLogP(mol)
        out["hbd"][i] = rdMolDescriptors.CalcNumHBD(mol)
        out["hba"][i] = rdMolDescriptors.CalcNumHBA(mol)
        out["tpsa"][i] = rdMolDescriptors.CalcTPSA(mol)
        out["rotatable_bonds"][i] = rdMolDescriptors.CalcNumRotatableBonds(mol)
    out["lipinski_violations"][:] = ((out["mol_weight"] > 500).astype(np.int8)
                                     + (out["logp"] > 5) + (out["hbd"] > 5) + (out["hba"] > 10))
    out["lipinski_pass"][:] = out["lipinski_violations"] <= 1
    out["veber_pass"][:] = (out["rotatable_bonds"] <= 10) & (out["tpsa"] <= 140)
    if pains:
        catalog = _pains_catalog()
        names = []
        for mol in mols:
            match = catalog.GetFirstMatch(mol)
            names.append(match.GetDescription() if match is not None else "")
        out[PAINS_COLUMN] = np.asarray(names, dtype=object)
    return out


def describe_smiles(smiles: Sequence[str], pains: bool = False) -> dict[str, np.ndarray]:
    """:func:`describe_mols` of SMILES that are known to parse (the featurizer's valid ones)."""
    from molgraph.chem.featurize import quiet_rdkit

    with quiet_rdkit():
        mols = [Chem.MolFromSmiles(s) for s in smiles]
    if any(m is None for m in mols):
        raise ValueError("describe_smiles needs valid SMILES")
    return describe_mols(mols, pains)


def filter_reasons(descriptors: dict[str, np.ndarray], filters: Sequence[str]) -> list[str]:
    """Per molecule, why it fails ``filters`` (``""`` when it passes them all)."""
    n = len(descriptors["mol_weight"])
    reasons: list[list[str]] = [[] for _ in range(n)]
    if "lipinski" in filters:
        for i in np.flatnonzero(~descriptors["lipinski_pass"]):
            reasons[i].append(f"Lipinski: {descriptors['lipinski_violations'][i]} violations")
    if "veber" in filters:
        for i in np.flatnonzero(~descriptors["veber_pass"]):
            reasons[i].append(f"Veber: {descriptors['rotatable_bonds'][i]} rotatable bonds, "
                              f"TPSA {descriptors['tpsa'][i]:.1f}")
    if "pains" in filters:
        for i, name in enumerate(descriptors[PAINS_COLUMN]):
            if name:
                reasons[i].append(f"PAINS: {name}")
    return ["; ".join(r) for r in reasons]
