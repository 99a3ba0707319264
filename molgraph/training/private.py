"""Differentially private training: DP-SGD (Abadi et al. 2016) with per-*molecule* clipping.

Opacus clips per row of a layer's input, which in a graph network is an atom or a bond, not a
molecule (opacus#588); Mueller et al. (TPAMI 2023) show that clipping per graph is what makes
DP-SGD correct for graph classification. Here each molecule's gradient is computed on its own,
vectorised with ``torch.func``: the model's own forward, vmapped over molecules padded to the
largest in a chunk (a padding atom sits in a second, ignored graph, so the molecule's output is
unchanged). With a frozen pretrained encoder only the head trains: the encoder's output for
the sampled molecules is computed batched, without gradients, and each molecule's gradient is
the head's alone (several times faster). Each step:

1. Poisson sampling: every training molecule joins with probability ``q = batch_size / n``
   (the sampling the accountant's bound assumes);
2. each sampled molecule's gradient ``g_i`` (all parameters) clipped to ``‖g_i‖ ≤ C``;
3. ``(Σ clip(g_i) + N(0, σ²C²)) / (q·n)`` is the gradient the optimiser steps with.

σ is chosen by Opacus's RDP accountant so that the planned epochs spend at most the budget ε
at δ; the accountant then follows the steps actually taken (early stopping spends less) and
the ε spent is reported. The validation molecules choose the epoch as in ordinary training and
are not covered by the guarantee; neither is anything saved beside the weights that was
computed from the training molecules without noise (``job`` refuses or drops those parts).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

from molgraph.chem.graphs import MolGraphs
from molgraph.training.config import TrainConfig

log = logging.getLogger(__name__)
#: molecules whose gradients are computed together (memory: chunk × parameters floats)
CHUNK = 32
#: the same for a head alone on a frozen encoder's output (chunk × the head's parameters)
HEAD_CHUNK = 256
#: Rényi orders the accountant tries: Opacus's default (up to 63) and higher ones, which the
#: small sampling rates of large data sets need for a tight bound
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 257))


@dataclass
class PrivacyPlan:
    """The noise of a private run and the privacy it spends.

    Attributes:
        epsilon: the budget ε asked for.
        delta: the δ of (ε, δ)-DP.
        max_grad_norm: the clipping norm C of each molecule's gradient.
        sample_rate: q, the probability that a molecule joins a step.
        noise_multiplier: σ: the noise's standard deviation is σ·C.
        steps_per_epoch: steps of one epoch (1 / q, rounded).
    """

    epsilon: float
    delta: float
    max_grad_norm: float
    sample_rate: float
    noise_multiplier: float
    steps_per_epoch: int

    @classmethod
    def for_run(cls, config: TrainConfig, n_train: int) -> PrivacyPlan:
        """The noise that lets ``config.epochs`` epochs over ``n_train`` molecules spend
        ``config.dp_epsilon`` at ``config.dp_delta`` (default ``1 / n_train``)."""
        from opacus.accountants.utils import get_noise_multiplier

        delta = config.dp_delta or 1.0 / n_train
        rate = min(1.0, config.batch_size / n_train)
        steps = max(1, round(1 / rate))
        try:
            sigma = get_noise_multiplier(target_epsilon=config.dp_epsilon, target_delta=delta,
                                         sample_rate=rate, steps=steps * config.epochs,
                                         accountant="rdp", alphas=ALPHAS)
        except ValueError as err:  # Opacus: "The privacy budget is too low."
            raise ValueError(f"no noise keeps {config.epochs} epochs over {n_train} molecules "
                             f"(batch size {config.batch_size}) within ε {config.dp_epsilon} "
                             f"at δ {delta:.3g}: give a larger --dp-epsilon or fewer --epochs"
                             ) from err
        return cls(config.dp_epsilon, delta, config.dp_max_grad_norm, rate, sigma, steps)


class Accountant:
    """Opacus's RDP accountant over the steps a run actually takes."""

    def __init__(self, plan: PrivacyPlan) -> None:
        from opacus.accountants import RDPAccountant

        self.plan, self.steps, self._rdp = plan, 0, RDPAccountant()

    def step(self) -> None:
        self._rdp.step(noise_multiplier=self.plan.noise_multiplier,
                       sample_rate=self.plan.sample_rate)
        self.steps += 1

    def spent(self) -> float:
        """ε spent so far at the plan's δ (0 before any step)."""
        return float(self._rdp.get_epsilon(self.plan.delta, alphas=ALPHAS)) if self.steps else 0.0

    def report(self) -> dict[str, float | int | str]:
        """What ``metrics.json`` ``"privacy"`` records."""
        plan = self.plan
        return {"epsilon_target": plan.epsilon, "epsilon_spent": round(self.spent(), 4),
                "delta": plan.delta, "max_grad_norm": plan.max_grad_norm,
                "noise_multiplier": round(plan.noise_multiplier, 5),
                "sample_rate": round(plan.sample_rate, 6), "steps": self.steps,
                "accountant": "RDP (opacus)", "clipping": "per molecule"}


