"""``explain_genes`` and ``molgraph genes explain``: attributions of a gene's logit to its
neighbours and features, on tiny models trained on tests/data/genes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molgraph.cli.main import main
from molgraph.genes import (
    GeneModelConfig,
    GeneTrainConfig,
    TrainedGeneModel,
    fit_node_model,
    labels_from_lists,
    read_feature_table,
    stack_features,
    structural_features,
)
from molgraph.genes.explain import explain_genes, receptive_subgraph
from molgraph.genes.train import graph_tensors

GENES = ["EGFR", "KRAS", "TP53"]


@pytest.fixture(scope="module")
def tiny_models():
    """One model per architecture, trained for a few epochs (a fit is not needed, weights are)."""
    from molgraph.genes import read_network

    data = Path(__file__).resolve().parents[1] / "data" / "genes"
    graph = read_network(data / "network.tsv", "edgelist")
    blocks = [read_feature_table(data / "omics.tsv", graph), structural_features(graph)]
    x, names = stack_features(blocks, graph.num_genes)
    labels = labels_from_lists(graph, data / "positives.txt", data / "negatives.txt")
    x_t, adj_t = graph_tensors(graph, x, torch.device("cpu"))
    train = np.flatnonzero(labels.labelled)
    oof = np.full((graph.num_genes, 1), np.nan)
    oof[train] = 0.5
    models = {}
    for name in ("gcn", "gat", "sage", "mlp"):
        config = GeneModelConfig(name=name, hidden_channels=8, heads=2, dropout=0.0)
        fit = fit_node_model(x_t, adj_t, labels, train, None, config, GeneTrainConfig(),
                             epochs=10)
        models[name] = TrainedGeneModel(fit.model, graph, x, names, labels, oof, {})
    return models


@pytest.mark.parametrize("name", ["gcn", "gat", "sage", "mlp"])
def test_subgraph_logit_equals_full_graph(tiny_models, name):
    trained = tiny_models[name]
    net, graph = trained.model, trained.graph
    layers = 0 if name == "mlp" else net.config["num_layers"]
    net.clear_cache()
    x, adj_t = graph_tensors(graph, trained.x, torch.device("cpu"))
    with torch.no_grad():
        full = net(x, adj_t)[:, 0]
    for gene in GENES:
        node = graph.index[gene]
        subset, sub, centre = receptive_subgraph(graph, node, layers + 1 if layers else 0)
        net.clear_cache()
        sx, sadj = graph_tensors(sub, trained.x[subset], torch.device("cpu"))
        with torch.no_grad():
            assert float(net(sx, sadj)[centre, 0]) == pytest.approx(float(full[node]), abs=1e-5)
    net.clear_cache()


def test_gcn_needs_the_extra_hop(tiny_models):
    """Why L + 1 hops: on the L-hop subgraph GCN's degrees at the rim are cut short."""
    trained = tiny_models["gcn"]
    net, graph = trained.model, trained.graph
    net.clear_cache()
    x, adj_t = graph_tensors(graph, trained.x, torch.device("cpu"))
    with torch.no_grad():
        full = net(x, adj_t)[:, 0]
    gaps = []
    for gene in GENES:
        node = graph.index[gene]
        subset, sub, centre = receptive_subgraph(graph, node, net.config["num_layers"])
        net.clear_cache()
        sx, sadj = graph_tensors(sub, trained.x[subset], torch.device("cpu"))
        with torch.no_grad():
            gaps.append(abs(float(net(sx, sadj)[centre, 0]) - float(full[node])))
    net.clear_cache()
    assert max(gaps) > 1e-5


@pytest.mark.parametrize("name", ["gcn", "gat", "sage", "mlp"])
def test_integrated_gradients_are_complete(tiny_models, name):
    trained = tiny_models[name]
    result = explain_genes(trained, GENES, top=None, device="cpu", n_steps=64)
    genes = result.genes.set_index("gene")
    assert (genes["error"] == "").all()
    for table in (result.neighbours, result.features):
        assert np.isfinite(table["attribution"]).all()
    # completeness: the attributions add up to logit(x) - logit(0)
    gap = genes["logit"] - genes["baseline_logit"]
    np.testing.assert_allclose(genes["attribution_sum"], gap, atol=0.02 + 0.02 * gap.abs().max())
    by_gene = result.neighbours.groupby("gene")["attribution"].sum()
    np.testing.assert_allclose(by_gene[GENES], genes.loc[GENES, "attribution_sum"], atol=1e-6)
    # scores are those of 'genes predict'
    ranked = trained.rank(device="cpu").set_index("gene")
    np.testing.assert_allclose(genes["score"], ranked.loc[GENES, "score"], rtol=1e-5)
    # only genes the model can see, each at its hop distance; the gene itself at hop 0
    layers = 0 if name == "mlp" else trained.model.config["num_layers"]
    nx_graph = trained.graph.to_networkx()
    import networkx as nx

    for gene, rows in result.neighbours.groupby("gene"):
        dist = nx.single_source_shortest_path_length(nx_graph, gene, cutoff=layers)
        assert set(rows["neighbour"]) == set(dist)
        assert all(dist[n] == h for n, h in zip(rows["neighbour"], rows["hops"]))
        assert rows.iloc[0]["neighbour"] == gene and rows.iloc[0]["hops"] == 0


def test_unknown_genes_are_reported_and_top_limits(tiny_models):
    result = explain_genes(tiny_models["sage"], ["NOT_A_GENE", "EGFR"], top=3,
                           method="input_x_gradient", device="cpu")
    genes = result.genes.set_index("gene")
    assert "not in the network" in genes.loc["NOT_A_GENE", "error"]
    assert genes.loc["EGFR", "error"] == "" and genes.loc["EGFR", "label"] == "1"
    assert len(result.neighbours) == 4  # the gene and its top three
    assert result.features.groupby("scope").size().to_dict() == {"gene": 3, "subgraph": 3}
    with pytest.raises(ValueError, match="none of the genes"):
        explain_genes(tiny_models["sage"], ["NOT_A_GENE"], device="cpu")


def test_cli_writes_tables_and_pictures(tiny_models, tmp_path, capsys):
    from matplotlib.image import imread

    model_dir = tiny_models["gcn"].save(tmp_path / "model")
    out = tmp_path / "explained"
    assert main(["genes", "explain", "--model", str(model_dir), "--genes", "EGFR", "BOGUS",
                 "--out", str(out), "--top", "5"]) == 0
    assert "BOGUS" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"genes.csv", "neighbours.csv", "features.csv",
                                               "subgraph_EGFR.png"}
    genes = pd.read_csv(out / "genes.csv", keep_default_na=False)
    assert genes["gene"].tolist() == ["EGFR", "BOGUS"] and genes["error"][0] == ""
    neighbours = pd.read_csv(out / "neighbours.csv")
    assert list(neighbours.columns) == ["gene", "neighbour", "hops", "attribution"]
    assert list(pd.read_csv(out / "features.csv").columns) == [
        "gene", "scope", "feature", "value", "attribution"]
    image = imread(out / "subgraph_EGFR.png")
    assert image.ndim == 3 and image.shape[0] > 100
    assert main(["genes", "explain", "--model", str(model_dir), "--genes", "BOGUS",
                 "--out", str(tmp_path / "none")]) == 2
    assert "none of the genes" in capsys.readouterr().err
