"""Edge lists, SIF, GraphML and GML readers."""

from __future__ import annotations

import pytest

from molgraph.genes import read_network
from molgraph.genes.parsers.plain import read_edgelist, read_sif


def test_edgelist_with_header_and_weights(genes_dir):
    edges = read_edgelist(genes_dir / "network.tsv")
    assert (edges.src[0], edges.dst[0], edges.weight[0]) == ("EGFR", "GRB2", 0.999)
    assert edges.report["rows"] == 51


def test_edgelist_without_header(genes_dir):
    edges = read_edgelist(genes_dir / "network_noheader.tsv")
    assert (edges.src[0], edges.dst[0], edges.weight[0]) == ("TP53", "MDM2", 1.0)
    assert len(edges.src) == 5


def test_edgelist_csv_and_forced_header(genes_dir, tmp_path):
    assert read_edgelist(genes_dir / "network.csv").src[0] == "TP53"
    path = tmp_path / "pairs.txt"
    path.write_text("left right\nTP53 MDM2\n")  # names not in the known header list
    assert read_edgelist(path).src == ["left", "TP53"]
    assert read_edgelist(path, header=True).src == ["TP53"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\tb\t0.5\nc\td\n", "line 2: expected 3 columns, found 2"),
        ("a\tb\t0.5\nc\td\tstrong\n", "line 2: weight 'strong' is not a number"),
        ("a\tb\nc\t\n", "line 2: empty gene id"),
        ("a\tb\tc\td\n", "line 1: expected 2 or 3 columns"),
        ("# comment\n\na\tb\t1\nc\td\tnan\n", "line 4: weight 'nan' is not a finite number"),
    ],
)
def test_edgelist_malformed(tmp_path, text, message):
    path = tmp_path / "edges.tsv"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"edges.tsv, {message}"):
        read_edgelist(path)


def test_sif_relations_multiple_targets_and_isolated_nodes(genes_dir):
    edges = read_sif(genes_dir / "network.sif")
    assert edges.nodes == ["OR1A1"]
    assert edges.report["relation:pp"] == 12 and edges.report["relation:pd"] == 1
    graph = read_network(genes_dir / "network.sif", "sif")
    assert "OR1A1" in graph.genes and graph.degree()[graph.index["OR1A1"]] == 0
    assert graph.to_networkx().has_edge("TP53", "ATM")


def test_sif_relation_without_target(tmp_path):
    path = tmp_path / "net.sif"
    path.write_text("TP53 pp MDM2\nKRAS pp\n")
    with pytest.raises(ValueError, match="net.sif, line 2: relation 'pp' has no target"):
        read_sif(path)


def test_graphml_uses_name_attribute_and_weights(genes_dir):
    graph = read_network(genes_dir / "network.graphml", "graphml")
    assert graph.genes[:3] == ["TP53", "MDM2", "CDKN1A"]
    assert "OR1A1" in graph.genes  # isolated node kept
    assert graph.report["duplicate_edges_merged"] == 1
    assert graph.to_networkx()["TP53"]["MDM2"]["weight"] == pytest.approx(0.999)  # max kept


def test_gml_uses_labels(genes_dir):
    graph = read_network(genes_dir / "network.gml", "gml")
    assert graph.genes == ["TP53", "MDM2", "CDKN1A", "KRAS", "BRAF"]
    assert graph.num_edges == 3


def test_graphml_and_gml_parse_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.graphml"
    path.write_text('<graphml><graph edgedefault="undirected">\n<node id="a"/>\n<node id="b">\n'
                    "</graph></graphml>\n")
    with pytest.raises(ValueError, match=r"bad.graphml, line 4"):
        read_network(path, "graphml")
    path = tmp_path / "bad.gml"
    path.write_text('graph [\n  node [ id 0 label "A" ]\n  node [ id 1 label "B"\n]\n')
    with pytest.raises(ValueError, match=r"bad.gml, line \d+"):
        read_network(path, "gml")


def test_unknown_format_and_option(genes_dir):
    with pytest.raises(ValueError, match="unknown network format 'xml'"):
        read_network(genes_dir / "network.tsv", "xml")
    with pytest.raises(ValueError, match="takes no option"):
        read_network(genes_dir / "network.tsv", "edgelist", min_score=3)