class _Molecule:
    """One padded molecule as the models read a batch: its atoms form graph 0, the padding
    atom graph 1 (``num_graphs`` 2), so pooling keeps the molecule's own output in row 0."""

    num_graphs = 2

    def __init__(self, x: Tensor, edge_attr: Tensor, edge_index: Tensor, batch: Tensor,
                 u: Tensor | None = None) -> None:
        self.x, self.edge_attr, self.edge_index, self.batch, self.u = (
            x, edge_attr, edge_index, batch, u)


def padded(graphs: MolGraphs, index: np.ndarray) -> dict[str, Tensor]:
    """The molecules ``index`` padded to the largest: ``x`` ``[B, N, F]``, ``edge_attr``
    ``[B, E, F_bond]``, ``edge_index`` ``[B, 2, E]``, ``batch`` ``[B, N]`` (0: the molecule,
    1: padding) and ``u`` ``[B, 2, D]`` (row 1 zeros) when the graphs carry molecule features.
    ``N`` is one more than the most atoms: the last atom pads, and padding edges are loops on
    it, in pairs, as the D-MPNN expects a bond's two directions side by side."""
    part = graphs.take(index)
    atoms, edges = np.diff(part.atom_ptr), np.diff(part.edge_ptr)
    size, n_atoms, n_edges = len(index), int(atoms.max()) + 1, int(edges.max())
    x = np.zeros((size, n_atoms, part.x.shape[1]), np.int64)
    edge_attr = np.zeros((size, n_edges, part.edge_attr.shape[1]), np.int64)
    edge_index = np.full((size, 2, n_edges), n_atoms - 1, np.int64)
    batch = np.ones((size, n_atoms), np.int64)
    for i in range(size):
        a0, a1 = part.atom_ptr[i], part.atom_ptr[i + 1]
        e0, e1 = part.edge_ptr[i], part.edge_ptr[i + 1]
        x[i, :a1 - a0], batch[i, :a1 - a0] = part.x[a0:a1], 0
        edge_attr[i, :e1 - e0] = part.edge_attr[e0:e1]
        edge_index[i, :, :e1 - e0] = part.edge_index[:, e0:e1]
    tensors = {"x": x, "edge_attr": edge_attr, "edge_index": edge_index, "batch": batch}
    out = {k: torch.from_numpy(v) for k, v in tensors.items()}
    if part.u is not None:
        u = np.zeros((size, 2, part.u.shape[1]), np.float32)
        u[:, 0] = part.u
        out["u"] = torch.from_numpy(u)
    return out


def per_molecule_gradients(model: nn.Module, molecules: dict[str, Tensor], y: Tensor,
                           loss: Callable[[Tensor, Tensor], Tensor]
                           ) -> tuple[dict[str, Tensor], Tensor]:
    """Each molecule's gradient of ``loss(output [1, T], labels [1, T])``, ``{name:
    [B, *parameter.shape]}`` for every trainable parameter, and its loss ``[B]``, from one
    vectorised pass over the molecules of :func:`padded`."""
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())
    tensors = [molecules[k] for k in ("x", "edge_attr", "edge_index", "batch", "u")
               if k in molecules]

    def molecule_loss(p: dict[str, Tensor], labels: Tensor, *graph: Tensor) -> Tensor:
        out = functional_call(model, (p, buffers), (_Molecule(*graph),))[:1]
        return loss(out, labels[None])

    with warnings.catch_warnings():  # embedding_bag runs molecule by molecule under vmap:
        # faster here than a gather or a multi-hot product that vmap could batch
        warnings.filterwarnings("ignore", "There is a performance drop", UserWarning)
        return vmap(grad_and_value(molecule_loss), in_dims=(None, 0, *[0] * len(tensors)),
                    randomness="different")(params, y, *tensors)


