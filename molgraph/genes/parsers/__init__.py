"""``read_network``: any supported interaction file → one :class:`GeneGraph`.

One entry point keyed by a plain format string, so the CLI and Python users pick a reader the
same way; format-specific options pass through as keywords.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

from molgraph.genes._io import PathLike
from molgraph.genes.graph import EdgeList, GeneGraph
from molgraph.genes.parsers.plain import read_edgelist, read_networkx_file, read_sif
from molgraph.genes.parsers.ppi import read_biogrid, read_mitab, read_string

log = logging.getLogger(__name__)

READERS: dict[str, Callable[..., EdgeList]] = {
    "string": read_string,
    "biogrid": read_biogrid,
    "mitab": read_mitab,
    "sif": read_sif,
    "edgelist": read_edgelist,
}
FORMATS = (*READERS, "graphml", "gml")


def read_network(
    path: PathLike,
    format: str,
    self_loops: str = "drop",
    largest_component: bool = False,
    **options,
) -> GeneGraph:
    """Read an interaction network into an undirected, de-duplicated :class:`GeneGraph`.

    Args:
        path: the network file (``.gz`` allowed for the text formats).
        format: one of ``FORMATS``: ``string``, ``biogrid``, ``mitab``, ``sif``, ``edgelist``,
            ``graphml``, ``gml``.
        self_loops: ``"drop"`` (counted in ``report``) or ``"keep"``.
        largest_component: keep only the largest connected component.
        **options: the reader's own options, e.g. ``info=`` and ``min_score=`` for STRING,
            ``organism=`` for BioGRID and MITAB, ``header=`` for edge lists, ``name=`` for
            GraphML/GML (see each ``read_*`` function).

    Raises:
        ValueError: unknown format or option, or a malformed line (the message names the file
            and line number).
    """
    if format in ("graphml", "gml"):
        graph, name = read_networkx_file(path, format, **options)
        weight = options.get("weight", "weight")
        result = GeneGraph.from_networkx(
            graph, weight=weight, name=name, self_loops=self_loops,
            largest_component=largest_component,
        )
    elif format in READERS:
        reader = READERS[format]
        unknown = set(options) - set(inspect.signature(reader).parameters)
        if unknown:
            raise ValueError(f"format {format!r} takes no option(s) {sorted(unknown)}")
        edges = reader(path, **options)
        result = GeneGraph.from_edges(edges, self_loops, largest_component)
    else:
        raise ValueError(f"unknown network format {format!r}; choose from {', '.join(FORMATS)}")
    log.info("%s: %d genes, %d edges (%s)", path, result.num_genes, result.num_edges,
             ", ".join(f"{k}={v}" for k, v in result.report.items() if v))
    return result
