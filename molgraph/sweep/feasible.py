"""Spaces that can never train, refused before the first trial.

Each entry of a space is checked alone when it is read (``space``); a combination can still be
refused by the configuration (GAT heads that do not divide the width, ...), and then every trial
that draws it fails. Here the combinations of every choice, every fixed value, the values of
small integer ranges and the ends of the others are built through the problem's
``with_values`` (the configuration classes' own checks; no model, no data): a space none of
whose combinations is accepted, or a choice no combination with it is accepted, is a
``ValueError`` naming the file, the setting and the configuration's reason; a space some of
whose combinations are refused gets one warning. No Optuna here.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections.abc import Iterator
from typing import Any

from molgraph.sweep.problems import Problem
from molgraph.sweep.space import Param, SearchSpace

log = logging.getLogger(__name__)
#: combinations built at most; beyond, a seeded sample of this many
LIMIT = 1000
#: an integer range with at most this many values is tried whole, a longer one at its ends
#: and a few points between
WHOLE_RANGE = 16


def _values(param: Param) -> list[Any]:
    """The values of ``param`` that are tried."""
    if param.kind == "fixed":
        return [param.value]
    if param.kind == "categorical":
        return list(param.choices)
    step = param.step or 1
    if param.kind == "float":
        top = param.high if param.step is None else \
            param.low + math.floor((param.high - param.low) / step + 1e-9) * step
        return [param.low, top]
    low, high, step = int(param.low), int(param.high), int(step)
    values = list(range(low, high + 1, step))
    if len(values) <= WHOLE_RANGE:
        return values
    picks = {round(i * (len(values) - 1) / (WHOLE_RANGE - 1)) for i in range(WHOLE_RANGE)}
    return [values[i] for i in sorted(picks)]


def _combinations(space: SearchSpace, context: dict[str, Any]
                  ) -> tuple[list[dict[str, Any]], bool]:
    """Distinct settings as trials would draw them (``when`` applied), and whether they are
    all of them (else a seeded sample of :data:`LIMIT`)."""
    lists = [_values(p) for p in space.params]
    whole = math.prod(len(v) for v in lists) <= LIMIT
    seen: dict[str, dict[str, Any]] = {}
    for pick in itertools.product(*lists) if whole else _sample(lists):
        settings: dict[str, Any] = {}
        for param, value in zip(space.params, pick, strict=True):
            if param.active(settings, context):
                settings[param.name] = value
        seen.setdefault(repr(settings), settings)
    return list(seen.values()), whole


def _sample(lists: list[list[Any]]) -> Iterator[tuple]:
    rng = random.Random(0)
    for _ in range(LIMIT):
        yield tuple(rng.choice(values) for values in lists)


def _shown(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def check_feasible(space: SearchSpace, problem: Problem) -> None:
    """Refuse ``space`` when no combination of its settings (on ``problem``'s base
    configuration) is accepted, or when a choice is accepted with none of the rest; warn when
    some combinations are refused (their trials will fail)."""
    combos, whole = _combinations(space, problem.context())
    refused: list[tuple[dict[str, Any], str]] = []
    for settings in combos:
        try:
            problem.with_values(settings)
        except (ValueError, TypeError) as err:
            refused.append((settings, str(err)))
    if not refused:
        return
    if len(refused) == len(combos):
        settings, reason = refused[0]
        raise ValueError(f"{space.source}: no setting of this space can train: "
                         f"{_shown(settings)}: {reason}")
    failing = {id(s) for s, _ in refused}
    for param in space.params:
        if param.kind != "categorical":
            continue
        for choice in param.choices:
            with_it = [s for s in combos if param.name in s and s[param.name] == choice]
            if with_it and all(id(s) in failing for s in with_it):
                reason = next(r for s, r in refused if s is with_it[0])
                message = (f"{space.source}: {param.name}: {choice!r} never trains with the "
                           f"rest of the space (e.g. {_shown(with_it[0])}: {reason}); "
                           "remove it from the choices")
                if whole:
                    raise ValueError(message)
                log.warning("%s", message)
    settings, reason = refused[0]
    log.warning("some settings of %s are refused, and trials that draw them will fail "
                "(%d of the %d combinations tried), e.g. %s: %s", space.source, len(refused),
                len(combos), _shown(settings), reason)
