"""The pretraining library: a seeded subset of a molecule file, its graphs and descriptors.

Computed once and kept in the output directory (``library.npz``: graphs, raw descriptors),
so a run that continues from a checkpoint reads them back in seconds instead of recomputing
~5 ms of RDKit per molecule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molgraph.chem.graphs import MolGraphs
from molgraph.chem.molfeatures import molecule_features
from molgraph.chem.parse import read_molecules
from molgraph.chem.sources import resolve_data_path
from molgraph.data.dataset import featurize_cached
from molgraph.pretrain.config import PretrainConfig
from molgraph.runtime.files import atomic_path
from molgraph.runtime.progress import step

log = logging.getLogger(__name__)
LIBRARY_FILE = "library.npz"


@dataclass
class Library:
    """``graphs`` of the chosen molecules that RDKit reads, their raw descriptors
    ``[M, D]`` and the SMILES."""

    graphs: MolGraphs
    raw: np.ndarray
    smiles: np.ndarray

    def __len__(self) -> int:
        return len(self.graphs)


def build_library(config: PretrainConfig, out: Path, cache_dir: Path | None) -> Library:
    """The library of ``config`` (read back from ``out/library.npz`` when there)."""
    path = out / LIBRARY_FILE
    if path.exists():
        graphs, extra = MolGraphs.load(path)
        log.info("library of %s molecules read from %s", f"{len(graphs):,}", path)
        return Library(graphs, extra["raw"], extra["smiles"])
    table = read_molecules(resolve_data_path(config.data), config.smiles_column)
    smiles = np.asarray(table.smiles, dtype=object)
    if config.max_molecules and config.max_molecules < len(smiles):
        rng = np.random.default_rng(config.seed)
        smiles = smiles[np.sort(rng.choice(len(smiles), config.max_molecules, replace=False))]
    chunk = featurize_cached(smiles.tolist(), cache_dir)
    if chunk.errors:
        log.info("%d of %d molecules skipped: RDKit cannot read them", len(chunk.errors),
                 len(smiles))
    chosen = smiles[chunk.valid].astype(str)
    with step(f"RDKit descriptors of {len(chosen):,} molecules (~5 ms each on one core)", log):
        raw = molecule_features(chosen.tolist(), ("rdkit2d",))
    library = Library(chunk.graphs, raw, chosen)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            library.graphs.save(handle, raw=raw, smiles=chosen)
    return library
