"""Per-atom attributions of molecular predictions (Captum on the encoded atom and bond
representations, for every model): :func:`explain_molecules`, :func:`explain_file`, the
methods by name in :data:`METHODS`, :class:`Explanation` (CSV tables and heat maps), and
:func:`deletion_curve`, which checks an explanation against masking random atoms."""

from molgraph.explain.attribute import Explanation, explain_file, explain_molecules
from molgraph.explain.deletion import deletion_curve
from molgraph.explain.methods import DEFAULT_METHOD, METHODS

__all__ = ["DEFAULT_METHOD", "METHODS", "Explanation", "deletion_curve", "explain_file",
           "explain_molecules"]
