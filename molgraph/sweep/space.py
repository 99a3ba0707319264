"""The search space of a sweep, addressed by the run configuration's dotted names.

A space is a YAML mapping, sampled in file order (format and template:
``experiments/sweep_space_default.yaml``)::

    model.name: {type: categorical, choices: [dmpnn, gcn, gat]}
    model.hidden_channels: {type: int, low: 64, high: 512, step: 32}
    train.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
    model.heads: {type: categorical, choices: [1, 2, 4], when: {model.name: gat}}
    train.epochs: 30                     # a plain value (or {type: fixed, value: 30}) is fixed
    model.num_layers: [2, 3, 4]          # a plain list is a categorical

``when`` samples an entry only when every named setting (an earlier entry, else the base
configuration's value) has one of the given values. Every entry is checked against
``RunConfig`` when read, so a typo fails at once with a ``ValueError`` naming the file and the
entry. Sampling is plain ``trial.suggest_*`` calls (Optuna's define-by-run).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molgraph.runtime.configs import flatten, with_values
from molgraph.training.config import RunConfig

KINDS = ("categorical", "float", "int", "fixed")
KEYS = ("type", "choices", "low", "high", "step", "log", "value", "when")
#: Settings a sweep never searches: the data and what they decide, and the task, split and
#: seed, which must be the same for every trial, or validation scores are not comparable.
NOT_SEARCHED = ("data.", "model.atom_vocab", "model.bond_vocab", "model.out_channels", "task",
                "split", "split_sizes", "seed", "folds", "val_fraction", "train.device",
                "train.threads", "baseline")

DEFAULT = {
    "model.name": {"type": "categorical",
                   "choices": ["dmpnn", "gcn", "gat", "gine", "attentivefp"]},
    "model.hidden_channels": {"type": "int", "low": 64, "high": 512, "step": 32},
    "model.num_layers": {"type": "int", "low": 2, "high": 6},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.4, "step": 0.05},
    "model.ffn_layers": {"type": "int", "low": 1, "high": 3},
    # AttentiveFP has its own attentive readout; heads must divide hidden_channels (x 32)
    "model.pooling": {"type": "categorical", "choices": ["mean", "sum", "norm", "max"],
                      "when": {"model.name": ["dmpnn", "gcn", "gat", "gine"]}},
    "model.heads": {"type": "categorical", "choices": [1, 2, 4, 8],
                    "when": {"model.name": "gat"}},
    # molecule-level features at the readout (Chemprop's featurizers); "none": graph only
    "model.molecule_features": {"type": "categorical",
                                "choices": ["none", "morgan", "rdkit2d", "morgan+rdkit2d"]},
    "train.lr": {"type": "float", "low": 1.0e-4, "high": 3.0e-3, "log": True},
    "train.weight_decay": {"type": "float", "low": 1.0e-8, "high": 1.0e-2, "log": True},
    "train.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
}


@dataclass(frozen=True)
class Param:
    """One entry: a setting, how it is sampled, and when (``when``: name → allowed values)."""

    name: str
    kind: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    value: Any = None
    when: tuple[tuple[str, tuple], ...] = ()

    def active(self, values: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
        return all(values.get(name, context.get(name)) in allowed for name, allowed in self.when)

    def suggest(self, trial: Any) -> Any:
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        value = trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return value if self.step is None else round(value, 10)  # 0.30000000000000004

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.kind == "fixed":
            out["value"] = self.value
        elif self.kind == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high)
            if self.step is not None:
                out["step"] = self.step
            if self.log:
                out["log"] = True
        if self.when:
            out["when"] = {n: (list(a) if len(a) > 1 else a[0]) for n, a in self.when}
        return out


@dataclass(frozen=True)
class SearchSpace:
    """Entries in sampling order; ``source`` names the file in error messages."""

    params: tuple[Param, ...]
    source: str = "the default search space"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def sample(self, trial: Any, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The settings of one trial by dotted name (inactive entries left out); ``context``:
        the base configuration's values (``RunConfig.flat()``), for ``when`` on unsearched
        settings."""
        values: dict[str, Any] = {}
        for param in self.params:
            if param.active(values, context or {}):
                values[param.name] = param.suggest(trial)
        return values

    def without(self, names: Iterable[str]) -> SearchSpace:
        """The space with ``names`` left out (fixed elsewhere, e.g. by a command-line flag)."""
        drop = set(names)
        return SearchSpace(tuple(p for p in self.params if p.name not in drop), self.source)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {p.name: p.to_dict() for p in self.params}


def default_space() -> SearchSpace:
    """Every model, its width, depth, dropout and readout (heads for GAT), and the optimiser."""
    return space_from_dict(DEFAULT)


def load_space(path: str | Path, base: Any = None) -> SearchSpace:
    """Read a YAML search space; any problem is a ``ValueError`` naming the file and entry.
    ``base``: the configuration the entries must fit (default ``RunConfig()``; a gene sweep
    gives a ``GeneRunConfig``)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML{_yaml_place(err)}") from err
    return space_from_dict(data, str(path), base)


def _yaml_place(err: Any) -> str:
    """`` at line 3, column 1: expected ',' or ']' (while parsing a flow sequence started at
    line 2, column 13)``: the parser's finding on one line, not its excerpt of the file."""
    mark, context_mark = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
    if mark is None:
        return f": {err}".replace("\n", " ")
    text = f" at line {mark.line + 1}, column {mark.column + 1}: {err.problem}"
    if err.context and context_mark is not None:
        text += (f" ({err.context} started at line {context_mark.line + 1}, column "
                 f"{context_mark.column + 1})")
    return text


