"""Readers for the interaction databases: STRING, BioGRID TAB3 and PSI-MI TAB (MITAB) 2.5–2.7.

Each returns an :class:`~molgraph.genes.graph.EdgeList`; rows a filter leaves out (low score,
other organism, other interaction type) are counted in its ``report``, never dropped unseen.
"""

from __future__ import annotations

import logging
import re

from molgraph.genes._io import PathLike, iter_lines, malformed, split_fields
from molgraph.genes.graph import EdgeList

log = logging.getLogger(__name__)

_STRING_ID = re.compile(r"^(\d+)\.(\S+)$")


def read_string_info(path: PathLike) -> dict[str, str]:
    """STRING ``protein.info`` file → ``{"9606.ENSP...": preferred_name}``."""
    names: dict[str, str] = {}
    for number, line in iter_lines(path):
        if not line.strip() or (number == 1 and line.startswith("#")):
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise malformed(path, number, "expected 'string_protein_id<TAB>preferred_name ...'")
        names[fields[0]] = fields[1]
    return names


def read_string(
    path: PathLike,
    info: PathLike | None = None,
    min_score: int = 0,
    organism: int | None = None,
) -> EdgeList:
    """Read ``protein.links[.detailed|.full].v12.0.txt[.gz]`` (space-separated, with a header).

    Args:
        path: the links file; ids are organism-prefixed (``9606.ENSP00000269305``).
        info: the matching ``protein.info`` file; ids are then mapped to preferred names (gene
            symbols). Ids absent from it keep their STRING id and are counted as unmapped.
        min_score: keep edges with ``combined_score >= min_score`` (0–1000; 700 = high
            confidence). Weights are ``combined_score / 1000``.
        organism: NCBI taxon id to keep (e.g. 9606); other rows are counted, not read.
    """
    names = read_string_info(info) if info is not None else None
    edges = EdgeList(report={"rows": 0, "below_min_score": 0, "other_organism": 0})
    score_col = n_cols = None
    unmapped: set[str] = set()
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        fields = line.split()
        if score_col is None:
            if fields[:2] != ["protein1", "protein2"] or "combined_score" not in fields:
                raise malformed(path, number, "expected a header 'protein1 protein2 ... "
                                "combined_score' (a STRING protein.links file)")
            score_col, n_cols = fields.index("combined_score"), len(fields)
            continue
        if len(fields) != n_cols:
            raise malformed(path, number, f"expected {n_cols} fields, found {len(fields)}")
        edges.report["rows"] += 1
        a, b = (_STRING_ID.match(x) for x in fields[:2])
        if a is None or b is None:
            raise malformed(path, number, "protein ids must be organism-prefixed like "
                            f"'9606.ENSP00000269305', found {fields[0]!r} {fields[1]!r}")
        if not fields[score_col].isdigit() or int(fields[score_col]) > 1000:
            raise malformed(path, number, f"combined_score {fields[score_col]!r} is not 0–1000")
        score = int(fields[score_col])
        if organism is not None and (int(a.group(1)) != organism or int(b.group(1)) != organism):
            edges.report["other_organism"] += 1
            continue
        if score < min_score:
            edges.report["below_min_score"] += 1
            continue
        ids = fields[:2]
        if names is not None:
            unmapped.update(x for x in ids if x not in names)
            ids = [names.get(x, x) for x in ids]
        edges.add(ids[0], ids[1], score / 1000.0)
    if score_col is None:
        raise malformed(path, None, "empty file: no STRING header found")
    if names is not None:
        edges.report["unmapped_ids"] = len(unmapped)
        if unmapped:
            log.warning("%s: %d STRING ids are not in %s; kept as STRING ids (e.g. %s)",
                        path, len(unmapped), info, sorted(unmapped)[0])
    return edges


_BIOGRID_IDS = {
    "symbol": "Official Symbol Interactor {}",
    "entrez": "Entrez Gene Interactor {}",
    "biogrid": "BioGRID ID Interactor {}",
    "systematic": "Systematic Name Interactor {}",
}


