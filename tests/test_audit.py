"""The membership-inference audit: attack scores on synthetic numbers, and ``molgraph audit`` on
real runs (a BBBP slice from ../shared, ESOL from tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import molgraph
from molgraph.cli.main import main
from molgraph.privacy.audit_attacks import (
    attack_figures,
    likelihoods,
    lira_scores,
    rmia_scores,
)
from molgraph.privacy.audit_shadows import halves

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SMALL = {"epochs": 2, "model_options": {"hidden_channels": 16, "num_layers": 2},
         "train_options": {"threads": 1, "batch_size": 32}, "cache_dir": None,
         "progress": False}


def _synthetic(separation: float, n: int = 600, shadows: int = 16, seed: int = 0):
    """Statistics of ``shadows`` models where a molecule's statistic is its own offset plus
    ``separation`` when the model trained on it, and the target's, members the first half."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(0, 2, size=(1, n, 1))
    trained_on = halves(n, shadows, seed)
    stats = offset + separation * trained_on[:, :, None] + rng.normal(0, 0.3, (shadows, n, 1))
    members = np.arange(n) < n // 2
    target = offset[0] + separation * members[:, None] + rng.normal(0, 0.3, (n, 1))
    return target, stats, trained_on, members


def test_halves_are_balanced():
    chosen = halves(50, 6, seed=3)
    assert chosen.shape == (6, 50)
    assert (chosen.sum(axis=0) == 3).all()  # every molecule in for half the shadows


def test_lira_separates_members_and_guesses_without_signal():
    for shadows in (16, 2):  # two shadows: one value in and one out per molecule
        target, stats, trained_on, members = _synthetic(separation=3.0, shadows=shadows)
        assert attack_figures(lira_scores(target, stats, trained_on), members).auc > 0.99
    target, stats, trained_on, members = _synthetic(separation=0.0, n=4000)
    assert attack_figures(lira_scores(target, stats, trained_on), members).auc == \
        pytest.approx(0.5, abs=0.03)


def test_rmia_separates_members_and_guesses_without_signal():
    labels = np.ones((600, 1))
    for separation, expected, tolerance in ((3.0, 1.0, 0.01), (0.0, 0.5, 0.05)):
        target, stats, _, members = _synthetic(separation)
        probability = 1 / (1 + np.exp(-np.concatenate([target[None], stats])))  # logits back
        p = likelihoods(probability, labels, "classification")
        scores = rmia_scores(p[0], p[1:])
        assert 0 <= scores.min() and scores.max() <= 1
        assert attack_figures(scores, members).auc == pytest.approx(expected, abs=tolerance)


def test_figures_count_members_above_every_non_member():
    scores = np.array([5.0, 4.0, 3.0, 2.5, 2.0, 1.0, 0.5])
    members = np.array([True, True, False, True, False, False, True])
    actives = np.array([True, False, False, True, False, False, False])
    figures = attack_figures(scores, members, actives)
    assert figures.exposed_at_fpr0 == 2 and figures.exposed_actives_at_fpr0 == 1
    assert figures.tpr_at_fpr == {"0.001": 0.5, "0.01": 0.5}
    assert (figures.members, figures.non_members) == (4, 3)
    with pytest.raises(ValueError, match="members and non-members"):
        attack_figures(scores, np.ones(7, dtype=bool))


@pytest.fixture(scope="module")
def bbbp_run(tmp_path_factory):
    source = SHARED / "molecules" / "bbbp" / "bbbp.csv"
    if not source.exists():
        pytest.skip("../shared/datasets is not present")
    frame = pd.read_csv(source)
    root = tmp_path_factory.mktemp("audit")
    data, other = root / "bbbp_200.csv", root / "bbbp_other.csv"
    frame.iloc[:200].to_csv(data, index=False)
    frame.iloc[300:500].to_csv(other, index=False)
    molgraph.train(str(data), ["p_np"], task="classification", out=root / "run", **SMALL)
    return root


