"""What a sweep tunes, behind one interface: molecule property models (``sweep.molecules``)
or gene node models (``sweep.genes``).

A problem holds the base configuration, loads its data once per process, trains one trial's
configuration and says how good it is on validation (``TrialOutcome.value``), retrains a
configuration on another seed with a test score (the end of a sweep, ``--seeds``), and names
its default search space. The objective and the study know nothing else about molecules or
genes. Problems pickle without their data, so worker processes load it again (from the
featurization cache, for molecules). No Optuna here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from molgraph.sweep.space import SearchSpace
from molgraph.tracking.contracts import Tracker

#: ``on_step(step, value)``: the validation metric so far, for the pruner (may raise).
StepHook = Callable[[int, float], None]


@dataclass
class TrialOutcome:
    """One trained trial, validation only.

    Attributes:
        value: the monitored validation metric of the kept epoch (the trial's value).
        val: every validation metric of the kept model.
        best_epoch: the kept epoch (genes: the median over folds).
        epochs_run: epochs trained (genes: summed over folds).
        seconds: wall time.
        config: the run configuration as trained, as a plain dict.
        write: writes the trial's directory (model where there is one, run_config.json,
            metrics.json, history.csv).
    """

    value: float
    val: dict[str, float]
    best_epoch: int
    epochs_run: int
    seconds: float
    config: dict[str, Any]
    write: Callable[[Path], Any] = field(repr=False)


class Problem(Protocol):
    """What the objective and the study need of a problem (see the two below)."""

    kind: str
    base: Any
    metric: str
    higher_is_better: bool
    trials_keep_models: bool

    def check(self) -> None: ...
    def space(self, path: str | Path | None = None) -> SearchSpace: ...
    def with_values(self, values: dict[str, Any]) -> Any: ...
    def from_dict(self, data: dict[str, Any]) -> Any: ...
    def context(self) -> dict[str, Any]: ...
    def same_data(self) -> dict[str, Any]: ...
    def input_files(self) -> dict[str, str]: ...
    def max_steps(self, space: SearchSpace) -> int: ...
    def load(self) -> None: ...
    def train(self, config: Any, tracker: Tracker | None = None,
              on_step: StepHook | None = None) -> TrialOutcome: ...
    def evaluate(self, config: Any, out: Path,
                 baseline: bool = False) -> tuple[dict[str, float], dict[str, float] | None]:
        ...
