"""Who the audited model trained on: the audit population and its membership ground truth.

The population is the audit file's valid molecules, each distinct molecule once (its first
row: a molecule given twice is one member or none, and a shadow model trains on it or not).
Membership is known one of two ways, and the audit refuses to guess otherwise:

- the file is the run's own data: the rows ``split.json`` lists are read back and checked
  against the run's ``test_predictions.csv`` (every test row's SMILES must be the one the run
  predicted), so a file edited or re-ordered since is refused;
- the user names the members: a file (or a list) of SMILES, matched by canonical SMILES.

Which molecules count as the training molecules depends on what is audited: the network and
the ECFP baseline were fitted on the training part; a blended model's SVM was refitted on the
training and validation parts, so for the model as saved those are members too.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.parse import read_molecules
from molgraph.data.dataset import MoleculeDataset
from molgraph.data.duplicates import canonical
from molgraph.runtime.encryption import read_bytes
from molgraph.training.config import RunConfig

#: what is audited: the model as saved, its network alone (a blended model), the ECFP baseline
AUDITED = ("model", "network", "baseline")


@dataclass
class Population:
    """The audit's molecules and who trained on them.

    Attributes:
        index: ``[n]`` indices into ``dataset``'s valid molecules, one per distinct molecule.
        smiles: their canonical SMILES.
        labels: ``[n, T]`` their labels (NaN = missing).
        members: per audited part (``AUDITED``), ``[n]`` bool ground truth.
        source: how membership was established, in words.
    """

    index: np.ndarray
    smiles: list[str]
    labels: np.ndarray
    members: dict[str, np.ndarray]
    source: str

    def actives(self, task: str) -> np.ndarray | None:
        """``[n]`` bool, molecules with an active label for some target (classification)."""
        return (self.labels == 1).any(axis=1) if task == "classification" else None


def distinct_molecules(dataset: MoleculeDataset) -> tuple[np.ndarray, list[str]]:
    """Indices of the first valid molecule of each canonical SMILES, and those SMILES."""
    names = dataset.canonical_smiles
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        first.setdefault(name, i)
    index = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    return index, [names[i] for i in index]


def _read_members(members: str | Path | Sequence[str]) -> set[str]:
    """Canonical SMILES of the named members: a molecule file (its SMILES column) or SMILES."""
    if isinstance(members, str | Path):
        smiles = [s for s in read_molecules(members).smiles if s]
        where = str(members)
    else:
        smiles, where = list(members), "the members given"
    known = {s for s in canonical(smiles) if s}
    if not known:
        raise ValueError(f"{where}: no SMILES to take as the target's training molecules")
    return known


def _check_run_data(dataset: MoleculeDataset, run_dir: Path, record: dict, where: str) -> None:
    """Refuse a file that is not the one the run split (by content, not by name)."""
    if record.get("files", {}).get("test_data"):
        raise ValueError(f"{run_dir}: the run took its test part from a second file; name the "
                         "training molecules with --members")
    rows = len(dataset.table)
    listed = [i for part in ("train", "val", "test") for i in record.get(part, [])]
    if not listed or max(listed) >= rows:
        raise ValueError(f"{where}: {rows} data rows, but {run_dir}/split.json lists row "
                         f"{max(listed, default=-1)}: not the data this run was trained on; "
                         "give the run's data file or --members")
    predicted = run_dir / "test_predictions.csv"
    try:
        expected = pd.read_csv(io.BytesIO(read_bytes(predicted)),
                               usecols=["smiles"])["smiles"].astype(str).tolist()
    except (OSError, ValueError) as err:
        raise ValueError(f"{predicted}: unreadable ({err}), so the data cannot be checked "
                         "against the run; give --members") from err
    found = [dataset.table.smiles[i] for i in record["test"]]
    wrong = [k for k, (a, b) in enumerate(zip(found, expected)) if a != b]
    if len(found) != len(expected) or wrong:
        at = record["test"][wrong[0]] + 1 if wrong else "?"
        raise ValueError(f"{where}: data row {at} is not the molecule the run at {run_dir} "
                         "tested there: not the data this run was trained on; give the run's "
                         "data file or --members")


def population(dataset: MoleculeDataset, run_dir: str | Path, config: RunConfig,
               blended: bool, members: str | Path | Sequence[str] | None = None,
               where: str = "the data") -> Population:
    """The audit population of ``dataset`` (the audit file, featurized) with its members: the
    ones named by ``members``, or else the run's own training rows (``split.json``)."""
    run_dir = Path(run_dir)
    index, smiles = distinct_molecules(dataset)
    if members is not None:
        named = _read_members(members)
        truth = np.array([s in named for s in smiles])
        named_in = members if isinstance(members, str | Path) else "a list"
        source = (f"{int(truth.sum())} molecules named as members ({named_in}), matched by "
                  "canonical SMILES")
        found = dict.fromkeys(AUDITED, truth)
    else:
        path = run_dir / "split.json"
        try:
            record = json.loads(read_bytes(path))
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: no readable split ({err}), so who the model trained on "
                             "is unknown; give --members") from err
        _check_run_data(dataset, run_dir, record, where)
        position = {int(p): i for i, p in enumerate(dataset.positions)}
        names = dataset.canonical_smiles

        def part(key: str) -> set[str]:
            return {names[position[p]] for p in record[key] if p in position}

        train, val = part("train"), part("val")
        trained = np.array([s in train for s in smiles])
        with_val = np.array([s in train or s in val for s in smiles])
        found = {"model": with_val if blended else trained, "network": trained,
                 "baseline": trained}
        source = (f"the run's own data ({config.data.path or where}, checked against "
                  f"test_predictions.csv): split.json's {len(train)} training molecules"
                  + (f" and, for the blended model, its {len(val)} validation molecules "
                     "(its SVM was refitted on them)" if blended else ""))
    for part_name, truth in found.items():
        if not truth.any() or truth.all():
            raise ValueError(f"{where}: {int(truth.sum())} of its {len(truth)} distinct "
                             f"molecules are training molecules of the {part_name}: an audit "
                             "needs members and non-members both")
    return Population(index, smiles, dataset.y[index], found, source)
