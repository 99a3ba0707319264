"""Readers for generic network files: plain edge lists, Cytoscape SIF, GraphML and GML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx

from molgraph.genes._io import PathLike, iter_lines, malformed, parse_float, split_fields
from molgraph.genes.graph import EdgeList

# First-row names that mark a two-column edge list's header (compared lower-case, '#' stripped).
HEADER_NAMES = {
    "source", "target", "src", "dst", "from", "to", "node1", "node2", "gene1", "gene2",
    "gene_a", "gene_b", "genea", "geneb", "protein1", "protein2", "interactor_a", "interactor_b",
    "symbol_a", "symbol_b", "a", "b", "u", "v", "id1", "id2", "weight", "score",
}


def _delimiter_for(path: PathLike, first_line: str) -> str | None:
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith(".tsv") or "\t" in first_line:
        return "\t"
    return "," if "," in first_line else None


def read_edgelist(
    path: PathLike, delimiter: str | None = "auto", header: bool | None = None
) -> EdgeList:
    """Read ``gene_a gene_b [weight]`` rows (TSV, CSV or whitespace; ``.gz`` allowed).

    Args:
        delimiter: ``"auto"`` (``.csv`` → comma, ``.tsv`` or a tab → tab, else comma if present,
            else whitespace), ``None`` for whitespace, or the character itself.
        header: whether the first row is a header; ``None`` guesses: a non-numeric third field
            or two well-known names (``source``/``target``, ``gene1``/``gene2`` ...).

    Lines starting with ``#`` are comments. Every row must have the first row's column count
    (2, or 3 with a numeric weight).
    """
    edges = EdgeList(report={"rows": 0})
    n_cols = None
    for number, line in iter_lines(path):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if n_cols is None:
            if delimiter == "auto":
                delimiter = _delimiter_for(path, line)
            fields = split_fields(line, delimiter)
            if len(fields) not in (2, 3):
                raise malformed(path, number, f"expected 2 or 3 columns (gene, gene[, weight]), "
                                f"found {len(fields)}")
            n_cols = len(fields)
            if _is_header(fields) if header is None else header:
                continue
        fields = split_fields(line, delimiter)
        if len(fields) != n_cols:
            raise malformed(path, number, f"expected {n_cols} columns, found {len(fields)}")
        if not fields[0] or not fields[1]:
            raise malformed(path, number, "empty gene id")
        weight = parse_float(fields[2], path, number, "weight") if n_cols == 3 else 1.0
        edges.report["rows"] += 1
        edges.add(fields[0], fields[1], weight)
    return edges


def _is_header(fields: list[str]) -> bool:
    if len(fields) == 3:
        try:
            float(fields[2])
        except ValueError:
            return True
    names = [f.lower().lstrip("#").strip() for f in fields[:2]]
    return all(name in HEADER_NAMES for name in names)


def read_sif(path: PathLike) -> EdgeList:
    """Read Cytoscape SIF: ``node relation node [node ...]``; a lone ``node`` is isolated.

    Tab-separated lines are split on tabs (names may hold spaces), others on whitespace, as
    Cytoscape does. Relation types are counted in ``report`` as ``relation:<type>``.
    """
    edges = EdgeList()
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        fields = split_fields(line, "\t" if "\t" in line else None)
        if any(not f for f in fields):
            raise malformed(path, number, "empty field")
        if len(fields) == 1:
            edges.nodes.append(fields[0])
            continue
        if len(fields) == 2:
            raise malformed(path, number, f"relation {fields[1]!r} has no target node")
        key = f"relation:{fields[1]}"
        edges.report[key] = edges.report.get(key, 0) + len(fields) - 2
        for target in fields[2:]:
            edges.add(fields[0], target)
    return edges


def _node_name(graph: nx.Graph, name: str | None) -> str | None:
    if name is not None:
        return name
    for candidate in ("name", "label"):
        if graph.number_of_nodes() and all(candidate in d for _, d in graph.nodes(data=True)):
            return candidate
    return None


def read_networkx_file(
    path: PathLike, kind: str, name: str | None = None, weight: str = "weight"
) -> tuple[nx.Graph, str | None]:
    """Read GraphML (``kind="graphml"``) or GML (``"gml"``) with networkx.

    Returns the graph and the node attribute holding gene ids: ``name`` if given, else
    ``"name"`` (Cytoscape) or ``"label"`` when every node has it, else ``None`` (node ids).
    Parse errors become ``ValueError``s naming the file and line.
    """
    try:
        if kind == "graphml":
            graph = nx.read_graphml(path)
        elif kind == "gml":
            graph = nx.read_gml(path, label=None)
        else:
            raise ValueError(f"kind must be 'graphml' or 'gml', not {kind!r}")
    except ET.ParseError as error:
        raise malformed(path, error.position[0], str(error)) from None
    except nx.NetworkXError as error:
        at = re.search(r"at \((\d+), (\d+)\)", str(error))
        raise malformed(path, int(at.group(1)) if at else None, str(error)) from None
    for a, b, data in graph.edges(data=True):
        if weight in data:
            try:
                float(data[weight])
            except (TypeError, ValueError):
                raise malformed(path, None, f"edge {a!r}–{b!r}: {weight} {data[weight]!r} is "
                                "not a number") from None
    name = _node_name(graph, name)
    if name is not None:
        lacking = [n for n, d in graph.nodes(data=True) if name not in d]
        if lacking:
            raise malformed(path, None, f"node {lacking[0]!r} has no {name!r} attribute")
    return graph, name