def _field_types(base: Any) -> dict[str, type]:
    """Dotted name → the Python type of that field of ``base``'s class (``X | None`` → ``X``)."""
    out: dict[str, type] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if typing.get_origin(hint) in (typing.Union, types.UnionType):
                hint = next(a for a in typing.get_args(hint) if a is not type(None))
            if dataclasses.is_dataclass(hint):
                walk(hint, f"{prefix}{f.name}.")
            else:
                out[prefix + f.name] = typing.get_origin(hint) or hint
    walk(type(base), "")
    flat = flatten(base)
    return {k: v for k, v in out.items() if k in flat and not k.startswith(NOT_SEARCHED)}


def _number(value: Any, what: str, integer: bool) -> float | int:
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value):  # .inf passes low < high, then overflows in the sampler
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    if integer:
        if float(value) != int(value):
            raise ValueError(f"{what} must be an integer, not {value!r}")
        return int(value)
    return float(value)


def _param(name: str, entry: Any, field_type: type) -> Param:
    if not isinstance(entry, dict):
        entry = ({"type": "categorical", "choices": entry} if isinstance(entry, list)
                 else {"type": "fixed", "value": entry})
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown keys {unknown} (known: {', '.join(KEYS)})")
    kind = entry.get("type")
    if kind not in KINDS:
        raise ValueError(f"type must be one of {', '.join(KINDS)}, not {kind!r}")
    when = entry.get("when") or {}
    if not isinstance(when, dict):
        raise ValueError(f"when must map settings to values, not {when!r}")
    conditions = tuple((str(k), tuple(v) if isinstance(v, list) else (v,))
                       for k, v in when.items())
    if kind == "fixed":
        if "value" not in entry:
            raise ValueError("a fixed entry needs a value")
        return Param(name, kind, value=entry["value"], when=conditions)
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"choices must be a non-empty list, not {choices!r}")
        if any(isinstance(c, dict | list) for c in choices):
            raise ValueError(f"choices must be plain values, not {choices!r}")
        return Param(name, kind, tuple(choices), when=conditions)
    integer = kind == "int"
    if integer and field_type is not int:
        raise ValueError(f"{name} is not an integer setting; use type: categorical")
    if not integer and field_type is not float:
        raise ValueError(f"{name} is not a float setting; use type: "
                         f"{'int' if field_type is int else 'categorical'}")
    if "low" not in entry or "high" not in entry:
        raise ValueError(f"a {kind} entry needs low and high")
    low, high = (_number(entry[k], k, integer) for k in ("low", "high"))
    step = None if entry.get("step") is None else _number(entry["step"], "step", integer)
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"log must be true or false, not {log!r}")
    if not low < high:
        raise ValueError(f"low ({low}) must be below high ({high})")
    if step is not None and not step > 0:
        raise ValueError(f"step must be positive, not {step}")
    if log and (low <= 0 or step not in (None, 1)):
        raise ValueError("log: true needs low > 0 and no step")
    return Param(name, kind, low=low, high=high, step=step, log=log, when=conditions)


def _check(param: Param, earlier: dict[str, Param], known: dict[str, type],
           base: Any) -> None:
    """Each value must be accepted by ``base``'s configuration class (and be one of a
    field's ``choices``); ``when`` must name earlier entries."""
    for cond, allowed in param.when:
        if cond not in known:
            raise ValueError(f"when: unknown setting {cond!r}")
        source = earlier.get(cond)
        if source is not None and source.kind == "categorical":
            bad = [a for a in allowed if a not in source.choices]
            if bad:
                raise ValueError(f"when: {cond} is never {bad} (its choices: "
                                 f"{list(source.choices)})")
    values = {"fixed": [param.value], "categorical": list(param.choices)}.get(
        param.kind, [param.low, param.high])
    choices = _choices(base).get(param.name)
    if isinstance(flatten(base).get(param.name), list):  # choices name the items; the
        choices = None                                   # config checks a "a+b" value
    for value in values:
        if choices is not None and value not in choices:
            raise ValueError(f"value {value!r} is refused: choose from {', '.join(choices)}")
        try:
            with_values(base, {param.name: value})
        except (ValueError, TypeError) as err:
            raise ValueError(f"value {value!r} is refused: {err}") from err


def _choices(base: Any) -> dict[str, tuple]:
    """Dotted name → the allowed values a field declares (``metadata={"choices": ...}``)."""
    out: dict[str, tuple] = {}

    def walk(config: Any, prefix: str) -> None:
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            elif "choices" in f.metadata:
                out[prefix + f.name] = tuple(f.metadata["choices"])
    walk(base, "")
    return out


def space_from_dict(data: Any, source: str = "the default search space",
                    base: Any = None) -> SearchSpace:
    """A space from its plain-data form (as read from YAML), checked entry by entry against
    ``base`` (default ``RunConfig()``)."""
    base = RunConfig() if base is None else base
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{source}: a search space is a mapping of settings (e.g. "
                         f"model.hidden_channels) to entries, not {type(data).__name__}")
    known = _field_types(base)
    params: dict[str, Param] = {}
    for name, entry in data.items():
        name = str(name)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{source}: {name}: unknown or unsearchable setting{hint}; "
                             f"searchable: {', '.join(sorted(known))}")
        try:
            param = _param(name, entry, known[name])
            if any(c == name for c, _ in param.when):
                raise ValueError("when: names the entry itself; a condition names an earlier "
                                 "entry or a setting fixed outside the space")
            later = [c for c, _ in param.when if c in data and c not in params]
            if later:
                raise ValueError(f"when: {later[0]} must come before {name} in the space")
            _check(param, params, known, base)
        except ValueError as err:
            raise ValueError(f"{source}: {name}: {err}") from err
        params[name] = param
    return SearchSpace(tuple(params.values()), source)
