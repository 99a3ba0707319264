"""A pretrained encoder: every weight of a graph model but its head, as a plain state dict.

``molgraph pretrain`` writes ``encoder.pt`` (tensors only: read with
``torch.load(weights_only=True)``, never unpickled) and ``encoder.json`` (the model settings
that rebuild it, the descriptors it learned and how). ``train --init-from DIR`` starts a model
from it: the encoders and message passing are copied, the head is new (its outputs are the
new task's), and with ``--freeze-encoder`` only the head trains. Offline by design: a local
directory or file, never a download (chemprop#1336).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from molgraph.runtime.files import atomic_path, write_json

ENCODER_FILE = "encoder.pt"
CARD_FILE = "encoder.json"
#: the model settings an encoder fixes (the rest, such as the head and dropout, are the run's)
ARCHITECTURE = ("name", "hidden_channels", "num_layers", "pooling", "heads", "atom_vocab",
                "bond_vocab")
HEAD = "head."


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights of ``model`` outside its head (embeddings and message passing)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if not k.startswith(HEAD)}


def save_encoder(model: nn.Module, directory: str | Path, card: dict[str, Any]) -> Path:
    """Write ``directory/encoder.pt`` and ``directory/encoder.json`` (``card`` plus the
    architecture); the path of the weights."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / ENCODER_FILE) as tmp:  # never half an encoder under the name
        torch.save(encoder_state(model), tmp)
    config = model.config.to_dict()
    write_json(directory / CARD_FILE, {"architecture": {k: config[k] for k in ARCHITECTURE},
                                       **card})
    return directory / ENCODER_FILE


def read_encoder(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The card (``encoder.json``) and weights of the encoder in ``path`` (a directory from
    ``molgraph pretrain``, or its ``encoder.pt``)."""
    path = Path(path)
    weights = path / ENCODER_FILE if path.is_dir() else path
    card_path = weights.parent / CARD_FILE
    if not weights.is_file() or not card_path.is_file():
        raise ValueError(f"--init-from {path}: no pretrained encoder there (needs {ENCODER_FILE} "
                         f"and {CARD_FILE}, as molgraph pretrain writes them)")
    try:
        card = json.loads(card_path.read_text())
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # a broken or foreign file: one line, not a traceback
        raise ValueError(f"--init-from {path}: not a readable encoder ({type(err).__name__}: "
                         f"{err})") from err
    if not isinstance(state, dict) or "architecture" not in card:
        raise ValueError(f"--init-from {path}: {weights.name} is not an encoder state dict")
    return card, state


def architecture_values(card: dict[str, Any]) -> dict[str, Any]:
    """The model settings (dotted names) a run takes from an encoder's card."""
    return {f"model.{k}": v for k, v in card["architecture"].items()}


def load_encoder(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path,
                 freeze: bool = False) -> None:
    """Copy the encoder weights ``state`` (:func:`read_encoder` of ``path``, named in errors)
    into ``model`` (built with :func:`architecture_values`); with ``freeze``, its parameters
    take no gradient. Refused when the weights do not fit."""
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    missing = [k for k in own if not k.startswith(HEAD) and k not in state]
    if wrong or missing:
        raise ValueError(f"--init-from {path}: the encoder does not fit this model "
                         f"({len(wrong)} weights of another shape or name, e.g. "
                         f"{(wrong or missing)[0]}); it was pretrained for another "
                         "architecture or featurizer")
    model.load_state_dict(state, strict=False)
    if freeze:
        for name, parameter in model.named_parameters():
            if not name.startswith(HEAD):
                parameter.requires_grad_(False)
