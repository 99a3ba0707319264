"""Matching gene identifiers from tables to network nodes, with counts of what did not match.

Networks, feature tables and label lists often use different namespaces (symbols, Entrez,
Ensembl, STRING ids). An :class:`IdMap` translates any alias to the network's namespace; every
lookup returns a :class:`MatchReport`, so unmatched genes are reported, never silently lost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from molgraph.genes._io import PathLike, malformed, read_table

log = logging.getLogger(__name__)

_ENSEMBL_VERSION = re.compile(r"^(ENS[A-Z]*\d+)\.\d+$")


@dataclass
class MatchReport:
    """How the ids of one input file matched the network's genes."""

    source: str
    total: int = 0
    matched: int = 0
    matched_via_id_map: int = 0
    unmatched: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready summary (the first 20 unmatched ids as examples)."""
        return {
            "source": self.source, "total": self.total, "matched": self.matched,
            "matched_via_id_map": self.matched_via_id_map, "unmatched": len(self.unmatched),
            "unmatched_examples": self.unmatched[:20], **self.notes,
        }

    def log(self) -> None:
        """Warn when ids did not match; info otherwise."""
        level = logging.WARNING if self.unmatched else logging.INFO
        log.log(level, "%s: %d of %d gene ids matched the network (%d via the id map), "
                "%d unmatched%s", self.source, self.matched, self.total, self.matched_via_id_map,
                len(self.unmatched),
                f", e.g. {', '.join(self.unmatched[:5])}" if self.unmatched else "")


class IdMap:
    """Alias → canonical gene id (the namespace the network's nodes use).

    Aliases that point to two or more canonical ids are ambiguous: they are left out and counted
    in ``ambiguous``, since guessing would attach data to the wrong gene.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        targets: dict[str, set[str]] = {}
        for alias, canonical in pairs:
            if alias and canonical and alias != "-":
                targets.setdefault(alias, set()).add(canonical)
        self.aliases = {a: next(iter(c)) for a, c in targets.items() if len(c) == 1}
        self.ambiguous = sorted(a for a, c in targets.items() if len(c) > 1)

    def __len__(self) -> int:
        return len(self.aliases)

    def get(self, alias: str) -> str | None:
        return self.aliases.get(alias)

    @classmethod
    def from_table(
        cls, path: PathLike, to: str | None = None, columns: Sequence[str] | None = None
    ) -> IdMap:
        """Read a mapping table (CSV/TSV with a header, one gene per row).

        Args:
            path: e.g. columns ``symbol, entrez_id, ensembl_gene_id, string_id``.
            to: the column in the network's namespace; default the first column.
            columns: alias columns; default every other column. Cells may hold several
                ids separated by ``|`` or ``;``.
        """
        table, _ = read_table(path)
        to = to or table.columns[0]
        columns = list(columns) if columns is not None else [c for c in table if c != to]
        missing = [c for c in [to, *columns] if c not in table.columns]
        if missing:
            raise malformed(path, 1, f"no column(s) {missing}; columns are {list(table.columns)}")
        pairs = [
            (alias.strip(), canonical)
            for column in columns
            for cell, canonical in zip(table[column], table[to])
            for alias in re.split(r"[|;]", cell)
        ]
        return cls(pairs)


def match_genes(
    ids: Sequence[str], index: dict[str, int], id_map: IdMap | None = None, source: str = "input"
) -> tuple[np.ndarray, MatchReport]:
    """Node position of each id (``-1`` where unmatched) and a report.

    Tries the id itself, then the Ensembl id without its ``.version``, then ``id_map``.

    Shapes: returns ``[len(ids)]`` int64 positions.
    """
    report = MatchReport(source=str(source), total=len(ids))
    positions = np.full(len(ids), -1, dtype=np.int64)
    for i, gene in enumerate(ids):
        gene = gene.strip()
        versionless = _ENSEMBL_VERSION.match(gene)
        candidates = [gene, versionless.group(1)] if versionless else [gene]
        pos = next((index[c] for c in candidates if c in index), None)
        if pos is None and id_map is not None:
            mapped = [id_map.get(c) for c in candidates]
            pos = next((index[m] for m in mapped if m is not None and m in index), None)
            report.matched_via_id_map += pos is not None
        if pos is None:
            report.unmatched.append(gene)
        else:
            positions[i] = pos
    report.matched = int((positions >= 0).sum())
    return positions, report
