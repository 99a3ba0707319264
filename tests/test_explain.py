"""``molgraph explain``: per-atom attributions for every model, regression and classification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem

from molgraph.chem.featurize import featurize_smiles
from molgraph.chem.vocabulary import ELEMENTS
from molgraph.cli.explain import METHOD_NAMES
from molgraph.cli.main import main
from molgraph.explain import METHODS, explain_molecules
from molgraph.explain.attribute import _padded_inputs
from molgraph.inference.artifact import TrainedModel

DATA = Path(__file__).parent / "data"
SAVED = DATA / "saved_models"  # five tiny regression models (logS), one per architecture
MODELS = ("gcn", "gat", "gine", "attentivefp", "dmpnn")
# an invalid SMILES in the middle, a charged salt, a one-atom molecule, a stereo centre
SMILES = ["CCO", "not a smiles", "c1ccc(cc1)C(=O)[O-].[Na+]", "C", "C[C@H](N)C(=O)O",
          "O=C1NC(=O)c2ccccc21"]


def _baseline_output(trained: TrainedModel, smiles: str) -> np.ndarray:
    """The model's raw output for ``smiles`` with every atom and bond representation zero."""
    batch = featurize_smiles([smiles]).graphs.tensors().to(trained.device)
    forward, atoms, bonds = _padded_inputs(trained.model, batch)
    with torch.no_grad():
        return forward(torch.zeros_like(atoms), torch.zeros_like(bonds))[0].cpu().numpy()


def _check_completeness(trained, result, smiles: str, row: int, rtol: float,
                        atol: float = 1e-4) -> None:
    """Atom + bond attributions add up to f(x) - f(baseline), in the explained units (up to
    the integral's error: ReLU kinks make it converge slowly with the number of steps)."""
    base = _baseline_output(trained, smiles)
    pred = result.molecules.set_index("row").loc[row]
    for name in result.targets:
        j = trained.target_names.index(name)
        explained = f"{name}_gnn_pred" if f"{name}_gnn_pred" in pred else f"{name}_pred"
        if trained.task == "regression":
            expected = pred[explained] - (base[j] * trained.scaler.std[j]
                                          + trained.scaler.mean[j])
        else:  # the logit is explained
            p = pred[explained]
            expected = np.log(p / (1 - p)) - base[j]
        total = (result.atoms.query("row == @row and target == @name")["attribution"].sum()
                 + result.bonds.query("row == @row and target == @name")["attribution"].sum())
        assert total == pytest.approx(expected, rel=rtol, abs=atol)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_gives_one_value_per_heavy_atom_and_bond(name):
    trained = TrainedModel.load(SAVED / name, device="cpu")
    result = explain_molecules(trained, SMILES, batch_size=2)
    mols = result.molecules
    assert mols["row"].tolist() == [1, 2, 3, 4, 5, 6]
    assert mols["valid"].tolist() == [True, False, True, True, True, True]
    assert "invalid SMILES" in mols.loc[1, "error"] and (mols["error"].drop(1) == "").all()
    expected = trained.predict(SMILES)[:, 0]
    np.testing.assert_allclose(mols["logS_pred"], expected, rtol=1e-4, atol=1e-4)
    assert np.isfinite(result.atoms["attribution"]).all()
    assert np.isfinite(result.bonds["attribution"]).all()
    for row, smiles in zip(mols["row"], SMILES):
        mol = Chem.MolFromSmiles(smiles)
        atoms = result.atoms[result.atoms["row"] == row]
        bonds = result.bonds[result.bonds["row"] == row]
        if mol is None:
            assert atoms.empty and bonds.empty
            continue
        assert atoms["atom"].tolist() == list(range(mol.GetNumAtoms()))
        assert atoms["symbol"].tolist() == [a.GetSymbol() for a in mol.GetAtoms()]
        assert (atoms["target"] == "logS").all()
        assert bonds[["begin_atom", "end_atom"]].values.tolist() == [
            [b.GetBeginAtomIdx(), b.GetEndAtomIdx()] for b in mol.GetBonds()]
    assert result.atoms["attribution"].abs().sum() > 0


def test_graph_nodes_are_rdkit_atoms_in_order():
    graphs = featurize_smiles(SMILES).graphs
    valid = [s for s in SMILES if Chem.MolFromSmiles(s) is not None]
    for i, smiles in enumerate(valid):
        mol = Chem.MolFromSmiles(smiles)
        x = graphs.x[graphs.atom_ptr[i]:graphs.atom_ptr[i + 1]]
        assert x[:, 0].tolist() == [ELEMENTS.index(a.GetAtomicNum()) for a in mol.GetAtoms()]
        edges = graphs.edge_index[:, graphs.edge_ptr[i]:graphs.edge_ptr[i + 1]]
        for b in mol.GetBonds():  # bond i is the directed edges 2i and 2i + 1
            k = b.GetIdx()
            assert edges[:, 2 * k].tolist() == [b.GetBeginAtomIdx(), b.GetEndAtomIdx()]
            assert edges[:, 2 * k + 1].tolist() == [b.GetEndAtomIdx(), b.GetBeginAtomIdx()]


