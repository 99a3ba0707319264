"""Per-atom (and per-bond) attributions of a trained model's predictions, with Captum.

What is attributed: each model's encoded atom and bond representations
(``GraphModel.encode``), the same inputs for every architecture; a method's values are summed
over the hidden features, so each heavy atom (RDKit atom index = graph node index) and each bond
gets one number per target. The baseline is the all-zero representation. Regression outputs
are explained in label units (the model's scaled output times the target's standard
deviation: the scaler is linear, its mean only shifts the baseline); classification explains
the logit (not the probability, which saturates), while ``molecules`` reports probabilities.

A model blended with an SVM on ECFP4 fingerprints (``train --blend``, ``w·GNN + (1 − w)·SVM``)
is explained through its GNN: the attributions add up to the GNN's own prediction
(``<target>_gnn_pred``), ``<target>_pred`` is the blend, and ``explained`` names the GNN's
weight; a target the SVM alone predicts (``w = 0``) has nothing to attribute. Ensembles are
explained one member at a time.

Example::

    from molgraph.explain import explain_molecules

    result = explain_molecules("runs/esol", ["CCO", "c1ccccc1O"])
    result.atoms              # row, atom, symbol, target, attribution
    result.write("explain/")  # atoms.csv, bonds.csv, molecules.csv, heatmaps/, grid.png
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from molgraph.explain.drawing import SIZE, draw_explanation
from molgraph.explain.methods import DEFAULT_METHOD, METHODS, get_method
from molgraph.explain.picture import check_size, check_style

log = logging.getLogger(__name__)

ATOM_COLUMNS = ["row", "atom", "symbol", "target", "attribution"]
BOND_COLUMNS = ["row", "bond", "begin_atom", "end_atom", "target", "attribution"]


@dataclass
class Explanation:
    """Attributions of one model on a set of molecules, in input order.

    Attributes:
        atoms: ``row, atom, symbol, target, attribution``: one line per heavy atom and target.
        bonds: ``row, bond, begin_atom, end_atom, target, attribution`` (RDKit bond index).
        molecules: ``row, (id), smiles, valid, error, <target>_pred...``: every input row,
            invalid ones with NaN predictions and the reason in ``error``.
        method: the attribution method's name.
        task: ``regression`` or ``classification`` (logits are explained for the latter).
        targets: the explained target names.
        signed: whether the values have a sign (saliency's do not).
        gnn_weights: for a blended model (``train``, unless ``--no-blend``), each explained target's
            weight of the GNN in the blend; the attributions explain the GNN's prediction
            (``<target>_gnn_pred``), the SVM's share is no atom's. Empty for a plain model.
    """

    atoms: pd.DataFrame
    bonds: pd.DataFrame
    molecules: pd.DataFrame
    method: str
    task: str
    targets: list[str] = field(default_factory=list)
    signed: bool = True
    gnn_weights: dict[str, float] = field(default_factory=dict)

    def write(self, out: str | Path, draw: bool = True, draw_limit: int = 100,
              size: tuple[int, int] = SIZE, style: str = "discs") -> Path:
        """Write ``atoms.csv``, ``bonds.csv``, ``molecules.csv`` into ``out`` and, with
        ``draw``, a heat map per molecule and target (``heatmaps/row<R>_<target>.svg|png``,
        ``size`` = (width, height) pixels, the first ``draw_limit`` valid molecules) and
        ``grid.png`` (the first 12). ``style``: ``discs`` (each atom and bond coloured by its
        value) or ``contours`` (RDKit's similarity-map field)."""
        out = Path(out)
        if draw:  # a bad option fails before any file is written
            size, style = check_size(size), check_style(style)
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: cannot write the explanation there, it is a file")
        out.mkdir(parents=True, exist_ok=True)
        self.atoms.to_csv(out / "atoms.csv", index=False)
        self.bonds.to_csv(out / "bonds.csv", index=False)
        self.molecules.to_csv(out / "molecules.csv", index=False)
        if draw:
            draw_explanation(self, out, draw_limit, size, style)
        return out


def explain_molecules(model, smiles: Sequence[str], method: str = DEFAULT_METHOD,
                      targets: Sequence[str] | None = None, device: str = "auto",
                      batch_size: int = 64, rows: Sequence[int] | None = None,
                      n_steps: int = 50, n_samples: int = 10) -> Explanation:
    """Attributions of ``model`` for each SMILES (see the module docstring for what is
    attributed).

    Args:
        model: a model directory (``molgraph train``'s output or its ``model/``) or a
            :class:`~molgraph.inference.artifact.TrainedModel`.
        smiles: the molecules; an invalid one keeps its row, with the reason in ``error``.
        method: a name in :data:`molgraph.explain.METHODS`.
        targets: target names to explain (default: all).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:N]``; used when ``model`` is
            a directory (a loaded model stays where it is).
        batch_size: molecules per attribution pass.
        rows: the row number of each SMILES (default 1, 2, ..., as ``molgraph predict``
            numbers a file's rows).
        n_steps: integrated-gradients steps.
        n_samples: Shapley-sampling permutations.
    """
    from molgraph.chem.featurize import featurize_smiles

    smiles = list(smiles)
    rows = np.arange(1, len(smiles) + 1) if rows is None else np.asarray(rows)
    if len(rows) != len(smiles):
        raise ValueError(f"{len(rows)} row numbers for {len(smiles)} SMILES")
    chunk = featurize_smiles(smiles)
    return _explain(_load(model, device), smiles, rows, chunk, {}, method, targets,
                    batch_size, {"n_steps": n_steps, "n_samples": n_samples})


def explain_file(model, data: str | Path, method: str = DEFAULT_METHOD,
                 targets: Sequence[str] | None = None, device: str = "auto",
                 batch_size: int = 64, smiles_column: str | None = None,
                 id_column: str | None = None, n_steps: int = 50,
                 n_samples: int = 10, delimiter: str | None = None) -> Explanation:
    """:func:`explain_molecules` on a molecule file (CSV/TSV/SMI/SDF, optionally gzipped),
    rows numbered as ``molgraph predict`` numbers them; ``molecules`` gets the file's ids.
    ``delimiter``: CSV/TSV field delimiter (default: found from the file's first lines)."""
    from molgraph.chem.parse import read_molecules
    from molgraph.chem.sources import resolve_data_path
    from molgraph.data.dataset import featurize_cached, report_invalid

    trained = _load(model, device)
    path = resolve_data_path(data)
    table = read_molecules(path, smiles_column, id_column=id_column, delimiter=delimiter)
    chunk = featurize_cached(table.smiles, cache_dir=None)
    report_invalid(table, {**chunk.errors, **table.errors}, path)
    result = _explain(trained, table.smiles, table.rows, chunk, table.errors, method, targets,
                      batch_size, {"n_steps": n_steps, "n_samples": n_samples})
    if table.ids is not None:
        result.molecules.insert(1, "id", table.ids)
    return result


def _load(model, device: str):
    from molgraph.inference.artifact import TrainedModel

    if not isinstance(model, (str, Path, TrainedModel)):
        raise TypeError(f"model must be a model directory or a TrainedModel, not "
                        f"{type(model).__name__}")
    trained = model if isinstance(model, TrainedModel) else TrainedModel.load(model, device)
    kinds = trained.model.config.molecule_features
    if kinds:  # their share of a prediction is not an atom's; not attributed yet
        raise ValueError(f"{model if isinstance(model, (str, Path)) else 'the model'} reads "
                         f"molecule-level features ({', '.join(kinds)}) beside its graph; "
                         "explanations cover graph-only models: train one without "
                         "--molecule-features to explain it")
    return trained


def _target_indices(trained, targets: Sequence[str] | None) -> list[int]:
    """The explained targets' columns. A blended model's targets that its SVM alone predicts
    (GNN weight 0) have nothing for atoms to explain: left out with a warning when no targets
    were named, an error when one was named or none is left."""
    names = trained.target_names
    named = targets is not None and len(targets) > 0
    unknown = [t for t in targets if t not in names] if named else []
    if unknown:
        raise ValueError(f"unknown target {unknown[0]!r}; the model predicts {names}")
    wanted = [names.index(t) for t in dict.fromkeys(targets)] if named else list(
        range(len(names)))
    if trained.blend is None:
        return wanted
    weights = trained.blend.weights
    svm_only = [names[j] for j in wanted if weights[j] <= 0]
    kept = [j for j in wanted if weights[j] > 0]
    if svm_only and (named or not kept):
        usable = [name for name, w in zip(names, weights) if w > 0]
        advice = (f"explain its other targets (--target {' '.join(usable)})" if usable else
                  "to explain a network, train one with --no-blend")
        raise ValueError(f"this model blends its GNN with an SVM on ECFP4 fingerprints (train "
                         f"--blend) and predicts {', '.join(svm_only)} with the SVM alone (GNN "
                         f"weight 0), which no atom attribution explains; {advice}")
    if svm_only:
        log.warning("not explained: %s, which the blend predicts with its SVM alone (GNN "
                    "weight 0)", ", ".join(svm_only))
    return kept


def _explain(trained, smiles: list, rows: np.ndarray, chunk, read_errors: dict[int, str],
             method_name: str, targets, batch_size: int, options: dict) -> Explanation:
    import torch
    from rdkit import Chem

    from molgraph.chem.featurize import quiet_rdkit

    method = get_method(method_name)
    if batch_size < 1:
        raise ValueError(f"batch size (--batch-size) must be at least 1, not {batch_size}")
    wanted = _target_indices(trained, targets)
    names = [trained.target_names[j] for j in wanted]
    errors = {**chunk.errors, **read_errors}
    graph_of = np.full(len(smiles), -1, dtype=np.int64)
    graph_of[np.flatnonzero(chunk.valid)] = np.arange(int(np.sum(chunk.valid)))
    positions = [p for p in np.flatnonzero(chunk.valid) if p not in read_errors]

    # RDKit molecules for the symbols and the bond ends: same parse, same atom order as the graph
    mols: dict[int, Chem.Mol] = {}
    with quiet_rdkit():
        for p in positions:
            mol = Chem.MolFromSmiles(smiles[p])
            g = graph_of[p]
            n_atoms = int(chunk.graphs.atom_ptr[g + 1] - chunk.graphs.atom_ptr[g])
            n_edges = int(chunk.graphs.edge_ptr[g + 1] - chunk.graphs.edge_ptr[g])
            if mol is None or mol.GetNumAtoms() != n_atoms or 2 * mol.GetNumBonds() != n_edges:
                errors[p] = "the molecule's atoms do not match its graph; cannot explain it"
                continue
            mols[p] = mol
    positions = [p for p in positions if p in mols]

    scale = np.asarray(trained.scaler.std if trained.task == "regression"
                       else [1.0] * len(trained.target_names), dtype=np.float64)
    pred = np.full((len(smiles), len(trained.target_names)), np.nan)
    atom_parts, bond_parts = [], []
    model, device = trained.model, trained.device
    model.eval()
    for start in range(0, len(positions), batch_size):
        part = positions[start:start + batch_size]
        batch = chunk.graphs.tensors(graph_of[part]).to(device)
        forward, atoms, bonds = _padded_inputs(model, batch)
        with torch.no_grad():  # a mean-variance head's variances follow the values: left out
            out = forward(atoms, bonds).float()[:, :len(trained.target_names)]
        pred[part] = (torch.sigmoid(out).cpu().numpy() if trained.task == "classification"
                      else trained.scaler.inverse(out.cpu().numpy()))
        for j, name in zip(wanted, names):
            attr_atoms, attr_bonds = method.run(forward, atoms, bonds, j, options)
            attr_atoms = attr_atoms.detach().float().cpu().numpy() * scale[j]
            attr_bonds = attr_bonds.detach().float().cpu().numpy() * scale[j]
            for b, p in enumerate(part):
                mol = mols[p]
                n, m = mol.GetNumAtoms(), mol.GetNumBonds()
                atom_parts.append(pd.DataFrame({
                    "row": rows[p], "atom": np.arange(n),
                    "symbol": [a.GetSymbol() for a in mol.GetAtoms()],
                    "target": name, "attribution": attr_atoms[b, :n]}))
                if m:
                    ends = np.array([(bd.GetBeginAtomIdx(), bd.GetEndAtomIdx())
                                     for bd in mol.GetBonds()])
                    bond_parts.append(pd.DataFrame({
                        "row": rows[p], "bond": np.arange(m), "begin_atom": ends[:, 0],
                        "end_atom": ends[:, 1], "target": name,
                        "attribution": attr_bonds[b, :m]}))
    atoms_frame = _frame(atom_parts, ATOM_COLUMNS)
    bonds_frame = _frame(bond_parts, BOND_COLUMNS)
    if len(atoms_frame):  # rows in input order, then target, then atom
        order = {name: i for i, name in enumerate(names)}
        atoms_frame = _sorted(atoms_frame, "atom", order)
        bonds_frame = _sorted(bonds_frame, "bond", order)
    molecules = pd.DataFrame({"row": rows, "smiles": smiles})
    molecules["valid"] = [p in mols for p in range(len(smiles))]
    molecules["error"] = [errors.get(p, "") for p in range(len(smiles))]
    weights = _blend_columns(trained, molecules, pred, smiles, positions, wanted)
    return Explanation(atoms_frame, bonds_frame, molecules, method.name, trained.task, names,
                       method.signed, weights)


def _blend_columns(trained, molecules: pd.DataFrame, gnn: np.ndarray, smiles: list,
                   positions: list[int], wanted: list[int]) -> dict[str, float]:
    """Add ``<target>_pred`` (the model's prediction) to ``molecules``; for a blended model
    also ``<target>_gnn_pred`` (the GNN alone, which the attributions explain) and
    ``explained``; return the GNN's weight per explained target (empty for a plain model)."""
    names = trained.target_names
    pred = gnn
    if trained.blend is not None:
        pred = np.full_like(gnn, np.nan)
        if positions:
            pred[positions] = trained.blend.predict(gnn[positions], [smiles[p] for p in positions])
    for j in wanted:
        molecules[f"{names[j]}_pred"] = pred[:, j]
        if trained.blend is not None:
            molecules[f"{names[j]}_gnn_pred"] = gnn[:, j]
    if trained.blend is None:
        return {}
    weights = {names[j]: float(trained.blend.weights[j]) for j in wanted}
    parts = {t: f"GNN part (weight {w:.3g} of the blended prediction)" for t, w in weights.items()}
    molecules["explained"] = (next(iter(parts.values())) if len(parts) == 1
                              else "; ".join(f"{t}: {text}" for t, text in parts.items()))
    return weights


def _frame(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "attribution" else object)
                             for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def _sorted(frame: pd.DataFrame, index: str, order: dict[str, int]) -> pd.DataFrame:
    """Input order of rows (row numbers may repeat or be unsorted: keep first appearance)."""
    if not len(frame):
        return frame
    first = {r: i for i, r in reversed(list(enumerate(pd.unique(frame["row"]))))}
    key = pd.DataFrame({"r": frame["row"].map(first), "t": frame["target"].map(order),
                        "i": frame[index]})
    return frame.iloc[np.lexsort((key["i"], key["t"], key["r"]))].reset_index(drop=True)


def _padded_inputs(model, batch):
    """``(forward, atoms, bonds)``: the batch's encoded atoms ``[B, max_atoms, h]`` and bonds
    ``[B, max_bonds, h]`` padded with zeros, and ``forward(atoms, bonds) -> [k·B, out]`` on
    ``k`` stacked copies of such inputs (Captum stacks steps and perturbations on dim 0)."""
    import torch

    with torch.no_grad():
        enc_atoms, enc_edges = model.encode(batch)
    device = enc_atoms.device
    n_graphs, n_atoms_total, n_edges_total = batch.num_graphs, len(batch.batch), len(enc_edges)
    atom_counts = torch.diff(batch.ptr)
    start = batch.ptr[:-1]
    local_atom = torch.arange(n_atoms_total, device=device) - start[batch.batch]
    max_atoms = int(atom_counts.max())
    atom_pos = batch.batch * max_atoms + local_atom  # node → slot in [B * max_atoms]
    # edges 2i and 2i+1 are the two directions of a molecule's bond i (featurizer order)
    edge_graph = batch.batch[batch.edge_index[0]]
    edge_counts = torch.bincount(edge_graph, minlength=n_graphs)
    edge_start = torch.cumsum(edge_counts, 0) - edge_counts
    local_bond = (torch.arange(n_edges_total, device=device) - edge_start[edge_graph]) // 2
    max_bonds = max(1, int(edge_counts.max()) // 2 if n_edges_total else 1)
    edge_pos = edge_graph * max_bonds + local_bond
    h = enc_atoms.shape[1]
    atoms = enc_atoms.new_zeros(n_graphs * max_atoms, h)
    atoms[atom_pos] = enc_atoms
    bonds = enc_edges.new_zeros(n_graphs * max_bonds, enc_edges.shape[1])
    bonds[edge_pos] = enc_edges  # both directions hold the same representation
    cache: dict[int, tuple] = {}

    def copies(k: int):
        if k not in cache:
            c = torch.arange(k, device=device)
            cache[k] = (
                (atom_pos[None] + (c * n_graphs * max_atoms)[:, None]).reshape(-1),
                (edge_pos[None] + (c * n_graphs * max_bonds)[:, None]).reshape(-1),
                SimpleNamespace(
                    edge_index=(batch.edge_index[:, None] + (c * n_atoms_total)[:, None]
                                ).reshape(2, -1),
                    batch=(batch.batch[None] + (c * n_graphs)[:, None]).reshape(-1),
                    num_graphs=k * n_graphs))
        return cache[k]

    def forward(atoms_in, bonds_in):
        k = atoms_in.shape[0] // n_graphs
        a_index, e_index, data = copies(k)
        a = atoms_in.reshape(-1, h)[a_index]
        e = bonds_in.reshape(-1, bonds_in.shape[-1])[e_index]
        out = model.from_encoded(a, e, data)
        # a model that reads no bond features (GCN) still gets bonds in its graph: zero values
        return out + 0 * bonds_in.reshape(out.shape[0], -1).sum(1, keepdim=True)

    return (forward, atoms.reshape(n_graphs, max_atoms, h),
            bonds.reshape(n_graphs, max_bonds, -1))


__all__ = ["Explanation", "METHODS", "explain_file", "explain_molecules"]
