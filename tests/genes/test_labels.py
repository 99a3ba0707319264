"""Labels from tables and gene lists; unlabelled genes stay; conflicts raise with line numbers."""

from __future__ import annotations

import numpy as np
import pytest

from molgraph.genes import IdMap, labels_from_lists, read_label_table


def test_positive_negative_lists(tiny_graph, genes_dir):
    labels = labels_from_lists(tiny_graph, genes_dir / "positives.txt",
                               genes_dir / "negatives.txt")
    assert labels.task == "binary" and labels.y.shape == (43, 1)
    assert labels.labelled.sum() == 23  # 20 genes stay unlabelled but in the graph
    assert labels.y[tiny_graph.index["TP53"], 0] == 1 and labels.y[tiny_graph.index["HBB"], 0] == 0
    assert np.isnan(labels.y[tiny_graph.index["GRB2"], 0])
    unmatched = {m.source.split("/")[-1]: m.unmatched for m in labels.matches}
    assert unmatched == {"positives.txt": ["APC"], "negatives.txt": ["OR2B6"]}


def test_gene_in_both_lists_raises(tiny_graph, tmp_path):
    (tmp_path / "pos.txt").write_text("TP53\nKRAS\n")
    (tmp_path / "neg.txt").write_text("HBB\n\nKRAS\n")
    with pytest.raises(ValueError, match=r"pos.txt, line 2: gene 'KRAS' is also in .*neg.txt, "
                       "line 3"):
        labels_from_lists(tiny_graph, tmp_path / "pos.txt", tmp_path / "neg.txt")


def test_gene_list_with_two_columns_is_malformed(tiny_graph, tmp_path):
    (tmp_path / "pos.txt").write_text("TP53\nKRAS 1\n")
    (tmp_path / "neg.txt").write_text("HBB\n")
    with pytest.raises(ValueError, match="pos.txt, line 2: expected one gene id per line"):
        labels_from_lists(tiny_graph, tmp_path / "pos.txt", tmp_path / "neg.txt")


def test_binary_table_keeps_empty_cells_unlabelled(tiny_graph, genes_dir):
    labels = read_label_table(genes_dir / "labels.csv", tiny_graph)
    assert labels.task == "binary" and labels.names == ["label"]
    assert labels.labelled.sum() == 23 and np.isnan(labels.y[tiny_graph.index["MDM2"], 0])
    assert labels.matches[0].unmatched == ["APC"]


def test_multiclass_table(tiny_graph, genes_dir):
    labels = read_label_table(genes_dir / "labels_multiclass.csv", tiny_graph)
    assert labels.task == "multiclass"
    assert labels.names == ["oncogene", "passenger", "tumour_suppressor"]
    assert labels.num_outputs == 3
    assert labels.y[tiny_graph.index["TP53"], 0] == 2


def test_multilabel_table(tiny_graph, genes_dir):
    labels = read_label_table(genes_dir / "labels_multilabel.csv", tiny_graph)
    assert labels.task == "multilabel" and labels.names == ["driver", "essential"]
    mtor = labels.y[tiny_graph.index["MTOR"]]
    assert np.isnan(mtor[0]) and mtor[1] == 1


def test_label_table_errors(tiny_graph, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("gene,driver,essential\nTP53,1,0\nKRAS,yes,maybe\n")
    with pytest.raises(ValueError, match="labels.csv, line 3: essential 'maybe' is not 0/1"):
        read_label_table(path, tiny_graph)
    path.write_text("gene,label\nTP53,1\nKRAS,0\nP04637,0\n")
    uniprot = IdMap([("P04637", "TP53")])
    with pytest.raises(ValueError, match="line 4: gene 'P04637' already has a different label"):
        read_label_table(path, tiny_graph, id_map=uniprot)
