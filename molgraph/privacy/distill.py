"""Sharing knowledge without weights (FLuID, Hanser et al., Nat. Mach. Intell. 2025): each data
owner annotates the same public library with its own model (``molgraph predict``: predictions
and conformal sets or intervals), and a student learns from the pooled annotations. No
molecule, label, weight or gradient of an owner leaves it; only its predictions on public
molecules do.

Pooling, per task and public molecule, uses only the owners that annotated the task:
classification takes the owners whose conformal set is a single class (the others are unsure
at their alpha) and labels the molecule with their majority (a tie, or no sure owner, leaves it
unlabelled: the student's loss skips missing labels); regression takes the inverse-variance
weighted mean of the owners' predictions, each variance from its conformal interval's width
(an owner without intervals weighs as the widest). Owners may annotate different tasks: the
student's tasks are their union.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
PREDICTION = "_pred"


@dataclass
class PooledAnnotations:
    """The student's training table and how it was made.

    Attributes:
        table: ``smiles`` and one column per task (0/1 or a value; NaN: no label).
        tasks: ``{task: "classification" | "regression"}``.
        owners: how many annotation files gave each task.
        labelled: public molecules labelled per task.
        agreement: classification: the share of labelled molecules whose sure owners all
            agreed.
    """

    table: pd.DataFrame
    tasks: dict[str, str]
    owners: dict[str, int] = field(default_factory=dict)
    labelled: dict[str, int] = field(default_factory=dict)
    agreement: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"{len(self.table):,} public molecules, {len(self.tasks)} task(s)"]
        for task, kind in self.tasks.items():
            agree = (f", sure owners agree on {self.agreement[task]:.0%}"
                     if task in self.agreement else "")
            lines.append(f"  {task} ({kind}): {self.owners[task]} owner(s), "
                         f"{self.labelled[task]:,} labelled{agree}")
        return "\n".join(lines)


def _annotations(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One owner's annotation table and its name for messages."""
    if isinstance(source, pd.DataFrame):
        return source, "an annotation table"
    try:
        return pd.read_csv(source), str(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{source}: not a CSV annotation from `molgraph predict` ({err})"
                         ) from err


def _tasks(frame: pd.DataFrame, where: str) -> dict[str, str]:
    """The tasks an annotation holds, from ``molgraph predict``'s columns."""
    tasks = {}
    for column in frame.columns:
        if column.endswith(PREDICTION):
            task = column[:-len(PREDICTION)]
            tasks[task] = "classification" if f"{task}_set" in frame else "regression"
    if "smiles" not in frame or not tasks:
        raise ValueError(f"{where}: not an annotation from `molgraph predict` (it needs a "
                         "smiles column and <task>_pred columns); annotate the public library "
                         "with `molgraph predict --model MODEL --data LIBRARY --out FILE`")
    return tasks


def _sure_class(sets: pd.Series) -> np.ndarray:
    """The class of each singleton conformal set (``{0}``, ``{1}``), NaN for others."""
    text = sets.astype(str).str.strip()
    return np.where(text == "{1}", 1.0, np.where(text == "{0}", 0.0, np.nan))


def pool_annotations(annotations: Sequence[str | Path | pd.DataFrame]) -> PooledAnnotations:
    """Pool several owners' annotations of one public library into the student's labels.

    Every annotation must list the same molecules in the same order (each is
    ``molgraph predict``'s output on the same library file); a mismatch is an error naming it.
    """
    if len(annotations) < 1:
        raise ValueError("give at least one annotation file")
    frames = [_annotations(a) for a in annotations]
    first, first_name = frames[0]
    kinds: dict[str, str] = {}
    per_owner = []
    for frame, where in frames:
        tasks = _tasks(frame, where)
        if len(frame) != len(first) or not frame["smiles"].equals(first["smiles"]):
            raise ValueError(f"{where}: its molecules differ from {first_name}'s; every owner "
                             "must annotate the same public library file")
        for task, kind in tasks.items():
            if kinds.setdefault(task, kind) != kind:
                raise ValueError(f"{where}: task {task!r} is {kind} here and "
                                 f"{kinds[task]} in another annotation")
        per_owner.append((frame, tasks))
    table = pd.DataFrame({"smiles": first["smiles"]})
    valid = first[f"{next(iter(per_owner[0][1]))}{PREDICTION}"].notna().to_numpy()
    pooled = PooledAnnotations(table, kinds)
    for task, kind in kinds.items():
        owners = [frame for frame, tasks in per_owner if task in tasks]
        pooled.owners[task] = len(owners)
        if kind == "classification":
            sure = np.stack([_sure_class(f[f"{task}_set"]) for f in owners])  # [owners, n]
            votes = np.nansum(sure, axis=0)
            counted = (~np.isnan(sure)).sum(axis=0)
            label = np.where(counted == 0, np.nan,
                             np.where(2 * votes > counted, 1.0,
                                      np.where(2 * votes < counted, 0.0, np.nan)))
            known = counted > 0
            unanimous = (votes == counted) | (votes == 0)
            pooled.agreement[task] = float(unanimous[known].mean()) if known.any() else 0.0
        else:
            values = np.stack([f[f"{task}{PREDICTION}"].to_numpy(float) for f in owners])
            widths = np.stack([(f[f"{task}_upper"] - f[f"{task}_lower"]).to_numpy(float)
                               if f"{task}_upper" in f else np.full(len(f), np.nan)
                               for f in owners])
            widest = np.nanmax(widths) if np.isfinite(widths).any() else 1.0
            weights = 1.0 / np.square(np.where(np.isfinite(widths), widths, widest))
            weights = np.where(np.isnan(values), 0.0, weights)
            total = weights.sum(axis=0)
            label = np.where(total > 0, (weights * np.nan_to_num(values)).sum(axis=0)
                             / np.where(total > 0, total, 1.0), np.nan)
        label[~valid] = np.nan
        table[task] = label
        pooled.labelled[task] = int(np.isfinite(label).sum())
    log.info("pooled %d annotation(s):\n%s", len(frames), pooled.summary())
    return pooled
