"""Named data sets that reach a fresh machine through PyPI.

``moleculeace:CHEMBL214_Ki`` is one of the 30 ChEMBL activity sets (Ki/EC50, ``y`` =
-log10(value in nM), ``split`` = the authors' train/test assignment) shipped in the MIT-licensed
``MoleculeACE`` wheel (van Tilborg et al., 2022). Install it without its dependencies, which pin
an old ``rdkit-pypi`` that would clash with ``rdkit``::

    pip install --no-deps MoleculeACE==3.0.0

Only its CSV files are read; the package itself is never imported.

``moses:test`` (176,074 molecules), ``moses:train`` (1,584,663) and ``moses:test_scaffolds``
are the MOSES compound libraries (ZINC Clean Leads derived; Polykovskiy et al., 2020), SMILES
only, shipped in the MIT-licensed ``molsets`` wheel: ``pip install --no-deps molsets==0.3.1``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

INSTALL_HINT = "pip install --no-deps MoleculeACE==3.0.0"
MOSES_INSTALL_HINT = "pip install --no-deps molsets==0.3.1"
MOSES_SETS = ("test", "train", "test_scaffolds")


def moleculeace_dir() -> Path:
    """Folder of MoleculeACE's benchmark CSVs, without importing the package."""
    spec = importlib.util.find_spec("MoleculeACE")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the MoleculeACE data sets are not installed; run: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "Data" / "benchmark_data"


def list_moleculeace() -> list[str]:
    """Names of the MoleculeACE data sets, e.g. ``CHEMBL214_Ki``."""
    return sorted(p.stem for p in moleculeace_dir().glob("CHEMBL*.csv"))


def moses_path(name: str) -> Path:
    """The gzipped CSV of MOSES set ``name`` in the ``molsets`` wheel, without importing it."""
    if name not in MOSES_SETS:
        raise FileNotFoundError(f"no MOSES set {name!r}; available: {', '.join(MOSES_SETS)}")
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the MOSES libraries are not installed; run: "
                                f"{MOSES_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "dataset" / "data" / \
        f"{name}.csv.gz"


def resolve_data_path(data: str | Path) -> Path:
    """A file path as given, or the CSV behind ``moleculeace:NAME`` or ``moses:NAME``."""
    text = str(data)
    if text.startswith("moses:"):
        return moses_path(text.split(":", 1)[1])
    if text.startswith("moleculeace:"):
        name = text.split(":", 1)[1]
        path = moleculeace_dir() / f"{name}.csv"
        if not path.exists():
            raise FileNotFoundError(f"no MoleculeACE data set {name!r}; available: "
                                    f"{', '.join(list_moleculeace())}")
        return path
    return Path(data)
