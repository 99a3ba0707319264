"""The atom and bond categories molgraph's graphs use, and the featurizer version.

Kept apart from the featurizer (no RDKit import), so a model configuration, the CLI and a saved
model can name the vocabulary sizes without loading RDKit.
"""

from __future__ import annotations

#: Bump whenever a feature, vocabulary or ordering changes: saved models and caches check it.
FEATURIZER_VERSION = 1

ELEMENTS = tuple(range(1, 37)) + (53,)  # H..Kr and I, as Chemprop v2; anything else → "other"
HYBRIDIZATIONS = ("UNSPECIFIED", "S", "SP", "SP2", "SP3", "SP2D", "SP3D", "SP3D2", "OTHER")
CHIRAL_TAGS = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER")
BOND_STEREO = ("STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS")
FORMAL_CHARGES = (-2, -1, 0, 1, 2)
MAX_DEGREE = 5
MAX_HS = 4

#: Columns of ``MolGraphs.x`` and their vocabulary sizes (the last category is "other").
ATOM_FEATURES = {
    "element": len(ELEMENTS) + 1,
    "degree": MAX_DEGREE + 2,
    "formal_charge": len(FORMAL_CHARGES) + 1,
    "chirality": len(CHIRAL_TAGS) + 1,
    "num_hs": MAX_HS + 2,
    "hybridization": len(HYBRIDIZATIONS) + 1,
    "aromatic": 2,
    "in_ring": 2,
}
#: Columns of ``MolGraphs.edge_attr`` and their vocabulary sizes.
BOND_FEATURES = {"bond_type": 5, "conjugated": 2, "in_ring": 2, "stereo": len(BOND_STEREO) + 1}


def featurizer_spec() -> dict:
    """What a saved model needs to know to refuse incompatible features."""
    return {"version": FEATURIZER_VERSION, "atom_features": ATOM_FEATURES,
            "bond_features": BOND_FEATURES}
