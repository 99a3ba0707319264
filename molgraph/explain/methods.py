"""Attribution methods by name: each a Captum attribution class run on the encoded atom and bond
representations of a batch of molecules.

Every method sees the same two inputs per molecule, padded to the batch's largest molecule:
atoms ``[B, max_atoms, h]`` and bonds ``[B, max_bonds, h]`` (one row per RDKit bond; the model
gets it on both directed edges, so a bond's value is the sum over its two edges). The
baseline, where a method needs one, is zero for every atom and bond representation: "no
information from this atom". A method gives ``[B, max_atoms]`` and ``[B, max_bonds]`` values
(padding positions are dropped later).

Captum is imported only when a method runs, so ``import molgraph.explain`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Method:
    """One attribution method.

    Attributes:
        name: what ``--method`` takes.
        description: one line for ``--help`` and the docs.
        signed: whether values carry a sign (saliency gives magnitudes only).
        run: ``run(forward, atoms, bonds, target, options) -> (atom values, bond values)``.
    """

    name: str
    description: str
    signed: bool
    run: Callable[..., tuple[Any, Any]]


def _zeros(atoms, bonds):
    import torch

    return torch.zeros_like(atoms), torch.zeros_like(bonds)


def _requiring_grad(atoms, bonds):
    """Copies that require gradients (Captum warns when it has to set that itself)."""
    return atoms.detach().clone().requires_grad_(), bonds.detach().clone().requires_grad_()


def _integrated_gradients(forward, atoms, bonds, target: int, options: dict):
    from captum.attr import IntegratedGradients

    steps = int(options.get("n_steps", 50))
    graphs_per_pass = int(options.get("graphs_per_pass", 1024))
    per_pass = max(1, graphs_per_pass // max(1, atoms.shape[0]))
    attr_atoms, attr_bonds = IntegratedGradients(forward).attribute(
        (atoms, bonds), baselines=_zeros(atoms, bonds), target=target, n_steps=steps,
        internal_batch_size=atoms.shape[0] * min(steps, per_pass))
    return attr_atoms.sum(-1), attr_bonds.sum(-1)


def _saliency(forward, atoms, bonds, target: int, options: dict):
    from captum.attr import Saliency

    inputs = _requiring_grad(atoms, bonds)
    attr_atoms, attr_bonds = Saliency(forward).attribute(inputs, target=target, abs=True)
    return attr_atoms.sum(-1), attr_bonds.sum(-1)


def _input_x_gradient(forward, atoms, bonds, target: int, options: dict):
    from captum.attr import InputXGradient

    inputs = _requiring_grad(atoms, bonds)
    attr_atoms, attr_bonds = InputXGradient(forward).attribute(inputs, target=target)
    return attr_atoms.sum(-1), attr_bonds.sum(-1)


def _shapley_sampling(forward, atoms, bonds, target: int, options: dict):
    """Players are the atoms and the bonds: one feature group per atom (its ``h`` values) and per
    bond. Group ``j`` is position ``j`` of every molecule of the batch at once; molecules do
    not interact, so each molecule's estimate is that of its own atoms and bonds."""
    import torch
    from captum.attr import ShapleyValueSampling

    max_atoms, max_bonds, h = atoms.shape[1], bonds.shape[1], atoms.shape[2]
    atom_mask = torch.arange(max_atoms, device=atoms.device)[None, :, None].expand(1, -1, h)
    bond_mask = (max_atoms + torch.arange(max_bonds, device=atoms.device))[None, :, None].expand(
        1, -1, bonds.shape[2])
    samples = int(options.get("n_samples", 10))
    per_eval = max(1, int(options.get("graphs_per_pass", 1024)) // max(1, atoms.shape[0]))
    attr_atoms, attr_bonds = ShapleyValueSampling(forward).attribute(
        (atoms, bonds), baselines=_zeros(atoms, bonds), target=target,
        feature_mask=(atom_mask.contiguous(), bond_mask.contiguous()), n_samples=samples,
        perturbations_per_eval=per_eval)
    # Captum gives each element of a group the group's value: one element per atom/bond is it.
    return attr_atoms[..., 0], attr_bonds[..., 0]


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("integrated_gradients", "Captum IntegratedGradients from an all-zero baseline "
           "(n_steps, default 50); atom + bond values add up to f(x) - f(baseline)", True,
           _integrated_gradients),
    Method("saliency", "Captum Saliency: |gradient| of the output, summed over the hidden "
           "features (magnitudes, no sign)", False, _saliency),
    Method("input_x_gradient", "Captum InputXGradient: representation × gradient, summed over "
           "the hidden features", True, _input_x_gradient),
    Method("shapley_sampling", "Captum ShapleyValueSampling over atoms and bonds as players, "
           "absent = zero representation (n_samples permutations, default 10; slow)", True,
           _shapley_sampling),
)}

DEFAULT_METHOD = "integrated_gradients"


def get_method(name: str) -> Method:
    """The method called ``name``; a ``ValueError`` listing the names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown attribution method {name!r}; choose one of "
                         f"{', '.join(METHODS)}") from None
