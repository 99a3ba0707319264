"""STRING, BioGRID TAB3 and MITAB readers on hand-written excerpts, and their error messages."""

from __future__ import annotations

import gzip

import pytest

from molgraph.genes import read_network
from molgraph.genes.parsers.ppi import read_biogrid, read_mitab, read_string


def test_string_maps_ids_through_protein_info_and_thresholds(genes_dir):
    graph = read_network(genes_dir / "9606.protein.links.v12.0.txt.gz", "string",
                         info=genes_dir / "9606.protein.info.v12.0.txt", min_score=700)
    edges = graph.to_networkx()
    assert edges["TP53"]["MDM2"]["weight"] == pytest.approx(0.999)
    assert not edges.has_edge("TP53", "EGFR")  # combined_score 431 < 700
    assert graph.report["below_min_score"] == 4  # both directions of two edges
    assert graph.report["duplicate_edges_merged"] == 7  # STRING lists every edge twice
    assert graph.num_edges == 7


def test_string_keeps_and_counts_ids_missing_from_info(genes_dir):
    graph = read_network(genes_dir / "9606.protein.links.v12.0.txt", "string",
                         info=genes_dir / "9606.protein.info.v12.0.txt")
    assert "9606.ENSP00000499999" in graph.genes
    assert graph.report["unmapped_ids"] == 1


@pytest.mark.parametrize("name", ["detailed", "full"])
def test_string_detailed_and_full_layouts(genes_dir, name):
    edges = read_string(genes_dir / f"9606.protein.links.{name}.v12.0.txt")
    assert edges.src[0] == "9606.ENSP00000269305" and edges.weight[0] == pytest.approx(0.999)


def test_string_organism_filter_counts_rows(genes_dir):
    edges = read_string(genes_dir / "9606.protein.links.v12.0.txt", organism=10090)
    assert edges.src == [] and edges.report["other_organism"] == 18


def test_string_malformed_lines_name_file_and_line(tmp_path):
    path = tmp_path / "links.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("protein1 protein2 combined_score\n"
                     "9606.ENSP00000269305 9606.ENSP00000258149 999\n"
                     "ENSP00000269305 9606.ENSP00000258149 999\n")
    with pytest.raises(ValueError, match=r"links.txt.gz, line 3: .*organism-prefixed"):
        read_string(path)
    path.write_bytes(b"protein1 protein2 combined_score\n9606.A 9606.B high\n")
    with pytest.raises(ValueError, match="line 2: combined_score 'high'"):
        read_string(path)
    path.write_bytes(b"9606.A 9606.B 900\n")
    with pytest.raises(ValueError, match="line 1: expected a header"):
        read_string(path)


def test_biogrid_tab3(genes_dir):
    path = genes_dir / "BIOGRID-excerpt-4.4.tab3.txt"
    graph = read_network(path, "biogrid", organism=9606)
    assert graph.report["other_organism"] == 1  # the mouse Trp53-Mdm2 row
    assert graph.report["self_loops_dropped"] == 1  # TP53-TP53
    assert graph.report["duplicate_edges_merged"] == 1  # MDM2-TP53 after TP53-MDM2
    assert {"MAP2K4", "FLNC", "TP53", "MDM2"} <= set(graph.genes)
    physical = read_biogrid(path, organism=9606, interaction_type="physical")
    assert physical.report["other_interaction_type"] == 1  # KRAS-PIK3CA synthetic lethality
    entrez = read_biogrid(path, id_type="entrez")
    assert (entrez.src[0], entrez.dst[0]) == ("6416", "2318")


def test_biogrid_wrong_column_count(tmp_path, genes_dir):
    lines = (genes_dir / "BIOGRID-excerpt-4.4.tab3.txt").read_text().splitlines()
    lines[3] = "\t".join(lines[3].split("\t")[:10])
    path = tmp_path / "bad.tab3.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"bad.tab3.txt, line 4: expected 36 tab-separated"):
        read_biogrid(path)


def test_mitab25_gene_names_scores_and_fallback(genes_dir):
    edges = read_mitab(genes_dir / "intact-excerpt.mitab25.txt", confidence="intact-miscore",
                       organism=9606)
    assert (edges.src[0], edges.dst[0], edges.weight[0]) == ("TP53", "MDM2", 0.87)
    assert ("P38398", "Q99728") in zip(edges.src, edges.dst)  # BRCA1-BARD1: no gene name
    assert edges.report["fallback_to_primary_id"] == 2
    assert edges.report["other_organism"] == 1
    uniprot = read_mitab(genes_dir / "intact-excerpt.mitab25.txt", id_type="uniprotkb")
    assert (uniprot.src[0], uniprot.dst[0]) == ("P04637", "Q00987")


def test_mitab27_intramolecular_row(genes_dir):
    graph = read_network(genes_dir / "intact-excerpt.mitab27.txt", "mitab", self_loops="keep")
    assert graph.report["intramolecular"] == 1
    assert graph.to_networkx().has_edge("TP53", "TP53")


def test_mitab_bad_rows(tmp_path):
    path = tmp_path / "bad.mitab"
    path.write_text("uniprotkb:P04637\tuniprotkb:Q00987\t-\n")
    with pytest.raises(ValueError, match="line 1: MITAB rows have 15, 36 or 42"):
        read_mitab(path)
    row = ["uniprotkb:P04637", "uniprotkb:Q00987"] + ["-"] * 13
    bad = list(row)
    bad[0] = "P04637"  # no database prefix
    path.write_text("\t".join(row) + "\n" + "\t".join(bad) + "\n")
    with pytest.raises(ValueError, match="bad.mitab, line 2: .*database:value"):
        read_mitab(path)