@pytest.mark.parametrize("name", ["dmpnn", "attentivefp"])
def test_integrated_gradients_are_complete(name):
    trained = TrainedModel.load(SAVED / name, device="cpu")
    result = explain_molecules(trained, SMILES, n_steps=300)
    for row, smiles in zip(result.molecules["row"], SMILES):
        if Chem.MolFromSmiles(smiles) is not None:
            _check_completeness(trained, result, smiles, row, rtol=2e-2, atol=2e-3)


def test_invalid_rows_do_not_shift_the_others_nor_does_batching():
    trained = TrainedModel.load(SAVED / "gine", device="cpu")
    alone = explain_molecules(trained, [SMILES[2]])
    mixed = explain_molecules(trained, SMILES, batch_size=64)
    one_by_one = explain_molecules(trained, SMILES, batch_size=1)
    expected = alone.atoms["attribution"].to_numpy()
    for result in (mixed, one_by_one):
        got = result.atoms[result.atoms["row"] == 3]["attribution"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    pd.testing.assert_frame_equal(mixed.atoms, one_by_one.atoms, rtol=1e-4, atol=1e-6)


def test_other_methods_run_and_shapley_is_efficient():
    assert set(METHOD_NAMES) == set(METHODS)  # the CLI lists every method
    trained = TrainedModel.load(SAVED / "gcn", device="cpu")
    smiles = SMILES[4:]
    saliency = explain_molecules(trained, smiles, method="saliency")
    assert (saliency.atoms["attribution"] >= 0).all() and not saliency.signed
    gradients = explain_molecules(trained, smiles, method="input_x_gradient")
    assert np.isfinite(gradients.atoms["attribution"]).all()
    shapley = explain_molecules(trained, smiles, method="shapley_sampling", n_samples=3)
    assert len(shapley.atoms) == len(saliency.atoms) and len(shapley.bonds)
    for row, smi in zip(shapley.molecules["row"], smiles):  # every permutation is efficient
        _check_completeness(trained, shapley, smi, row, rtol=1e-3)
    with pytest.raises(ValueError, match="unknown attribution method 'lime'.*saliency"):
        explain_molecules(trained, smiles, method="lime")
    with pytest.raises(ValueError, match="unknown target 'pIC50'"):
        explain_molecules(trained, smiles, targets=["pIC50"])


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    """A two-task classifier blended with the SVM (tests set the blend's weights)."""
    from molgraph.training.api import train

    out = tmp_path_factory.mktemp("tox") / "run"
    train(DATA / "tox21_150.csv", ["NR-AR", "SR-MMP"], task="classification",
                    model="dmpnn", split="random", epochs=1, out=out,
                    model_options={"hidden_channels": 8}, cache_dir=False, blend=True)
    return out


def test_classification_explains_the_logit_of_chosen_targets(classifier):
    trained = TrainedModel.load(classifier, device="cpu")
    trained.blend = None  # the network alone
    smiles = ["CCOc1ccc2nc(S(N)(=O)=O)sc2c1", "bad", "CCN1C(=O)NC(c2ccccc2)C1=O"]
    result = explain_molecules(trained, smiles, targets=["SR-MMP"], n_steps=300)
    assert result.targets == ["SR-MMP"] and set(result.atoms["target"]) == {"SR-MMP"}
    assert list(result.molecules.columns) == ["row", "smiles", "valid", "error", "SR-MMP_pred"]
    prob = result.molecules["SR-MMP_pred"].dropna()
    assert ((prob > 0) & (prob < 1)).all()
    np.testing.assert_allclose(prob, trained.predict(smiles)[[0, 2], 1], rtol=1e-4)
    _check_completeness(trained, result, smiles[2], 3, rtol=2e-2, atol=2e-3)
    both = explain_molecules(trained, smiles)
    assert both.atoms["target"].unique().tolist() == ["NR-AR", "SR-MMP"]


def test_a_blended_model_is_explained_through_its_gnn(classifier, caplog):
    trained = TrainedModel.load(classifier, device="cpu")
    trained.blend.weights = np.array([0.6, 0.0])  # SR-MMP: the SVM alone
    smiles = ["CCOc1ccc2nc(S(N)(=O)=O)sc2c1", "bad", "CCN1C(=O)NC(c2ccccc2)C1=O"]
    with caplog.at_level("WARNING", logger="molgraph.explain.attribute"):
        result = explain_molecules(trained, smiles, n_steps=300)
    assert "not explained: SR-MMP" in caplog.text
    assert result.targets == ["NR-AR"] and result.gnn_weights == {"NR-AR": 0.6}
    mols = result.molecules
    assert list(mols.columns) == ["row", "smiles", "valid", "error", "NR-AR_pred",
                                  "NR-AR_gnn_pred", "explained"]
    assert (mols["explained"] == "GNN part (weight 0.6 of the blended prediction)").all()
    np.testing.assert_allclose(mols["NR-AR_pred"].dropna(), trained.predict(smiles)[[0, 2], 0],
                               rtol=1e-4)  # the blend, as predict gives it
    blend, trained.blend = trained.blend, None
    np.testing.assert_allclose(mols["NR-AR_gnn_pred"].dropna(),
                               trained.predict(smiles)[[0, 2], 0], rtol=1e-4)
    _check_completeness(trained, result, smiles[2], 3, rtol=2e-2, atol=2e-3)  # the GNN's logit
    trained.blend = blend
    with pytest.raises(ValueError, match="SR-MMP with the SVM alone.*--target NR-AR"):
        explain_molecules(trained, smiles, targets=["SR-MMP"])
    trained.blend.weights = np.array([0.0, 0.0])
    with pytest.raises(ValueError, match="NR-AR, SR-MMP with the SVM alone.*--no-blend"):
        explain_molecules(trained, smiles)


def test_cli_names_the_gnn_weight_of_a_blended_model(classifier, tmp_path, capsys):
    import json
    import shutil

    model = tmp_path / "model"
    shutil.copytree(classifier / "model", model)
    config = json.loads((model / "config.json").read_text())
    config["blend"]["weights"] = [0.7, 0.3]
    (model / "config.json").write_text(json.dumps(config))
    out = tmp_path / "explain"
    assert main(["explain", "--model", str(model), "--smiles", "CCO", "c1ccccc1O", "--out",
                 str(out), "--steps", "5"]) == 0
    assert "GNN part (weight of the GNN: NR-AR 0.7, SR-MMP 0.3)" in capsys.readouterr().out
    explained = pd.read_csv(out / "molecules.csv")["explained"]
    assert (explained == "NR-AR: GNN part (weight 0.7 of the blended prediction); SR-MMP: GNN "
                         "part (weight 0.3 of the blended prediction)").all()
    config["blend"]["weights"] = [0.0, 0.3]
    (model / "config.json").write_text(json.dumps(config))
    assert main(["explain", "--model", str(model), "--smiles", "CCO", "--target", "NR-AR",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "NR-AR with the SVM alone" in err and "Traceback" not in err


def test_cli_writes_tables_heatmaps_and_grid(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "explain"
    data = DATA / "with_invalid.csv"
    assert main(["explain", "--model", str(SAVED / "dmpnn"), "--data", str(data),
                 "--out", str(out), "--draw-limit", "3", "--steps", "20"]) == 0
    assert "invalid" in capsys.readouterr().out
    molecules = pd.read_csv(out / "molecules.csv", keep_default_na=False)
    predicted = pd.read_csv(tmp_path / "p.csv") if main(
        ["predict", "--model", str(SAVED / "dmpnn"), "--data", str(data),
         "--out", str(tmp_path / "p.csv")]) == 0 else None
    assert molecules["row"].tolist() == predicted["row"].tolist()  # numbered as predict does
    assert (~molecules["valid"]).tolist() == predicted["logS_pred"].isna().tolist()
    assert molecules.loc[~molecules["valid"], "error"].str.len().gt(0).all()
    atoms, bonds = pd.read_csv(out / "atoms.csv"), pd.read_csv(out / "bonds.csv")
    assert list(atoms.columns) == ["row", "atom", "symbol", "target", "attribution"]
    assert list(bonds.columns) == ["row", "bond", "begin_atom", "end_atom", "target",
                                   "attribution"]
    valid = molecules[molecules["valid"]]
    assert set(atoms["row"]) == set(valid["row"])
    heatmaps = sorted(p.name for p in (out / "heatmaps").iterdir())
    first = valid["row"].tolist()[:3]
    assert heatmaps == sorted(f"row{r}_logS.{s}" for r in first for s in ("png", "svg"))
    assert (out / "heatmaps" / f"row{first[0]}_logS.svg").read_text().startswith("<?xml")
    with Image.open(out / "grid.png") as grid:
        assert grid.size[0] >= 300 and grid.size[1] >= 260
    with Image.open(out / "heatmaps" / f"row{first[0]}_logS.png") as picture:
        picture.load()

    smiles_out = tmp_path / "smiles"
    assert main(["explain", "--model", str(SAVED / "gat"), "--smiles", "CCO", "C1CC", "c1ccccc1",
                 "--method", "saliency", "--out", str(smiles_out), "--no-draw"]) == 0
    assert not (smiles_out / "heatmaps").exists() and not (smiles_out / "grid.png").exists()
    assert pd.read_csv(smiles_out / "molecules.csv")["row"].tolist() == [1, 2, 3]


def test_cli_bad_inputs_name_the_file(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["explain", "--model", str(missing), "--smiles", "CCO",
                 "--out", str(tmp_path / "o")]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["explain", "--model", str(SAVED / "gcn"), "--data", str(tmp_path / "no.csv"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no.csv" in capsys.readouterr().err


@pytest.mark.gpu
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = explain_molecules(SAVED / "dmpnn", SMILES, device="cpu")
    cuda = explain_molecules(SAVED / "dmpnn", SMILES, device="cuda")
    np.testing.assert_allclose(cuda.atoms["attribution"], cpu.atoms["attribution"],
                               rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(cuda.molecules["logS_pred"], cpu.molecules["logS_pred"],
                               rtol=1e-4, atol=1e-5)
