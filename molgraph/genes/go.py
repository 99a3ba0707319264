"""Gene Ontology annotations → multi-hot node features over the informative terms.

Very general terms (``biological_process``) say nothing and very rare ones cannot generalise,
so a term becomes a feature only if it annotates at least ``min_genes`` network genes and at
most ``max_fraction`` of them. Negated (``NOT``) annotations are never used as positives.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from molgraph.genes._io import PathLike, iter_lines, malformed, open_text, read_table
from molgraph.genes.features import FeatureBlock
from molgraph.genes.graph import GeneGraph
from molgraph.genes.idmap import IdMap, match_genes

log = logging.getLogger(__name__)

_GO_ID = re.compile(r"^GO:\d{7}$")
_GENE_COLUMNS = ("symbol", "gene_symbol", "Symbol", "gene", "GeneID", "entrez_id", "gene_id")
_GO_COLUMNS = ("go_id", "GO_ID", "go", "GO", "go_term")
_ASPECTS = {"P": "BP", "F": "MF", "C": "CC", "Process": "BP", "Function": "MF",
            "Component": "CC"}


def read_go_annotations(path: PathLike, gene_column: str | None = None) -> pd.DataFrame:
    """Read GO annotations as a table ``gene, go_id, evidence, ontology`` (one row each).

    Understands GAF 2.x (``goa_human.gaf``, ``!`` comments, symbol in column 3), NCBI
    ``gene2go`` (``#tax_id GeneID GO_ID Evidence Qualifier ...``) and any CSV/TSV with a gene
    column and a ``go_id`` column (e.g. Bioconductor ``org.Hs.eg.db`` exports).
    ``NOT``-qualified rows are dropped and their number logged.
    """
    with open_text(path) as handle:
        gaf = handle.read(1) == "!"
    if gaf or str(path).endswith((".gaf", ".gaf.gz")):
        return _read_gaf(path)
    table, lines = read_table(path)
    gene_column = gene_column or next((c for c in _GENE_COLUMNS if c in table), table.columns[0])
    go_column = next((c for c in _GO_COLUMNS if c in table), None)
    if go_column is None or gene_column not in table:
        raise malformed(path, 1, f"need a gene column and a GO id column ({_GO_COLUMNS}); "
                        f"columns are {list(table.columns)}")
    bad = ~table[go_column].str.match(_GO_ID.pattern)
    if bad.any():
        first = int(np.argmax(bad.to_numpy()))
        raise malformed(path, int(lines[first]), f"{table[go_column].iloc[first]!r} is not a "
                        "GO id like GO:0008150")
    negated = table["Qualifier"].str.contains("NOT") if "Qualifier" in table else False
    ontology = next((table[c] for c in ("ontology", "Category") if c in table), None)
    out = pd.DataFrame({
        "gene": table[gene_column].str.strip(),
        "go_id": table[go_column],
        "evidence": table.get("evidence", table.get("Evidence", "")),
        "ontology": ontology.map(lambda x: _ASPECTS.get(x, x)) if ontology is not None else "",
    })
    return _without_negated(out, negated, path)


def _read_gaf(path: PathLike) -> pd.DataFrame:
    rows, negated = [], []
    for number, line in iter_lines(path):
        if not line.strip() or line.startswith("!"):
            continue
        fields = line.split("\t")
        if len(fields) < 15:
            raise malformed(path, number, f"GAF rows have 15–17 columns, found {len(fields)}")
        if not _GO_ID.match(fields[4]):
            raise malformed(path, number, f"{fields[4]!r} is not a GO id")
        rows.append((fields[2], fields[4], fields[6], _ASPECTS.get(fields[8], fields[8])))
        negated.append("NOT" in fields[3].split("|"))
    out = pd.DataFrame(rows, columns=["gene", "go_id", "evidence", "ontology"])
    return _without_negated(out, np.array(negated, dtype=bool), path)


def _without_negated(table: pd.DataFrame, negated, path: PathLike) -> pd.DataFrame:
    negated = np.asarray(negated, dtype=bool) if not isinstance(negated, bool) else negated
    if np.any(negated):
        log.info("%s: %d NOT-qualified annotations left out", path, int(np.sum(negated)))
        table = table[~negated]
    return table.reset_index(drop=True)


def go_features(
    graph: GeneGraph,
    annotations: pd.DataFrame | PathLike,
    min_genes: int = 10,
    max_fraction: float = 0.05,
    exclude_evidence: tuple[str, ...] = ("ND",),
    ontologies: tuple[str, ...] | None = None,
    id_map: IdMap | None = None,
) -> FeatureBlock:
    """Multi-hot matrix of informative GO terms, ``[num_genes, n_terms]`` sparse CSR.

    Args:
        annotations: a table from :func:`read_go_annotations` or a path to one.
        min_genes: a term must annotate at least this many network genes.
        max_fraction: ... and at most this fraction of them.
        exclude_evidence: evidence codes to ignore (``ND`` = no biological data).
        ontologies: subset of ``("BP", "MF", "CC")``; ``None`` = all.
        id_map: translates the annotation's gene ids to the network's.
    """
    source = "GO annotations"
    if not isinstance(annotations, pd.DataFrame):
        source = str(annotations)
        annotations = read_go_annotations(annotations)
    table = annotations[~annotations["evidence"].isin(exclude_evidence)]
    if ontologies is not None:
        table = table[table["ontology"].isin(ontologies)]
    genes = table["gene"].unique()
    positions, report = match_genes(list(genes), graph.index, id_map, source=source)
    report.log()
    node = dict(zip(genes, positions))
    table = table.assign(node=table["gene"].map(node))
    table = table[table["node"] >= 0].drop_duplicates(["node", "go_id"])
    counts = table["go_id"].value_counts()
    terms = sorted(counts[(counts >= min_genes) & (counts <= max_fraction * graph.num_genes)].index)
    log.info("GO: %d informative terms of %d (annotating %d–%d genes)", len(terms), len(counts),
             min_genes, int(max_fraction * graph.num_genes))
    column = {term: j for j, term in enumerate(terms)}
    table = table[table["go_id"].isin(column)]
    values = sp.csr_matrix(
        (np.ones(len(table), dtype=np.float32),
         (table["node"].to_numpy(), table["go_id"].map(column).to_numpy())),
        shape=(graph.num_genes, len(terms)),
    )
    annotated = np.asarray(values.sum(axis=1)).ravel() > 0
    log.info("GO: %d of %d network genes carry an informative term", int(annotated.sum()),
             graph.num_genes)
    return FeatureBlock("go", values, terms, report)
