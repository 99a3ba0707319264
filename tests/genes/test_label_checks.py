"""Gene inputs a model cannot learn from are refused before any fold, saying what matched: an
empty network, a file whose ids match no gene, labels of one class, continuous labels."""

from __future__ import annotations

import numpy as np
import pytest

from molgraph.genes import GeneDataConfig, kfold_splits, load_gene_data, read_label_table


def _load(genes_dir, **options):
    return load_gene_data(GeneDataConfig(network=str(genes_dir / "network.tsv"),
                                         format="edgelist", **options))


def test_labels_of_both_classes_load(genes_dir):
    data = _load(genes_dir, labels=str(genes_dir / "labels.csv"))
    assert np.unique(data.labels.y[data.labels.labelled]).tolist() == [0.0, 1.0]


def test_empty_network_is_named(genes_dir, tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty.tsv: the network has no genes \(.*\); check "
                       "the file, --format"):
        load_gene_data(GeneDataConfig(network=str(empty), format="edgelist",
                                      labels=str(genes_dir / "labels.csv")))


def test_labels_matching_no_gene_say_what_the_ids_look_like(genes_dir, tmp_path):
    path = tmp_path / "entrez.csv"
    path.write_text("gene,label\n7157,1\n3845,1\n3630,0\n")  # TP53, KRAS, INS as Entrez ids
    with pytest.raises(ValueError, match=r"entrez.csv: none of its 3 gene ids is in the network "
                       r".*network.tsv \(its ids look like 7157, 3845, 3630; the network's like "
                       r"EGFR, GRB2, ERBB2\).*--id-map"):
        _load(genes_dir, labels=str(path))


def test_feature_table_matching_no_gene_is_refused(genes_dir, tmp_path):
    path = tmp_path / "omics.tsv"
    lines = (genes_dir / "omics.tsv").read_text().splitlines()
    path.write_text("\n".join([lines[0], *(f"ENSG{i:011d}\t" + line.split("\t", 1)[1]
                                           for i, line in enumerate(lines[1:]))]) + "\n")
    with pytest.raises(ValueError, match=r"omics.tsv: none of its 44 gene ids"):
        _load(genes_dir, labels=str(genes_dir / "labels.csv"), features=[str(path)])


def test_one_class_says_what_matched(genes_dir, tmp_path):
    path = tmp_path / "drivers.csv"
    lines = (genes_dir / "labels.csv").read_text().splitlines()
    path.write_text("\n".join(line.replace(",0", ",1") for line in lines) + "\n")
    with pytest.raises(ValueError, match=r"drivers.csv: 24 of 25 gene ids in the network "
                       r"\(unmatched e.g. APC\); among the 23 labelled genes in the network "
                       r"'label' has only the label 1: .*other class"):
        _load(genes_dir, labels=str(path))


def test_negatives_list_matching_nothing_is_named(genes_dir, tmp_path):
    negatives = tmp_path / "negatives.txt"
    negatives.write_text("OR2B6\nOR4F5\n")  # olfactory receptors, not in the excerpt
    with pytest.raises(ValueError, match=r"negatives.txt: none of its 2 gene ids"):
        _load(genes_dir, positives=str(genes_dir / "positives.txt"), negatives=str(negatives))


def test_continuous_gene_labels_are_not_made_classes(tiny_graph, tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("gene,label\nTP53,0.93\nKRAS,0.88\nINS,0.1\n")
    with pytest.raises(ValueError, match=r"scores.csv, line 2: label '0.93': the labels look "
                       "continuous.*binarise"):
        read_label_table(path, tiny_graph)
    assert read_label_table(path, tiny_graph, task="multiclass").names == ["0.1", "0.88", "0.93"]


def test_too_many_folds_names_the_class(genes_dir):
    data = _load(genes_dir, labels=str(genes_dir / "labels.csv"))
    with pytest.raises(ValueError, match=r"only 11 labelled genes have label = 0, fewer than 12 "
                       r"folds: .*--folds 11"):
        kfold_splits(data.labels, folds=12)
