"""Command-line flags derived from configuration dataclasses, in one place.

Every field of a run configuration becomes a flag (``model.hidden_channels`` →
``--hidden-channels``, with older short names kept as aliases), with its type, choices and help
taken from the dataclass and its default shown in ``--help``. Flags the user did not give are
absent from the namespace, so a configuration file (``--config``) is overridden only by the
flags actually given. Fields marked ``derived`` (set from the data) get no flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from molgraph.runtime.configs import field_help

PREFIX = "config:"


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _argument(hint: Any) -> dict[str, Any]:
    """argparse keywords for a field of type ``hint``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None → X
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is list:  # repeatable: --features a.tsv --features b.tsv
        return {"nargs": "+", "action": "extend", "type": typing.get_args(hint)[0]}
    if origin is tuple:
        inner = typing.get_args(hint)
        return {"nargs": len(inner), "type": inner[0]}
    return {"type": hint}


def add_config_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                       prefix: str = "", aliases: dict[str, list[str]] | None = None,
                       require_missing: bool = True) -> None:
    """Add a flag for every field of ``cls`` (nested dataclasses recursively).

    Args:
        parser: where the flags go.
        cls: the configuration dataclass.
        prefix: dotted name of ``cls`` within the whole configuration (``"model."``).
        aliases: dotted name → flags to use instead of ``--field-name`` (the first is shown).
        require_missing: a field without a default is a required flag (``False`` when a
            ``--config`` file may give it instead).
    """
    aliases = aliases or {}
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    for f in dataclasses.fields(cls):
        dotted = prefix + f.name
        if f.metadata.get("derived"):
            continue
        nested = next((c for c in (typing.get_args(hints[f.name]) or (hints[f.name],))
                       if dataclasses.is_dataclass(c)), None)
        if nested is not None:
            add_config_options(parser, nested, dotted + ".", aliases, require_missing)
            continue
        default = _default(f)
        text = helps.get(f.name, "").rstrip(".")
        if f.metadata.get("required") or (default is dataclasses.MISSING
                                           and not require_missing):
            text += " (required, unless --config gives it)"
        elif default is not dataclasses.MISSING and "default:" not in text:
            text += f" (default: {_shown(default)})"
        kwargs = _argument(hints[f.name])
        if kwargs.get("action") is not argparse.BooleanOptionalAction \
                and "choices" not in f.metadata:
            kwargs["metavar"] = f.name.upper()
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        flags = aliases.get(dotted) or ["--" + f.name.replace("_", "-")]
        if default is dataclasses.MISSING and require_missing:
            kwargs["required"] = True
        parser.add_argument(*flags, dest=PREFIX + dotted, default=argparse.SUPPRESS,
                            help=text.replace("%", "%%"), **kwargs)


def given_values(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration values given on the command line, by dotted name."""
    return {key[len(PREFIX):]: value for key, value in vars(args).items()
            if key.startswith(PREFIX)}
