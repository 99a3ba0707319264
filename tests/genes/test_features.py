"""Feature tables, structural features, GO multi-hot and id matching."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from molgraph.genes import (
    IdMap,
    go_features,
    match_genes,
    read_feature_table,
    read_go_annotations,
    stack_features,
    structural_features,
)


def test_feature_table_aligned_standardized_and_unmatched_counted(tiny_graph, genes_dir):
    block = read_feature_table(genes_dir / "omics.tsv", tiny_graph)
    assert block.values.shape == (43, 3)
    assert block.columns[0] == "omics:nonsilent_mutation_rate"
    assert block.match.unmatched == ["APC"] and block.match.matched == 43
    assert np.allclose(block.values.mean(0), 0, atol=1e-6)
    tp53, krt1 = tiny_graph.index["TP53"], tiny_graph.index["KRT1"]
    assert block.values[tp53, 0] > block.values[krt1, 0]
    assert block.values[tiny_graph.index["E2F1"], 1] == 0  # empty cell → column mean


def test_feature_table_missing_genes_get_indicator(tiny_graph, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("gene,score\nTP53,2.0\nKRAS,1.0\n")
    block = read_feature_table(path, tiny_graph)
    assert block.columns == ["f:score", "missing:f"]
    assert block.values[tiny_graph.index["TP53"], 1] == 0
    assert block.values[tiny_graph.index["EGFR"], 1] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gene,score\nTP53,2.0\nKRAS,high\n", "f.csv, line 3: score 'high' is not a number"),
        ("gene,score\nTP53,2.0\n\nTP53,1.0\n", "f.csv, line 4: gene 'TP53' listed twice"),
        ("gene,score,other\nTP53,2.0,1\nKRAS,1.0\n", "f.csv, line 3: expected 3 fields"),
        ("gene,score\nTP53,2.0,7\n", r"f.csv, line 2: expected 2 fields .*found 3"),
    ],
)
def test_feature_table_malformed(tiny_graph, tmp_path, text, message):
    path = tmp_path / "f.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_feature_table(path, tiny_graph)


def test_structural_features(tiny_graph):
    block = structural_features(tiny_graph)
    assert block.values.shape == (43, 5) and np.isfinite(block.values).all()
    degree = dict(zip(tiny_graph.genes, block.values[:, 0]))
    assert degree["TP53"] > degree["HBB"]  # 5 neighbours vs 1
    raw = structural_features(tiny_graph, which=("degree", "clustering"), standardize=False)
    assert raw.values[tiny_graph.index["TP53"], 0] == pytest.approx(np.log1p(5))
    assert raw.values[tiny_graph.index["HBB"], 1] == 0
    with pytest.raises(ValueError, match="unknown structural"):
        structural_features(tiny_graph, which=("betweenness",))


def test_go_multi_hot_keeps_informative_terms(tiny_graph, genes_dir):
    block = go_features(tiny_graph, genes_dir / "gene2go_excerpt.tsv", min_genes=2,
                        max_fraction=0.5)
    assert sp.issparse(block.values) and block.values.shape == (43, len(block.columns))
    assert "GO:0005515" not in block.columns  # protein binding: 41 of 43 genes, too general
    assert "GO:0008150" not in block.columns  # evidence ND
    assert "GO:0000165" in block.columns
    row = block.values[tiny_graph.index["KRAS"]].toarray().ravel()
    assert row[block.columns.index("GO:0000165")] == 1
    assert row[block.columns.index("GO:0005833")] == 0
    strict = go_features(tiny_graph, genes_dir / "gene2go_excerpt.tsv", min_genes=3,
                         max_fraction=0.5)
    assert "GO:0005882" not in strict.columns  # intermediate filament: only 2 genes


def test_gaf_reader_drops_not_annotations(genes_dir):
    table = read_go_annotations(genes_dir / "goa_human_excerpt.gaf")
    assert len(table) == 7
    assert not ((table.gene == "BRAF") & (table.go_id == "GO:0006977")).any()
    assert set(table.ontology) == {"BP", "MF", "CC"}


def test_go_ids_checked(tmp_path):
    path = tmp_path / "go.tsv"
    path.write_text("symbol\tgo_id\nTP53\tGO:0006977\nKRAS\tMAPK cascade\n")
    with pytest.raises(ValueError, match="go.tsv, line 3: 'MAPK cascade' is not a GO id"):
        read_go_annotations(path)


def test_id_map_matches_entrez_ensembl_and_uniprot(tiny_graph, genes_dir):
    id_map = IdMap.from_table(genes_dir / "id_map.tsv", to="symbol")
    ids = ["7157", "ENSG00000133703.14", "P15056", "TP53", "999999", "ENSG00000000000"]
    positions, report = match_genes(ids, tiny_graph.index, id_map, source="ids")
    assert [tiny_graph.genes[p] for p in positions[:4]] == ["TP53", "KRAS", "BRAF", "TP53"]
    assert positions[4:].tolist() == [-1, -1]
    assert report.matched == 4 and report.matched_via_id_map == 3
    assert report.as_dict()["unmatched"] == 2
    assert report.as_dict()["unmatched_examples"] == ["999999", "ENSG00000000000"]


def test_id_map_drops_ambiguous_aliases():
    id_map = IdMap([("P53", "TP53"), ("ALIAS1", "GENEA"), ("ALIAS1", "GENEB")])
    assert id_map.get("P53") == "TP53" and id_map.get("ALIAS1") is None
    assert id_map.ambiguous == ["ALIAS1"]


def test_features_via_id_map(tiny_graph, genes_dir, tmp_path):
    path = tmp_path / "entrez.tsv"
    path.write_text("entrez\tscore\n7157\t3.0\n3845\t1.0\n1\t0.0\n")
    id_map = IdMap.from_table(genes_dir / "id_map.tsv")
    block = read_feature_table(path, tiny_graph, id_map=id_map)
    assert block.match.matched_via_id_map == 2 and block.match.unmatched == ["1"]


def test_stack_features(tiny_graph, genes_dir):
    blocks = [structural_features(tiny_graph),
              go_features(tiny_graph, genes_dir / "gene2go_excerpt.tsv", 2, 0.5)]
    x, names = stack_features(blocks, tiny_graph.num_genes)
    assert x.shape == (43, 5 + len(blocks[1].columns)) and len(names) == x.shape[1]
    assert x.dtype == np.float32
    x, names = stack_features([], 4)
    assert names == ["constant"] and x.toarray().tolist() == [[1.0]] * 4
