"""``molgraph active`` end to end on the ESOL excerpt, its logS as the lookup oracle: from the
command line and from the API, with a molgraph surrogate and the fingerprint ones, an --init file,
a budget, MLflow runs, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from molgraph import CampaignConfig, run_campaign
from molgraph.cli.main import main
from molgraph.training.config import RunConfig


@pytest.fixture
def esol(data_dir):
    return data_dir / "esol_120.csv"


@pytest.fixture(scope="module")
def tiny_run_config(tmp_path_factory):
    """A small D-MPNN, so a molgraph surrogate trains in a second."""
    path = tmp_path_factory.mktemp("run") / "run_config.json"
    config = RunConfig().with_values({"model.hidden_channels": 32, "train.batch_size": 16})
    path.write_text(json.dumps(config.to_dict()))
    return path


def _logs(esol) -> dict[str, float]:
    frame = pd.read_csv(esol)
    return dict(zip(frame["smiles"].str.strip(), frame["logS"]))


def test_cli_campaign_with_a_molgraph_ensemble(tmp_path, esol, tiny_run_config):
    out = tmp_path / "campaign"
    code = main(["active", "--library", str(esol), "--out", str(out), "--oracle",
                 f"lookup:{esol}", "--init", "25", "--batch", "10", "--iterations", "2",
                 "--epochs", "3", "--ensemble-size", "2", "--acquisition", "ucb",
                 "--run-config", str(tiny_run_config), "--top-k", "10", "--workers", "0",
                 "--no-progress"])
    assert code == 0
    acquired = pd.read_csv(out / "acquired.csv", keep_default_na=False)
    assert len(acquired) == 45 and acquired["row"].is_unique
    assert acquired["iteration"].tolist() == [0] * 25 + [1] * 10 + [2] * 10
    source = pd.read_csv(esol)
    # the pool's own SMILES (not re-canonicalised) and the oracle's value for each
    assert (acquired["smiles"] == source["smiles"].str.strip()[acquired["row"] - 1].values).all()
    logs = _logs(esol)
    np.testing.assert_allclose(acquired["value"], [logs[s] for s in acquired["smiles"]])
    for number in (1, 2):
        round_dir = out / "rounds" / f"{number:03d}"
        assert (round_dir / "model" / "ensemble.json").exists()
        scores = pd.read_parquet(round_dir / "scores.parquet")
        assert len(scores) == 120 and {"value_mean", "value_std"} <= set(scores.columns)
        record = json.loads((round_dir / "round.json").read_text())
        assert record["fit"]["ensemble_size"] == 2 and record["train_s"] > 0
    rounds = pd.read_csv(out / "rounds.csv")
    assert rounds["acquired"].tolist() == [25, 35, 45]
    assert rounds["found_scores"].between(0, 1).all()
    assert (rounds["best"].diff().dropna() >= 0).all()  # best so far never falls
    assert (out / "plots" / "progress.png").exists() and (out / "plots" / "found.png").exists()


@pytest.mark.parametrize("surrogate,acquisition", [("rf", "thompson"), ("svm", "greedy")])
def test_api_campaign_minimising_with_fingerprint_surrogates(tmp_path, esol, surrogate,
                                                             acquisition):
    config = CampaignConfig(str(esol), str(tmp_path / "c"), init="20%", batch="10",
                            iterations=2, minimize=True, surrogate=surrogate,
                            acquisition=acquisition, top_k="5", workers=0, pictures=False)
    result = run_campaign(config, oracle=f"lookup:{esol}", progress=False)
    assert result.status == "finished" and len(result.rounds) == 3
    acquired = result.acquired
    assert len(acquired) == 24 + 10 + 10 and acquired["row"].is_unique
    last = result.rounds[-1]
    assert last["best"] == acquired["value"].min()  # minimising: the best is the lowest
    assert last["top_k_average"] == pytest.approx(np.sort(acquired["value"])[:5].mean())
    batch = pd.read_csv(tmp_path / "c" / "rounds" / "001" / "batch.csv")
    assert (batch["utility"].diff().dropna() <= 0).all()  # best first


def test_python_oracle_budget_and_init_file(tmp_path, esol):
    logs = _logs(esol)
    labelled = tmp_path / "labelled.csv"
    rows = list(logs.items())[:15] + [("CCCCCCCCCCCCCCCCCCCC", -8.0)]  # the last: not in the pool
    pd.DataFrame(rows, columns=["SMILES", "measured"]).to_csv(labelled, index=False)
    asked: list[list[str]] = []

    def oracle(smiles: list[str]) -> list[float | None]:
        asked.append(smiles)
        return [None if "Cl" in s else logs[s] for s in smiles]  # chlorides fail

    config = CampaignConfig(str(esol), str(tmp_path / "c"), init=str(labelled), batch="8",
                            budget="31", surrogate="rf", oracle_chunk=4, workers=0,
                            pictures=False)
    result = run_campaign(config, oracle=oracle, progress=False)
    acquired = result.acquired
    first = acquired[acquired["iteration"] == 0]
    assert len(first) == 16 and first["row"].isna().sum() == 1  # one molecule outside the pool
    assert sum(map(len, asked)) == 31 - 15  # the budget counts pool molecules only
    assert max(map(len, asked)) == 4 and result.status == "finished"
    assert "budget" in result.reason
    failed = acquired[acquired["smiles"].str.contains("Cl") & (acquired["iteration"] > 0)]
    assert failed["value"].isna().all()
    assert (failed["note"] == "the oracle gave no value").all()


def test_mlflow_parent_run_with_a_child_per_round(tmp_path, esol):
    from mlflow.tracking import MlflowClient

    from molgraph import TrackingConfig

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = CampaignConfig(str(esol), str(tmp_path / "c"), init="20", batch="10",
                            iterations=2, surrogate="rf", top_k="10", workers=0)
    run_campaign(config, oracle=f"lookup:{esol}", tracking=TrackingConfig(uri, "campaigns"),
                 progress=False)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("campaigns").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    assert sorted(r.data.tags["molgraph.round"] for r in children) == ["0", "1", "2"]
    assert {"best", "top_k_average", "found_scores"} <= set(children[0].data.metrics)
    history = client.get_metric_history(parents[0].info.run_id, "found_scores")
    assert [m.step for m in history] == [0, 1, 2]


def test_refusals_name_what_to_do(tmp_path, esol):
    out = tmp_path / "c"
    config = CampaignConfig(str(esol), str(out), init="20", batch="10", iterations=0,
                            surrogate="rf", workers=0, pictures=False)
    run_campaign(config, oracle=f"lookup:{esol}", progress=False)
    with pytest.raises(ValueError, match="--resume"):  # never overwritten silently
        run_campaign(config, oracle=f"lookup:{esol}", progress=False)
    other = CampaignConfig(str(esol), str(out), init="20", batch="12", iterations=1,
                           surrogate="rf", workers=0, resume=True)
    with pytest.raises(ValueError, match="batch"):
        run_campaign(other, oracle=f"lookup:{esol}", progress=False)
    with pytest.raises(ValueError, match="lookup:FILE"):
        run_campaign(CampaignConfig(str(esol), str(tmp_path / "d")), oracle="dock:x")
    few = CampaignConfig(str(esol), str(tmp_path / "e"), init="5", iterations=1,
                         surrogate="rf", workers=0, pictures=False)
    with pytest.raises(ValueError, match="at least 10 molecules with a value"):
        run_campaign(few, oracle=f"lookup:{esol}", progress=False)
    assert main(["active", "--library", str(esol), "--out", str(tmp_path / "f"),
                 "--init", str(tmp_path / "missing.csv")]) == 2


# ~20-40 s on 2 busy cores (two worker processes import torch and RDKit); runs in CI on purpose.
def test_a_campaign_scores_its_pool_on_a_dask_cluster_as_it_does_locally(tmp_path, esol,
                                                                        tiny_run_config):
    distributed = pytest.importorskip("distributed")
    logs = _logs(esol)
    common = {"init": "20", "batch": "10", "iterations": 1, "epochs": 2, "ensemble_size": 2,
              "run_config": str(tiny_run_config), "acquisition": "ucb", "threads": 1,
              "pictures": False}
    local = run_campaign(CampaignConfig(str(esol), str(tmp_path / "local"), workers=0,
                                        **common), oracle=lambda s: [logs[x] for x in s],
                         progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        remote = run_campaign(CampaignConfig(str(esol), str(tmp_path / "dask"),
                                             scheduler=cluster.scheduler_address, **common),
                              oracle=lambda s: [logs[x] for x in s], progress=False)
    pd.testing.assert_frame_equal(remote.acquired, local.acquired)
    scored = pd.read_parquet(tmp_path / "dask" / "rounds" / "001" / "scores.parquet")
    assert len(scored) == len(pd.read_csv(esol)) and scored["value_std"].notna().any()
