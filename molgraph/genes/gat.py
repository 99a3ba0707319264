"""Graph attention on a CSR adjacency, fast enough for whole PPI networks on one CPU thread.

PyG's ``GATConv`` materialises every edge's message (``[E, heads, channels]``) and scatters it
back, about 0.6 s per layer and step on PPNet (11k genes, 570k directed edges) on one thread.
Here the weighted sum over neighbours is one sparse × dense product per head
(``torch.sparse.mm``) and the attention gradient a sampled dense product
(``torch.sparse.sampled_addmm``), which never builds per-edge messages: about 5× less time per
layer, with the same function and the same parameter names as ``GATConv`` (saved models load
either way). PyG's own fused kernel (``FusedGATConv``) needs CUDA and dgNN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.utils import softmax


@dataclass
class AttentionGraph:
    """A graph with one self-loop per node in CSR form (row = target) and its transpose.

    Shapes: ``crow`` ``[N + 1]``; ``col``, ``row`` ``[E]`` (source and target of each stored
    edge); ``to_transpose`` ``[E]`` reorders edge values into the transpose's CSR order;
    ``crow_t``, ``col_t`` the transpose (row = source).
    """

    num_nodes: int
    crow: Tensor
    col: Tensor
    row: Tensor
    to_transpose: Tensor
    crow_t: Tensor
    col_t: Tensor

    @classmethod
    def build(cls, adjacency: Tensor, num_nodes: int) -> AttentionGraph:
        """From a sparse ``adj_t`` (row = target) or an ``edge_index`` (``[2, E]``, source
        first); existing self-loops and weights are dropped, one self-loop per node added (as
        ``GATConv`` does)."""
        if adjacency.is_sparse or adjacency.layout == torch.sparse_csr:
            coo = adjacency.to_sparse_coo().coalesce()
            target, source = coo.indices()
        else:
            source, target = adjacency
        keep = source != target
        loops = torch.arange(num_nodes, device=source.device)
        source = torch.cat([source[keep], loops])
        target = torch.cat([target[keep], loops])
        order = torch.argsort(target * num_nodes + source)
        row, col = target[order], source[order]
        crow = _pointers(row, num_nodes)
        to_transpose = torch.argsort(col * num_nodes + row)
        return cls(num_nodes, crow, col, row, to_transpose, _pointers(col[to_transpose],
                                                                      num_nodes),
                   row[to_transpose])

    def matrix(self, values: Tensor, transpose: bool = False) -> Tensor:
        """The ``[N, N]`` CSR matrix with ``values`` (``[E]``, in this graph's edge order)."""
        n = self.num_nodes
        crow, col = (self.crow_t, self.col_t) if transpose else (self.crow, self.col)
        values = values[self.to_transpose] if transpose else values
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(crow, col, values.contiguous(), (n, n),
                                           check_invariants=False)


def _pointers(sorted_index: Tensor, num_nodes: int) -> Tensor:
    counts = torch.bincount(sorted_index, minlength=num_nodes)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


class _AttentionSum(torch.autograd.Function):
    """``out[:, h] = A_h @ x[:, h]`` with ``A_h`` the CSR matrix of ``alpha[:, h]``.

    Shapes: ``alpha`` ``[E, H]``, ``x`` ``[N, H, C]``, output ``[N, H, C]``.
    """

    @staticmethod
    def forward(ctx, alpha: Tensor, x: Tensor, graph: AttentionGraph) -> Tensor:
        ctx.save_for_backward(alpha, x)
        ctx.graph = graph
        return torch.stack([torch.sparse.mm(graph.matrix(alpha[:, h]), x[:, h])
                            for h in range(x.shape[1])], 1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        alpha, x = ctx.saved_tensors
        graph: AttentionGraph = ctx.graph
        grad_alpha = grad_x = None
        if ctx.needs_input_grad[0]:  # d out_i / d alpha_ij = x_j: sampled at the edges only
            pattern = graph.matrix(alpha.new_zeros(len(graph.col)))
            grad_alpha = torch.stack([
                torch.sparse.sampled_addmm(pattern, grad[:, h].contiguous(),
                                           x[:, h].t().contiguous(), beta=0.0).values()
                for h in range(x.shape[1])], 1)
        if ctx.needs_input_grad[1]:
            grad_x = torch.stack([torch.sparse.mm(graph.matrix(alpha[:, h], transpose=True),
                                                  grad[:, h].contiguous())
                                  for h in range(x.shape[1])], 1)
        return grad_alpha, grad_x, None


class SparseGATConv(nn.Module):
    """GAT layer (Veličković et al., ICLR 2018), heads concatenated, self-loops added.

    The function of PyG's ``GATConv(in_channels, out_channels, heads)`` with its defaults
    (LeakyReLU slope 0.2, no attention dropout, bias); ``forward`` takes an
    :class:`AttentionGraph`. Shapes: ``x`` ``[N, in_channels]`` → ``[N, heads · out_channels]``.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1,
                 negative_slope: float = 0.2) -> None:
        super().__init__()
        self.heads, self.out_channels, self.negative_slope = heads, out_channels, negative_slope
        self.lin = Linear(in_channels, heads * out_channels, bias=False,
                          weight_initializer="glorot")
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(heads * out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(self, x: Tensor, graph: AttentionGraph) -> Tensor:
        h = self.lin(x).view(-1, self.heads, self.out_channels)
        score_src = (h * self.att_src).sum(-1)  # [N, H]
        score_dst = (h * self.att_dst).sum(-1)
        logits = score_src.index_select(0, graph.col) + score_dst.index_select(0, graph.row)
        alpha = softmax(F.leaky_relu(logits, self.negative_slope), ptr=graph.crow, dim=0)
        out = _AttentionSum.apply(alpha, h, graph)
        return out.reshape(-1, self.heads * self.out_channels) + self.bias
