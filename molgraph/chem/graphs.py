"""Many molecular graphs in flat arrays, and fast batching of them into PyG ``Batch`` objects.

One ``Data`` object per molecule costs ~1 KB and ~20 µs to collate; a screening library has
millions. ``MolGraphs`` keeps all graphs in five flat numpy arrays with offsets (as PyG's
``InMemoryDataset`` does internally) and builds a batch with a few vectorised gathers. The same
arrays are the on-disk cache and the featurized-library store. torch is imported only to batch;
PyG only for :meth:`MolGraphs.batch` (molgraph's own training and prediction use
:meth:`MolGraphs.tensors`: importing PyG takes ~2 s, which every screening process would pay).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported only to batch
    import torch


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each start/count, without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.arange(total, dtype=np.int64) + shift


@dataclass
class GraphBatch:
    """Batched graph tensors under PyG ``Batch``'s attribute names: what molgraph's models read.

    Shapes: ``x`` ``[N, 8]`` long, ``edge_index`` ``[2, E]`` long (batch-global indices),
    ``edge_attr`` ``[E, 4]`` long, ``batch`` ``[N]``, ``ptr`` ``[B + 1]``, ``y`` ``[B, T]``,
    ``u`` ``[B, D]`` float molecule-level features (``molgraph.chem.molfeatures``) or ``None``.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    batch: torch.Tensor
    ptr: torch.Tensor
    y: torch.Tensor | None = None
    u: torch.Tensor | None = None

    @property
    def num_graphs(self) -> int:
        return len(self.ptr) - 1

    def to(self, device) -> GraphBatch:
        return GraphBatch(**{f.name: None if getattr(self, f.name) is None
                             else getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class MolGraphs:
    """Graphs of ``M`` molecules.

    Attributes:
        x: ``[num_atoms_total, n_atom_features]`` int8 category indices.
        edge_index: ``[2, num_edges_total]`` int32 atom indices *local to each molecule*.
        edge_attr: ``[num_edges_total, n_bond_features]`` int8 category indices.
        atom_ptr: ``[M + 1]`` offsets of each molecule's atoms in ``x``.
        edge_ptr: ``[M + 1]`` offsets of each molecule's edges.
        u: ``[M, D]`` float32 molecule-level features, when a model reads them, else ``None``.
    """

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    atom_ptr: np.ndarray
    edge_ptr: np.ndarray
    u: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.atom_ptr) - 1

    @staticmethod
    def concat(parts: Sequence[MolGraphs]) -> MolGraphs:
        """Join graph sets, keeping order."""
        if len(parts) == 1:
            return parts[0]
        atom_off = np.cumsum([0] + [p.atom_ptr[-1] for p in parts])
        edge_off = np.cumsum([0] + [p.edge_ptr[-1] for p in parts])
        return MolGraphs(
            x=np.concatenate([p.x for p in parts]),
            edge_index=np.concatenate([p.edge_index for p in parts], axis=1),
            edge_attr=np.concatenate([p.edge_attr for p in parts]),
            atom_ptr=np.concatenate([[0]] + [p.atom_ptr[1:] + o for p, o in zip(parts, atom_off)]),
            edge_ptr=np.concatenate([[0]] + [p.edge_ptr[1:] + o for p, o in zip(parts, edge_off)]),
            u=np.concatenate([p.u for p in parts]) if all(p.u is not None for p in parts)
            else None,
        )

    def take(self, index: np.ndarray | Sequence[int]) -> MolGraphs:
        """The graphs at ``index`` (in that order) as a new ``MolGraphs``."""
        index = np.asarray(index, dtype=np.int64)
        atoms = self.atom_ptr[index + 1] - self.atom_ptr[index]
        edges = self.edge_ptr[index + 1] - self.edge_ptr[index]
        atom_rows = _ranges(self.atom_ptr[index], atoms)
        edge_rows = _ranges(self.edge_ptr[index], edges)
        return MolGraphs(
            x=self.x[atom_rows],
            edge_index=self.edge_index[:, edge_rows],
            edge_attr=self.edge_attr[edge_rows],
            atom_ptr=np.concatenate([[0], np.cumsum(atoms)]),
            edge_ptr=np.concatenate([[0], np.cumsum(edges)]),
            u=None if self.u is None else self.u[index],
        )

    def tensors(self, index: np.ndarray | Sequence[int] | None = None,
                y: np.ndarray | None = None) -> GraphBatch:
        """The graphs at ``index`` (all when ``None``) batched as a :class:`GraphBatch`."""
        import torch

        part = self if index is None else self.take(index)
        atoms = np.diff(part.atom_ptr)
        edges = np.diff(part.edge_ptr)
        edge_index = part.edge_index.astype(np.int64) + np.repeat(part.atom_ptr[:-1], edges)
        return GraphBatch(
            x=torch.from_numpy(part.x.astype(np.int64)),
            edge_index=torch.from_numpy(edge_index),
            edge_attr=torch.from_numpy(part.edge_attr.astype(np.int64)),
            batch=torch.from_numpy(np.repeat(np.arange(len(part)), atoms)),
            ptr=torch.from_numpy(part.atom_ptr.astype(np.int64)),
            y=None if y is None else torch.from_numpy(np.asarray(y, dtype=np.float32)),
            u=None if part.u is None else torch.from_numpy(np.asarray(part.u, np.float32)),
        )

    def batch(self, index: np.ndarray | Sequence[int] | None = None, y: np.ndarray | None = None):
        """The same as :meth:`tensors`, as a ``torch_geometric.data.Batch`` (for PyG code)."""
        from torch_geometric.data import Batch

        tensors = self.tensors(index, y)
        out = Batch(x=tensors.x, edge_index=tensors.edge_index, edge_attr=tensors.edge_attr,
                    batch=tensors.batch, ptr=tensors.ptr)
        out._num_graphs = tensors.num_graphs
        if y is not None:
            out.y = tensors.y
        if tensors.u is not None:
            out.u = tensors.u
        return out

    def data(self, i: int):
        """Graph ``i`` as a ``torch_geometric.data.Data``."""
        import torch
        from torch_geometric.data import Data

        a0, a1 = self.atom_ptr[i], self.atom_ptr[i + 1]
        e0, e1 = self.edge_ptr[i], self.edge_ptr[i + 1]
        return Data(
            x=torch.from_numpy(self.x[a0:a1].astype(np.int64)),
            edge_index=torch.from_numpy(self.edge_index[:, e0:e1].astype(np.int64)),
            edge_attr=torch.from_numpy(self.edge_attr[e0:e1].astype(np.int64)),
        )

    def with_features(self, u: np.ndarray | None) -> MolGraphs:
        """The same graphs carrying the molecule-level features ``u`` ``[M, D]``."""
        if u is not None and len(u) != len(self):
            raise ValueError(f"{len(u)} feature rows for {len(self)} graphs")
        return replace(self, u=u)

    def save(self, path: str | Path, **extra: np.ndarray) -> None:
        """Write as ``.npz`` (no pickle); ``extra`` arrays are stored beside the graphs (the
        molecule-level features are not: they are computed for the model that reads them)."""
        np.savez(path, x=self.x, edge_index=self.edge_index, edge_attr=self.edge_attr,
                 atom_ptr=self.atom_ptr, edge_ptr=self.edge_ptr, **extra)

    @staticmethod
    def load(path: str | Path) -> tuple[MolGraphs, dict[str, np.ndarray]]:
        """Read what :meth:`save` wrote: the graphs and the extra arrays."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        graphs = MolGraphs(*(arrays.pop(k) for k in
                             ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr")))
        return graphs, arrays