def test_cli_audits_a_classifier(bbbp_run, capsys):
    out = bbbp_run / "audit"
    code = main(["audit", "--model", str(bbbp_run / "run"), "--data",
                 str(bbbp_run / "bbbp_200.csv"), "--out", str(out), "--shadows", "2",
                 "--epochs", "2"])
    assert code == 0, capsys.readouterr().err
    audit = json.loads((out / "audit.json").read_text())
    assert (out / "roc.png").stat().st_size > 10_000
    split = json.loads((bbbp_run / "run" / "split.json").read_text())
    assert set(audit["figures"]) == {"lira", "rmia"}
    assert set(audit["figures"]["lira"]) == {"model", "network", "baseline"}  # it blends
    assert audit["settings"]["shadow_epochs"] == 2 and audit["settings"]["shadows"] == 2
    for parts in audit["figures"].values():
        for part, f in parts.items():
            assert 0.0 <= f["auc"] <= 1.0
            assert f["tpr_at_fpr"]["0.001"] <= f["tpr_at_fpr"]["0.01"]
            assert 0 <= f["exposed_actives_at_fpr0"] <= f["exposed_at_fpr0"] <= f["members"]
            assert f["members"] == audit["settings"]["members"][part]
            assert f["members"] + f["non_members"] == audit["settings"]["population"]
    # the training molecules (distinct ones) are the network's and the baseline's members
    assert audit["settings"]["members"]["network"] <= len(split["train"])
    assert audit["settings"]["members"]["model"] > audit["settings"]["members"]["network"]
    assert audit["model_directory_holds_training_molecules"] is True
    assert {e["file"] for e in audit["stored"]} >= {"svm.npz", "domain.npz"}
    assert "stored" in capsys.readouterr().out


def test_members_named_by_smiles(bbbp_run):
    """Members given as SMILES (here the run's training rows, written differently: RDKit's
    canonical form) are matched by canonical SMILES, the same for every audited part."""
    from molgraph.data.duplicates import canonical

    split = json.loads((bbbp_run / "run" / "split.json").read_text())
    frame = pd.read_csv(bbbp_run / "bbbp_200.csv")
    trained = canonical(frame["smiles"].iloc[split["train"]].tolist())
    result = molgraph.audit_model(bbbp_run / "run" / "model", frame, members=trained,
                                  shadows=2, epochs=1, attacks=("rmia",))
    counts = result.settings["members"]
    assert counts["model"] == counts["network"] == counts["baseline"] == len(set(trained))
    assert "named as members" in result.settings["membership"]


def _refusal(argv: list[str], capsys) -> str:
    """The one error line of a refused audit (exit 2, no traceback, nothing written)."""
    code = main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("molgraph audit: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert not Path(argv[argv.index("--out") + 1], "audit.json").exists()
    return errors[0]


def test_audit_refuses_data_of_another_run(bbbp_run, capsys):
    err = _refusal(["audit", "--model", str(bbbp_run / "run"), "--data",
                    str(bbbp_run / "bbbp_other.csv"), "--out", str(bbbp_run / "no"),
                    "--shadows", "2"], capsys)
    assert "bbbp_other.csv" in err and "--members" in err


def test_audit_refuses_a_population_without_members(bbbp_run, capsys):
    strangers = bbbp_run / "strangers.smi"
    strangers.write_text("CCCCCCCCCCCCCCCCCCCCO\n")
    err = _refusal(["audit", "--model", str(bbbp_run / "run"), "--data",
                    str(bbbp_run / "bbbp_other.csv"), "--members", str(strangers),
                    "--out", str(bbbp_run / "no"), "--shadows", "2"], capsys)
    assert "0 of its" in err and "members and non-members" in err


def test_library_audits_a_regression_model(data_dir, tmp_path):
    """ESOL, not blended: the model as saved is the network, so there is no separate one."""
    run = tmp_path / "run"
    molgraph.train(str(data_dir / "esol_120.csv"), ["logS"], split="random", out=run,
                   blend=False, baseline=False, **SMALL)
    result = molgraph.audit_model(run, data_dir / "esol_120.csv", tmp_path / "audit",
                                  shadows=2, epochs=2, attacks=("lira",))
    assert set(result.figures) == {"lira"}
    assert set(result.figures["lira"]) == {"model", "baseline"}
    for figures in result.figures["lira"].values():
        assert 0.0 <= figures.auc <= 1.0
        assert figures.exposed_actives_at_fpr0 is None  # no actives in regression
    assert result.settings["baseline"]["family"] == "rf"  # the run fitted none
    assert result.settings["statistic"].startswith("prediction")
    assert [e["file"] for e in result.stored] == ["domain.npz", "conformal.npz"]
    assert (tmp_path / "audit" / "audit.json").exists()
