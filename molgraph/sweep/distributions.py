"""A resumed study's search space against the distributions its trials were drawn from.

Optuna refuses, inside every new trial, a parameter whose distribution changed type, log
scale or choices ("Cannot set different log configuration to the same parameter name"), so
a sweep resumed with such a space would fail every remaining trial. Here the space is
compared, before any trial, with the distributions the study's trials recorded (what Optuna
itself compares): such a change is an error naming the file and the setting; a widened range,
an added or removed setting is one warning naming them.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna

from molgraph.sweep.space import Param, SearchSpace

log = logging.getLogger(__name__)


def _distribution(param: Param) -> optuna.distributions.BaseDistribution | None:
    """What Optuna records for ``param`` (``None``: fixed, not an Optuna parameter)."""
    if param.kind == "categorical":
        return optuna.distributions.CategoricalDistribution(param.choices)
    if param.kind == "int":
        return optuna.distributions.IntDistribution(int(param.low), int(param.high),
                                                    log=param.log, step=int(param.step or 1))
    if param.kind == "float":
        return optuna.distributions.FloatDistribution(param.low, param.high, log=param.log,
                                                      step=param.step)
    return None


def _shown(dist: optuna.distributions.BaseDistribution) -> str:
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return f"one of {list(dist.choices)}"
    kind = "int" if isinstance(dist, optuna.distributions.IntDistribution) else "float"
    step = getattr(dist, "step", None)
    return (f"{kind} in [{dist.low:g}, {dist.high:g}]" + (", log" if dist.log else "")
            + (f", step {step:g}" if step not in (None, 1) else ""))


def _change(name: str, before: dict[str, Any], now: dict[str, Any]) -> str:
    return "added" if name not in before else "removed" if name not in now else "changed"


def check_space(study: optuna.Study, space: SearchSpace) -> None:
    """Refuse a searched setting whose distribution Optuna cannot continue (another type, log
    scale or choices: every new trial would fail on it), before any trial; warn when settings
    were added, removed or changed otherwise (a range: the study goes on)."""
    used: dict[str, optuna.distributions.BaseDistribution] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            used.setdefault(name, dist)
    for param in space.params:
        old, new = used.get(param.name), _distribution(param)
        if old is None or new is None:
            continue
        try:
            optuna.distributions.check_distribution_compatibility(old, new)
        except ValueError as err:
            raise ValueError(f"{space.source}: {param.name}: study {study.study_name!r} "
                             f"searched it as {_shown(old)}, and Optuna cannot continue it as "
                             f"{_shown(new)}: {str(err).rstrip('.')}; keep its type, log and "
                             "choices, or start a study with this space in another --out "
                             "(and, with --storage, another --study-name)") from err
    before, now = study.user_attrs.get("space"), space.to_dict()
    if before is None:
        study.set_user_attr("space", now)
    elif before != now:
        changes = [f"{name} {_change(name, before, now)}" for name in sorted({*before, *now})
                   if before.get(name) != now.get(name)]
        log.warning("the search space differs from the one study %r started with: %s",
                    study.study_name, "; ".join(changes))