def read_biogrid(
    path: PathLike,
    id_type: str = "symbol",
    organism: int | None = None,
    interaction_type: str | None = None,
) -> EdgeList:
    """Read a BioGRID TAB3 file (``BIOGRID-ALL-4.4.x.tab3.txt``: a ``#BioGRID Interaction ID``
    header, then one interaction per tab-separated row).

    Args:
        id_type: ``"symbol"`` (official symbol), ``"entrez"``, ``"biogrid"`` or ``"systematic"``.
        organism: taxon id both interactors must have (9606 = human); others are counted.
        interaction_type: ``"physical"`` or ``"genetic"`` to keep only that system type.
    """
    if id_type not in _BIOGRID_IDS:
        raise ValueError(f"id_type must be one of {sorted(_BIOGRID_IDS)}, not {id_type!r}")
    edges = EdgeList(report={"rows": 0, "other_organism": 0, "other_interaction_type": 0})
    columns: dict[str, int] | None = None
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if columns is None:
            if not fields[0].startswith("#BioGRID Interaction ID"):
                raise malformed(path, number, "expected the TAB3 header '#BioGRID Interaction ID"
                                "<TAB>Entrez Gene Interactor A ...'")
            columns = {name.lstrip("#"): i for i, name in enumerate(fields)}
            want = [_BIOGRID_IDS[id_type].format(s) for s in "AB"]
            missing = [c for c in want if c not in columns]
            if missing:
                raise malformed(path, number, f"header lacks column(s) {missing}")
            n_cols = len(fields)
            continue
        if len(fields) != n_cols:
            raise malformed(path, number, f"expected {n_cols} tab-separated fields, "
                            f"found {len(fields)}")
        edges.report["rows"] += 1
        a, b = (fields[columns[c]] for c in want)
        if a in ("", "-") or b in ("", "-"):
            raise malformed(path, number, f"missing {id_type} for an interactor")
        if organism is not None:
            taxa = [fields[columns.get(f"Organism ID Interactor {s}", -1)] for s in "AB"]
            if taxa != [str(organism)] * 2:
                edges.report["other_organism"] += 1
                continue
        if interaction_type is not None:
            kind = fields[columns["Experimental System Type"]]
            if kind.lower() != interaction_type.lower():
                edges.report["other_interaction_type"] += 1
                continue
        edges.add(a, b)
    if columns is None:
        raise malformed(path, None, "empty file: no BioGRID TAB3 header found")
    return edges


_MITAB_COLUMNS = (15, 36, 42)  # MITAB 2.5, 2.6, 2.7
_ENTRY = re.compile(r'^([^:]+):("(?:[^"\\]|\\.)*"|[^()]*)(?:\((.*)\))?$')


def _entries(field: str) -> list[tuple[str, str, str]]:
    """``'uniprotkb:P04637|psi-mi:p53_human(display_long)'`` → ``[(db, value, note), ...]``."""
    if field in ("", "-"):
        return []
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(field):
        if ch == '"' and (i == 0 or field[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and not quoted and depth == 0:
            parts.append(field[start:i])
            start = i + 1
    parts.append(field[start:])
    out = []
    for part in parts:
        match = _ENTRY.match(part.strip())
        if match is None:
            raise ValueError(f"cannot read MITAB entry {part!r} (expected 'database:value')")
        out.append((match.group(1), match.group(2).strip('"'), match.group(3) or ""))
    return out


def read_mitab(
    path: PathLike,
    id_type: str = "gene name",
    organism: int | None = None,
    confidence: str | None = None,
) -> EdgeList:
    """Read PSI-MI TAB 2.5 / 2.6 / 2.7 (15, 36 or 42 tab-separated columns; header optional).

    Args:
        id_type: ``"gene name"`` takes the alias annotated ``(gene name)`` (IntAct, MINT);
            anything else is a database prefix (``"uniprotkb"``, ``"entrez gene/locuslink"``)
            looked up among the ids and alternative ids. Where it is absent the primary id's
            value is used and counted in ``report["fallback_to_primary_id"]``.
        organism: taxon id both interactors must have; other rows are counted.
        confidence: a score name in the confidence column (``"intact-miscore"``) to use as the
            edge weight; rows without it get 1.0.
    """
    edges = EdgeList(report={"rows": 0, "other_organism": 0, "fallback_to_primary_id": 0,
                             "intramolecular": 0})
    n_cols = None
    for number, line in iter_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        fields = split_fields(line, "\t")
        if n_cols is None:
            if len(fields) not in _MITAB_COLUMNS:
                raise malformed(path, number, f"MITAB rows have 15, 36 or 42 tab-separated "
                                f"columns (2.5, 2.6, 2.7), found {len(fields)}")
            n_cols = len(fields)
        if len(fields) != n_cols:
            raise malformed(path, number, f"expected {n_cols} columns, found {len(fields)}")
        edges.report["rows"] += 1
        try:
            ids = [_mitab_id(fields, side, id_type, edges.report) for side in (0, 1)]
            taxa = [{v for _, v, _ in _entries(fields[9 + side])} for side in (0, 1)]
            scores = {db: v for db, v, _ in _entries(fields[14])}
        except ValueError as error:
            raise malformed(path, number, str(error)) from None
        if ids[1] is None:  # MITAB 2.7: interactor B empty = intramolecular interaction
            ids[1] = ids[0]
            edges.report["intramolecular"] += 1
        if organism is not None and {str(organism)} != taxa[0] | (taxa[1] or taxa[0]):
            edges.report["other_organism"] += 1
            continue
        weight = 1.0
        if confidence is not None and confidence in scores:
            try:
                weight = float(scores[confidence])
            except ValueError:
                raise malformed(path, number, f"{confidence} {scores[confidence]!r} is not a "
                                "number") from None
        edges.add(ids[0], ids[1], weight)
    return edges


def _mitab_id(fields: list[str], side: int, id_type: str, report: dict) -> str | None:
    primary = _entries(fields[side])
    if not primary:
        if side == 1:
            return None
        raise ValueError("interactor A has no identifier")
    candidates = primary + _entries(fields[2 + side])
    if id_type == "gene name":
        candidates += _entries(fields[4 + side])
        found = [v for _, v, note in candidates if note == "gene name"]
    else:
        found = [v for db, v, _ in candidates if db == id_type]
    if found:
        return found[0]
    report["fallback_to_primary_id"] += 1
    return primary[0][1]
