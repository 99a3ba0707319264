"""Property-based tests (Hypothesis) of the parser and the featurizer on generated input.

Molecules are made by editing real MOSES SMILES (a ring, a charge, an isotope, a salt,
stereo marks, explicit hydrogens, random characters), so most parse and many do not; the
properties must hold for every one of them: no exception, one result per input in order, and
features decoded from RDKit's pickles equal to those RDKit's atom and bond API gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem

from molgraph.chem import rdkit_pickle
from molgraph.chem.featurize import _read_with_api, featurize_chunk, quiet_rdkit
from molgraph.chem.parse import read_molecules

MOSES = pd.read_csv(__import__("pathlib").Path(__file__).parent / "data" / "moses_204.csv",
                    keep_default_na=False)["SMILES"].tolist()
EDITS = ["", "[Na+].", ".[Cl-]", "[13C]", "[2H]", "[NH4+]", "[O-]", "@", "/", "\\", "[H]",
         "1", "(", ")", "=", "#", "[Fe+2]", "[Se]", "c", "n", "*", "[*]", "%10", " ", "X"]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def edited_smiles(draw) -> str:
    """A MOSES SMILES with a few edits inserted at random positions."""
    text = draw(st.sampled_from(MOSES))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(EDITS)) + text[at:]
    return text


smiles_lists = st.lists(st.one_of(edited_smiles(), st.text(max_size=12)), max_size=12)


@SETTINGS
@given(smiles_lists)
def test_featurizer_never_raises_and_keeps_every_position(smiles):
    chunk = featurize_chunk(smiles)
    assert len(chunk.valid) == len(smiles) == len(chunk.graphs) + len(chunk.errors)
    assert set(chunk.errors) == set(np.flatnonzero(~chunk.valid).tolist())
    assert all(chunk.errors[i] for i in chunk.errors)


@SETTINGS
@given(st.lists(edited_smiles(), min_size=1, max_size=8))
def test_pickle_decoder_equals_the_rdkit_api(smiles):
    with quiet_rdkit():
        mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    if not mols:
        return
    # the decoder reads the molecules it handles (``ok``) and steps aside for the others
    decoded, ok = rdkit_pickle.decode([m.ToBinary() for m in mols])
    reference = _read_with_api([m for m, good in zip(mols, ok) if good])
    for name in decoded.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(decoded, name), getattr(reference, name), name)


@SETTINGS
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                               blacklist_characters="\x00\n\r\x0b\x0c\x1c\x1d"
                                               "\x1e\x85\u2028\u2029"),
                        max_size=20), min_size=1, max_size=15))
def test_every_smi_line_is_one_row_in_order(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("smi") / "lines.smi"
    if lines[0].split(maxsplit=1)[:1] and lines[0].split()[0].lower() == "smiles":
        lines = ["C", *lines]  # a first line reading "smiles" is a header, by design
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_molecules(path)
    assert table.rows.tolist() == list(range(1, len(lines) + 1))
    chunk = featurize_chunk(table.smiles)
    assert len(chunk.valid) == len(lines)
