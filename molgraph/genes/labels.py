"""Node labels from a table or from positive/negative gene lists, and whether they can be
learned.

Labels cover only some genes; the rest stay in the graph unlabelled (NaN) and still pass
messages. Binary, multi-class and multi-label tasks share one array layout. Before any fold is
made, :func:`check_learnable` refuses inputs that match no gene of the network and labels that
leave one class, saying what matched and what did not (``molgraph.data.labels`` decides).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from molgraph.data.labels import label_kind, one_class_columns, one_class_text
from molgraph.genes._io import PathLike, iter_lines, malformed, read_table
from molgraph.genes.graph import GeneGraph
from molgraph.genes.idmap import IdMap, MatchReport, match_genes

TASKS = ("binary", "multiclass", "multilabel")
_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}


@dataclass
class NodeLabels:
    """Labels aligned to ``graph.genes``.

    Attributes:
        y: ``[num_genes, n_tasks]`` float, NaN = unlabelled. Binary and multi-label: 0/1 per
            task. Multi-class: one column holding the class position in ``names``.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        names: task names (binary, multi-label) or class names (multi-class).
        matches: how each source file's gene ids matched the network.
    """

    y: np.ndarray
    task: str
    names: list[str]
    matches: list[MatchReport] = field(default_factory=list)

    @property
    def labelled(self) -> np.ndarray:
        """``[num_genes]`` bool: genes with at least one label."""
        return ~np.isnan(self.y).all(axis=1)

    @property
    def num_outputs(self) -> int:
        """Model outputs needed: one per task, or one per class for multi-class."""
        return len(self.names)

    def stratify_key(self) -> np.ndarray:
        """One integer per gene for stratified splitting (first task; -1 = unlabelled)."""
        first = self.y[:, 0]
        return np.where(np.isnan(first), -1, np.nan_to_num(first)).astype(np.int64)


def _binary(value: str) -> float | None:
    value = value.strip().lower()
    return 1.0 if value in _TRUE else 0.0 if value in _FALSE else None


def read_label_table(
    path: PathLike,
    graph: GeneGraph,
    gene_column: str | None = None,
    label_columns: Sequence[str] | None = None,
    task: str | None = None,
    id_map: IdMap | None = None,
) -> NodeLabels:
    """Read labels from a CSV/TSV, one gene per row; an empty cell = unlabelled.

    Args:
        gene_column: default the first column.
        label_columns: default ``["label"]`` if present, else every other column.
        task: default inferred: one 0/1 column → binary, one column of other values →
            multi-class, several 0/1 columns → multi-label.
        id_map: translates the table's ids to the network's.

    Raises:
        ValueError: naming the line of a bad value, or of a gene given two different labels.
    """
    table, lines = read_table(path)
    gene_column = gene_column or table.columns[0]
    if label_columns is None:
        label_columns = ["label"] if "label" in table else [c for c in table if c != gene_column]
    missing = [c for c in [gene_column, *label_columns] if c not in table]
    if missing or not label_columns:
        raise malformed(path, 1, f"no column(s) {missing or 'for labels'}; columns are "
                        f"{list(table.columns)}")
    cells = table[list(label_columns)].apply(lambda c: c.str.strip())
    binary_cells = cells.apply(lambda c: c.str.lower().isin(_TRUE | _FALSE | {""}))
    is_binary = binary_cells.all().all()
    if task is None and not is_binary and _mostly_binary(cells, binary_cells):
        i, column = next((i, c) for c in label_columns
                         for i in np.flatnonzero(~binary_cells[c].to_numpy()))
        raise malformed(path, int(lines[i]), f"{column} {cells[column].iloc[i]!r} is not 0/1 "
                        "like the other labels; fix it, or pass --task multiclass if these "
                        "are class names")
    if task is None and not is_binary:
        _refuse_continuous(cells, label_columns, lines, path)
    task = task or ("multilabel" if len(label_columns) > 1 else
                    "binary" if is_binary else "multiclass")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    if task == "multiclass":
        if len(label_columns) != 1:
            raise ValueError("a multi-class task takes exactly one label column")
        names = sorted(set(cells.iloc[:, 0]) - {""}, key=_natural)
        position = {name: float(i) for i, name in enumerate(names)}
        values = cells.iloc[:, 0].map(lambda v: position.get(v, np.nan)).to_numpy()[:, None]
    else:
        names = list(label_columns)
        values = np.full(cells.shape, np.nan)
        for j, column in enumerate(label_columns):
            for i, cell in enumerate(cells[column]):
                if cell and (value := _binary(cell)) is None:
                    raise malformed(path, int(lines[i]), f"{column} {cell!r} is not 0/1 "
                                    "(use task='multiclass' for class names)")
                values[i, j] = np.nan if not cell else value
    positions, report = match_genes(list(table[gene_column]), graph.index, id_map, str(path))
    report.log()
    y = np.full((graph.num_genes, values.shape[1]), np.nan)
    for row in np.flatnonzero(positions >= 0):
        node = positions[row]
        old = y[node]
        if not np.isnan(old).all() and not np.array_equal(old, values[row], equal_nan=True):
            raise malformed(path, int(lines[row]), f"gene {table[gene_column].iloc[row]!r} "
                            "already has a different label")
        y[node] = values[row]
    return NodeLabels(y, task, names, [report])


def _refuse_continuous(cells, label_columns: Sequence[str], lines: np.ndarray,
                       path: PathLike) -> None:
    """Measured values (0.1, 0.8) are no classes: refuse them rather than make each a class."""
    for column in label_columns:
        filled = cells[column][cells[column] != ""]
        numbers = np.asarray([_natural(v)[1] for v in filled]) if all(
            _natural(v)[0] == 0 for v in filled) else None
        if numbers is not None and len(numbers) and label_kind(numbers) == "continuous":
            i = int(np.flatnonzero(np.mod(numbers, 1) != 0)[0])
            raise malformed(path, int(lines[filled.index[i]]), f"{column} {filled.iloc[i]!r}: "
                            "the labels look continuous; gene models classify: binarise them "
                            "with a threshold (1 where the value passes it, else 0), or pass "
                            "--task multiclass if these numbers name classes")


def _mostly_binary(cells, binary_cells) -> bool:
    """Labels that are 0/1 but for a few words (``maybe``, ``?``): a typo, not class names."""
    others = set(cells.to_numpy()[~binary_cells.to_numpy()].ravel())
    return binary_cells.to_numpy().sum() > 0 and len(others) <= 2 and \
        not any(_natural(v)[0] == 0 for v in others) and \
        (~binary_cells.to_numpy()).sum() < 0.1 * binary_cells.size


def _natural(name: str) -> tuple:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def read_gene_list(path: PathLike) -> list[tuple[int, str]]:
    """One gene id per line (``#`` comments and blank lines skipped) → ``[(line, gene)]``."""
    out = []
    for number, line in iter_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if len(text.split()) != 1:
            raise malformed(path, number, f"expected one gene id per line, found {text!r}")
        out.append((number, text))
    return out


def labels_from_lists(
    graph: GeneGraph,
    positives: PathLike,
    negatives: PathLike,
    id_map: IdMap | None = None,
    name: str = "label",
) -> NodeLabels:
    """Binary labels from a positive and a negative gene list (e.g. drivers / non-drivers).

    A gene in both lists raises, naming both files and lines: which label is right is the
    user's call, not ours.
    """
    y = np.full((graph.num_genes, 1), np.nan)
    seen: dict[int, tuple[PathLike, int]] = {}
    reports = []
    for path, value in ((negatives, 0.0), (positives, 1.0)):
        rows = read_gene_list(path)
        positions, report = match_genes([g for _, g in rows], graph.index, id_map, str(path))
        report.log()
        reports.append(report)
        for (number, gene), node in zip(rows, positions):
            if node < 0:
                continue
            if node in seen and y[node, 0] != value:
                other, other_line = seen[node]
                raise malformed(path, number, f"gene {gene!r} is also in {other}, line "
                                f"{other_line}: it cannot be both positive and negative")
            seen[node] = (path, number)
            y[node, 0] = value
    return NodeLabels(y, "binary", [name], reports[::-1])


def _matched(matches: Sequence[MatchReport]) -> str:
    """``labels.csv: 24 of 25 gene ids in the network (unmatched e.g. APC)`` per input."""
    return "; ".join(f"{m.source}: {m.matched} of {m.total} gene ids in the network"
                     + (f" (unmatched e.g. {', '.join(m.unmatched[:3])})" if m.unmatched else "")
                     for m in matches)


def check_learnable(labels: NodeLabels, graph: GeneGraph, matches: Sequence[MatchReport],
                    network: str) -> None:
    """Refuse, before any fold is made, an empty network, an input file none of whose genes is
    in it, and labels that leave a task with one class among the network's genes.

    Args:
        matches: how every input file (features, labels) matched the network.
        network: the network file, as messages name it.
    """
    if graph.num_genes == 0:
        counts = ", ".join(f"{k}={v}" for k, v in graph.report.items()) or "nothing read"
        raise ValueError(f"{network}: the network has no genes ({counts}); "
                         "check the file, --format and the reader options (e.g. --min-score)")
    example = ", ".join(graph.genes[:3])
    for m in matches:
        if m.total and not m.matched:
            raise ValueError(f"{m.source}: none of its {m.total} gene ids is in the network "
                             f"{network} (its ids look like {', '.join(m.unmatched[:3])}; the "
                             f"network's like {example}): give ids in the network's namespace, "
                             "or a table that maps them (--id-map)")
    known = labels.y[labels.labelled]
    if labels.task == "multiclass":
        classes = [labels.names[int(c)] for c in np.unique(known)]
        what = f"there is only the class {classes[0]!r}" if len(classes) == 1 else ""
    else:
        what = one_class_text(one_class_columns(known, labels.names))
    if what or not len(known):
        raise ValueError(f"{_matched(labels.matches)}; among the {len(known)} labelled genes in "
                         f"the network {what or 'there is no label'}: a gene model needs genes "
                         "of two classes in every task; label genes of the other class (e.g. "
                         "a negatives list), or map the unmatched ids (--id-map)")
