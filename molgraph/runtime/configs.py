"""Configuration dataclasses as plain data: JSON round trips and dotted names.

A run configuration nests dataclasses (``RunConfig.model`` is a ``ModelConfig``); each field has
a dotted name (``model.hidden_channels``, ``train.lr``). The CLI builds its flags from these
fields, a saved run writes them as JSON, and a sweep's search space names them, so every
setting has one name and one default, written once on its dataclass.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _nested_class(hint: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), else ``None``."""
    candidates = typing.get_args(hint) or (hint,)
    return next((c for c in candidates if dataclasses.is_dataclass(c)), None)


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the field type ``hint`` (numpy numbers and arrays count as
    their Python kinds). A list field given something other than a list is left to its
    dataclass, which may take a shorthand (``molecule_features="morgan+rdkit2d"``), and so is
    a type not known here."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        kind = numbers.Integral if hint is int else numbers.Real
        return isinstance(value, kind) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    if origin in (list, tuple):
        items = value.tolist() if hasattr(value, "tolist") else value
        if not isinstance(items, list | tuple):
            return True
        if origin is tuple and Ellipsis not in args:
            return len(items) == len(args) and all(map(_fits, items, args))
        return all(_fits(item, args[0]) for item in items) if args else True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _type_words(hint: Any) -> str:
    """How a message names the type ``hint``: ``a whole number``, ``a list of text``, ..."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_words(a) for a in args)
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if hint in words:
        return words[hint]
    if origin is tuple and args and Ellipsis not in args and len(set(args)) == 1:
        return f"a list of {len(args)} {_type_words(args[0]).removeprefix('a ')}s"
    if origin in (list, tuple) and args:
        return f"a list of {_type_words(args[0]).removeprefix('a ')}" + (
            "s" if args[0] in (int, float) else "")
    return f"a {getattr(hint, '__name__', hint)}"


def check_value(name: str, value: Any, hint: Any) -> None:
    """Refuse ``value`` for the setting ``name`` unless it is of its field type ``hint``,
    naming both: a JSON config's ``"epochs": "two"`` otherwise fails inside the run as
    "'<' not supported between instances of 'str' and 'int'"."""
    if not _fits(value, hint):
        raise ValueError(f"{name} must be {_type_words(hint)}, not {value!r}")


def to_dict(config: Any) -> dict[str, Any]:
    """Nested plain dict of a dataclass (tuples become lists, as in JSON)."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value
    return plain(dataclasses.asdict(config))


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Rebuild ``cls`` from :func:`to_dict`'s output; an unknown key is an error that names it."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {where or cls.__name__} settings {unknown}; known: "
                         f"{sorted(names)}")
    hints = _hints(cls)
    values = {}
    for name, value in data.items():
        nested = _nested_class(hints[name])
        if nested is not None and isinstance(value, dict):
            value = from_dict(nested, value, f"{where}{name}.")
        check_value(f"{where}{name}", value, hints[name])
        if isinstance(value, list) and typing.get_origin(hints[name]) is tuple:
            value = tuple(value)
        values[name] = value
    return cls(**values)


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model.hidden_channels": 300, "train.lr": 0.001, ...}``: every leaf by dotted name."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def with_values(config: T, values: dict[str, Any]) -> T:
    """A copy of ``config`` with the dotted-name ``values`` set (``{"train.lr": 3e-4}``).

    An unknown name is an error listing the known ones, so a typo in a search space or on the
    command line is never silently ignored.
    """
    known = flatten(config)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
    return _replaced(config, values)


def _replaced(config: T, values: dict[str, Any], prefix: str = "") -> T:
    """``config`` with the known dotted-name ``values`` set, each checked against its type."""
    grouped: dict[str, dict[str, Any]] = {}
    direct: dict[str, Any] = {}
    for name, value in values.items():
        head, _, rest = name.partition(".")
        if rest:
            grouped.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    hints = _hints(type(config))
    for head, value in direct.items():
        check_value(f"{prefix}{head}", value, hints[head])
    for head, inner in grouped.items():
        direct[head] = _replaced(getattr(config, head), inner, f"{prefix}{head}.")
    return dataclasses.replace(config, **direct)


_ATTRIBUTE = re.compile(r"^(\s+)(\w+): (.*)$")
_MARKUP = re.compile(r"``|:\w+:`([^`]*)`")


def field_help(cls: type) -> dict[str, str]:
    """Each field's description from the class docstring's ``Attributes:`` section."""
    doc = cls.__doc__ or ""
    if "Attributes:" not in doc:
        return {}
    out: dict[str, str] = {}
    indent, current = None, None
    for line in doc.split("Attributes:", 1)[1].splitlines()[1:]:
        if not line.strip():
            if out:
                break
            continue
        match = _ATTRIBUTE.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent, current = len(match.group(1)), match.group(2)
            out[current] = match.group(3).strip()
        elif current is not None and indent is not None and len(line) - len(line.lstrip()) > indent:
            out[current] += " " + line.strip()
        else:
            break
    return {name: _MARKUP.sub(lambda m: m.group(1) or "", text) for name, text in out.items()}
