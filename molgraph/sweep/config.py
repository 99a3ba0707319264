"""The settings of a sweep (how it searches, scores and evaluates), without importing Optuna, so
the command line can build its flags cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STUDY_NAME = "molgraph"
PRUNERS = ("hyperband", "median", "none")
SAMPLERS = ("tpe", "random")


@dataclass
class SweepConfig:
    """How a sweep searches, and how it scores and evaluates.

    Attributes:
        space: search space over dotted settings, a YAML file (see
            experiments/sweep_space_default.yaml) (default: every model, width, depth,
            dropout, readout (heads for GAT), molecule features, learning rate, weight decay
            and batch size; for genes also input dropout and residual connections).
        trials: trials in the study in all, earlier runs' included.
        timeout: start no trial after this many seconds.
        jobs: worker processes on the study.
        storage: Optuna RDB URL (postgresql://..., sqlite:///...) or journal file shared with
            other sweeps (default: DIR/optuna.log).
        study_name: study to create or join (one per DIR: another study needs another
            --out).
        pruner: stop unpromising trials early.
        sampler: how settings are proposed.
        sampler_seed: seed of the sampler (default: the run's seed).
        keep_trials: trial directories kept in DIR/trials/.
        seeds: at the end, retrain the best and the default configuration on each seed's
            split and score each on its test set once: mean ± std (default: no test score).
        cv: score each trial by K-fold cross-validation inside the training part (training
            + validation molecules; scaffold groups kept whole with a scaffold split): the
            folds' mean, less noisy than one validation part, K times the cost (molecules;
            genes always use their folds) (default: the run's validation part).
        val_repeats: or by R validation parts drawn again from the training part (the run's
            split with seeds seed, seed+1, ...): their mean.
    """

    space: str | None = None
    trials: int = 20
    timeout: float | None = None
    jobs: int = 1
    storage: str | None = None
    study_name: str = STUDY_NAME
    pruner: str = field(default="hyperband", metadata={"choices": PRUNERS})
    sampler: str = field(default="tpe", metadata={"choices": SAMPLERS})
    sampler_seed: int | None = None
    keep_trials: str = field(default="all", metadata={"choices": ("all", "best")})
    seeds: list[int] = field(default_factory=list)
    cv: int = 0
    val_repeats: int = 0

    def __post_init__(self) -> None:
        check_sweep(self.trials, self.jobs, self.timeout, self.sampler, self.pruner,
                    self.keep_trials)


def check_sweep(trials: int, jobs: int, timeout: float | None, sampler: str, pruner: Any,
                keep_trials: str) -> None:
    """Refuse settings a sweep cannot run with, before it creates anything (``pruner``: a
    name, or an Optuna pruner given as is)."""
    if trials < 1 or jobs < 1:
        raise ValueError(f"trials and jobs must be at least 1, not {trials} and {jobs}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout:g}")
    if sampler not in SAMPLERS or (isinstance(pruner, str) and pruner not in PRUNERS):
        raise ValueError(f"sampler must be one of {SAMPLERS} and pruner one of {PRUNERS}")
    if keep_trials not in ("all", "best"):
        raise ValueError(f"keep_trials must be all or best, not {keep_trials!r}")
