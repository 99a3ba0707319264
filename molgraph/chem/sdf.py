"""SDF files as molecule tables: labels from SD properties, ids from the title line.

A record RDKit cannot read keeps its place as an invalid row with the reason, so labels never
slide onto other molecules.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from molgraph.chem.table import MoleculeTable


def iter_sdf(path: Path, targets: list[str], id_column: str | None,
              chunk_size: int) -> Iterator[MoleculeTable]:
    """SDF records; labels from SD properties, ids from the title line (or ``id_column``)."""
    from rdkit import Chem

    from molgraph.chem.featurize import quiet_rdkit

    handle = gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")
    with handle, quiet_rdkit():
        supplier = Chem.ForwardSDMolSupplier(handle, sanitize=True, removeHs=True)
        chunk: list[tuple[str, str, list[float], str | None]] = []
        start = 1
        for record, mol in enumerate(supplier, start=1):
            chunk.append(_sdf_record(mol, targets, id_column, record, path))
            if len(chunk) == chunk_size:
                yield _sdf_table(chunk, start, targets)
                start += len(chunk)
                chunk = []
        if chunk:
            yield _sdf_table(chunk, start, targets)


def _sdf_record(mol, targets: list[str], id_column: str | None, record: int,
                path: Path) -> tuple[str, str, list[float], str | None]:
    from rdkit import Chem

    if mol is None:
        return "", "", [np.nan] * len(targets), "RDKit could not read this SDF record"
    props = mol.GetPropsAsDict(includePrivate=False, includeComputed=False)
    values = []
    for name in targets:
        raw = props.get(name, "")
        try:
            values.append(float(raw) if str(raw).strip() != "" else np.nan)
        except ValueError as err:
            raise ValueError(f"{path}: record {record}: SD property {name!r} is not a number: "
                             f"{raw!r}") from err
    mol_id = str(props.get(id_column, "")) if id_column else (
        mol.GetProp("_Name") if mol.HasProp("_Name") else "")
    return Chem.MolToSmiles(mol), mol_id, values, None


def _sdf_table(chunk: list, start: int, targets: list[str]) -> MoleculeTable:
    return MoleculeTable(
        smiles=[c[0] for c in chunk],
        rows=np.arange(start, start + len(chunk), dtype=np.int64),
        targets=np.asarray([c[2] for c in chunk], dtype=np.float32).reshape(len(chunk),
                                                                           len(targets))
        if targets else None,
        target_names=targets,
        ids=[c[1] for c in chunk],
        errors={i: c[3] for i, c in enumerate(chunk) if c[3]},
    )
