"""Deletion curves: does masking the atoms an explanation ranks highest change the prediction
more than masking as many random atoms? A faithfulness check that needs no ground truth.

Masking an atom sets its encoded representation to zero, the same "no information from this
atom" baseline that integrated gradients starts from, so the check and the method agree on what
an absent atom is. Regression outputs are in the model's scaled units and classification
outputs are logits, as in :mod:`molgraph.explain.attribute`; a blended model's output here is
its GNN's, the part its explanation covers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from molgraph.explain.attribute import Explanation, _load, _padded_inputs


def deletion_curve(model, explanation: Explanation, ks: Sequence[int] = (1, 2, 3, 4, 5),
                   target: str | None = None, random_draws: int = 5, seed: int = 0,
                   batch_size: int = 64, device: str = "auto") -> pd.DataFrame:
    """For each valid molecule of ``explanation`` and each ``k``: how much the output falls
    when its ``k`` highest-attributed atoms are masked, and on average over ``random_draws``
    sets of ``k`` random atoms.

    Returns one line per molecule and ``k`` (molecules with fewer than ``k + 1`` atoms are
    left out at that ``k``): ``row, k, atoms, top_drop, random_drop``, where a drop is the
    unmasked output minus the masked one (positive: the prediction went down).
    """
    import torch

    from molgraph.chem.featurize import featurize_smiles

    trained = _load(model, device)
    target = target or explanation.targets[0]
    j = trained.target_names.index(target)
    valid = explanation.molecules[explanation.molecules["valid"]]
    atoms = explanation.atoms[explanation.atoms["target"] == target]
    scores = {row: part.sort_values("atom")["attribution"].to_numpy()
              for row, part in atoms.groupby("row", sort=False)}
    rows = [r for r in valid["row"] if r in scores]
    smiles = valid.set_index("row").loc[rows, "smiles"].tolist()
    chunk = featurize_smiles(smiles)
    rng = np.random.default_rng(seed)
    lines = []
    trained.model.eval()
    for start in range(0, len(rows), batch_size):
        part = list(range(start, min(start + batch_size, len(rows))))
        batch = chunk.graphs.tensors(np.asarray(part)).to(trained.device)
        forward, enc_atoms, enc_bonds = _padded_inputs(trained.model, batch)
        with torch.no_grad():
            base = forward(enc_atoms, enc_bonds)[:, j].cpu().numpy()
            for k in ks:
                masks = [np.zeros(enc_atoms.shape[:2], dtype=bool)
                         for _ in range(1 + random_draws)]
                kept = []
                for b, i in enumerate(part):
                    values = scores[rows[i]]
                    if len(values) <= k:
                        continue
                    kept.append(b)
                    masks[0][b, np.argsort(-values, kind="stable")[:k]] = True
                    for m in masks[1:]:
                        m[b, rng.choice(len(values), size=k, replace=False)] = True
                if not kept:
                    continue
                drops = []
                for m in masks:
                    masked = enc_atoms.masked_fill(
                        torch.as_tensor(m, device=enc_atoms.device)[..., None], 0.0)
                    drops.append(base - forward(masked, enc_bonds)[:, j].cpu().numpy())
                for b in kept:
                    row = rows[part[b]]
                    lines.append({"row": row, "k": k, "atoms": len(scores[row]),
                                  "top_drop": float(drops[0][b]),
                                  "random_drop": float(np.mean([d[b] for d in drops[1:]]))})
    return pd.DataFrame(lines, columns=["row", "k", "atoms", "top_drop", "random_drop"])