def head_only(model: nn.Module) -> bool:
    """Whether only the head trains (a frozen pretrained encoder): then a molecule's gradient
    is the head's alone, computed from the encoder's batched output."""
    trainable = [k for k, p in model.named_parameters() if p.requires_grad]
    return hasattr(model, "head_features") and all(k.startswith("head.") for k in trainable)


def per_molecule_head_gradients(model: nn.Module, features: Tensor, y: Tensor,
                                loss: Callable[[Tensor, Tensor], Tensor]
                                ) -> tuple[dict[str, Tensor], Tensor]:
    """As :func:`per_molecule_gradients` for a model whose head alone trains, from what the
    head reads ``[B, h + D]``: gradients keyed by the model's parameter names, losses ``[B]``."""
    params = {k: p.detach() for k, p in model.head.named_parameters() if p.requires_grad}

    def molecule_loss(p: dict[str, Tensor], labels: Tensor, row: Tensor) -> Tensor:
        return loss(functional_call(model.head, p, (row[None],)), labels[None])

    gradients, losses = vmap(grad_and_value(molecule_loss), in_dims=(None, 0, 0),
                             randomness="different")(params, y, features)
    return {f"head.{k}": g for k, g in gradients.items()}, losses


def clip(gradients: dict[str, Tensor], max_norm: float) -> tuple[dict[str, Tensor], Tensor]:
    """The sum over molecules of each molecule's gradient scaled to norm at most ``max_norm``,
    and the molecules' norms before clipping ``[B]``."""
    norms = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in gradients.values()]),
        dim=0)
    factors = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    return {k: torch.einsum("b,b...->...", factors, g) for k, g in gradients.items()}, norms


def private_epoch(model: nn.Module, graphs: MolGraphs, y_scaled: np.ndarray,
                  plan: PrivacyPlan, accountant: Accountant, loss: Callable,
                  optimizer: torch.optim.Optimizer, scheduler, rng: np.random.Generator,
                  noise: torch.Generator, device: torch.device,
                  on_batch: Callable[[int, int], None]) -> float:
    """One epoch of DP-SGD (``plan.steps_per_epoch`` Poisson-sampled steps); the mean
    per-molecule training loss of the sampled molecules (before clipping). ``on_batch(done,
    n)`` hears the molecules an epoch has drawn on average by each step."""
    model.train()
    head = head_only(model)
    chunk = HEAD_CHUNK if head else CHUNK
    n, total, count = len(graphs), 0.0, 0
    expected = plan.sample_rate * n
    on_batch(0, n)
    for step_no in range(plan.steps_per_epoch):
        chosen = np.flatnonzero(rng.random(n) < plan.sample_rate)
        # similar sizes together: less padding (the clipped sum does not depend on the order)
        chosen = chosen[np.argsort(np.diff(graphs.atom_ptr)[chosen], kind="stable")]
        summed = {k: torch.zeros_like(p) for k, p in model.named_parameters()
                  if p.requires_grad}
        for start in range(0, len(chosen), chunk):
            part = chosen[start:start + chunk]
            labels = torch.from_numpy(y_scaled[part]).to(device)
            if head:
                with torch.no_grad():
                    features = model.head_features(graphs.tensors(part).to(device))
                gradients, losses = per_molecule_head_gradients(model, features, labels, loss)
            else:
                molecules = {k: v.to(device) for k, v in padded(graphs, part).items()}
                gradients, losses = per_molecule_gradients(model, molecules, labels, loss)
            clipped, _ = clip(gradients, plan.max_grad_norm)
            for k, g in clipped.items():
                summed[k] += g
            total += float(losses.sum())
            count += len(part)
        std = plan.noise_multiplier * plan.max_grad_norm
        for k, p in model.named_parameters():
            if p.requires_grad:
                added = std * torch.randn(p.shape, generator=noise)
                p.grad = (summed[k] + added.to(device)) / expected
        optimizer.step()
        scheduler.step()
        accountant.step()
        on_batch(min(n, round((step_no + 1) * n / plan.steps_per_epoch)), n)
    return total / max(count, 1)


def log_plan(plan: PrivacyPlan, epochs: int) -> None:
    log.info("differential privacy: ε ≤ %g at δ %.3g over %d epochs: noise multiplier %.3f, "
             "clipping norm %g, sampling rate %.4f (%d steps an epoch)", plan.epsilon,
             plan.delta, epochs, plan.noise_multiplier, plan.max_grad_norm, plan.sample_rate,
             plan.steps_per_epoch)
