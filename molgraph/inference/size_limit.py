"""Which molecules a model's rdkit2d descriptors were partly left out for, by their size
(``molgraph.chem.molfeatures.LARGE_ATOMS``), so ``predict`` and ``screen`` report each of them.

The rule is the atom count, which a featurized batch (``MolGraphs``) already holds: nothing is
parsed again, and no torch is imported here (screening's featurization side stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from molgraph.chem.molfeatures import size_limited, size_note

if TYPE_CHECKING:
    from molgraph.chem.graphs import MolGraphs


def feature_kinds(trained: Any) -> set[str]:
    """The molecule-level features any model in ``trained`` reads: a ``TrainedModel``, an
    ``EnsembleModel`` (its ``members``) or a screening ``Ensemble`` (its ``models``)."""
    parts = getattr(trained, "members", None) or getattr(trained, "models", None)
    if parts is not None:
        return set().union(*map(feature_kinds, parts))
    return set(trained.model.config.molecule_features)


def size_notes(trained: Any, graphs: MolGraphs) -> dict[int, str]:
    """``{position in graphs: why}`` for the molecules whose rdkit2d descriptors ``trained``
    reads partly as the training mean, being above the size limit; empty for a model that
    reads no rdkit2d descriptors."""
    atoms = np.diff(graphs.atom_ptr)
    return {int(k): size_note(int(atoms[k]))
            for k in np.flatnonzero(size_limited(atoms, feature_kinds(trained)))}
