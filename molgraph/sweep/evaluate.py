"""The honest end of a sweep: the best and the default configuration, each retrained on every
seed's split and scored on its test set once.

Trials are compared on validation only; the test sets are touched here and nowhere else. The
seed decides the split (scaffold splits are balanced by seed, as in Chemprop), the
initialisation and the order of the batches, so the spread over seeds is the spread a user
would see. The default configuration is the sweep's base (``molgraph train`` with the same
flags): the gain of tuning is the difference of the two rows, not a number in isolation.

Writes ``DIR/evaluation/{best,default}/seed<N>/`` (full run directories: model, metrics,
predictions, pictures) and ``DIR/evaluation.json``. For molecules a third row, ``baseline``,
is the ECFP baseline (``training.baseline``) fitted on each seed's split of the default run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molgraph.runtime.configs import with_values
from molgraph.runtime.files import write_json
from molgraph.sweep.problems import Problem

log = logging.getLogger(__name__)
EVALUATION = "evaluation.json"


def _summary(rows: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per metric (averaged over targets: ``rmse``, not ``rmse_0``): mean, population std
    (as ``experiments/RESULTS.md``) and the values per seed."""
    names = [k for k in rows[0] if not k.rsplit("_", 1)[-1].isdigit()]
    out = {}
    for name in names:
        values = np.array([r.get(name, np.nan) for r in rows], dtype=float)
        finite = values[np.isfinite(values)]
        out[name] = {"mean": float(finite.mean()) if len(finite) else None,
                     "std": float(finite.std()) if len(finite) else None,
                     "values": [None if not np.isfinite(v) else float(v) for v in values]}
    return out


def evaluate_seeds(problem: Problem, best_config: dict[str, Any], seeds: Sequence[int],
                   out: str | Path) -> dict[str, Any]:
    """Retrain the best configuration (``best_config``, as in ``best_config.json``) and the
    problem's base configuration once per seed; write the runs and ``evaluation.json``.

    Returns ``{"metric", "seeds", "best": {metric: {"mean", "std", "values"}}, "default":
    {...}, "baseline": {...} (molecules), "difference"}`` where ``difference`` is best −
    default of the monitored test metric's means (negative is better for RMSE)."""
    if not seeds:
        raise ValueError("give at least one seed to evaluate on")
    out = Path(out)
    configs = {"best": problem.from_dict(best_config), "default": problem.base}
    result: dict[str, Any] = {"kind": problem.kind, "metric": f"test_{problem.metric}",
                              "seeds": list(seeds)}
    baselines = []
    for label, config in configs.items():
        rows = []
        for seed in seeds:
            directory = out / "evaluation" / label / f"seed{seed}"
            log.info("evaluating the %s configuration on seed %d → %s", label, seed, directory)
            test, baseline = problem.evaluate(with_values(config, {"seed": seed}), directory,
                                              baseline=label == "default")
            rows.append(test)
            if baseline is not None:  # the default run's split: one baseline per seed
                baselines.append(baseline)
        result[label] = _summary(rows)
    if baselines:
        result["baseline"] = _summary(baselines)
    means = [result[label][problem.metric]["mean"] for label in configs]
    result["difference"] = None if None in means else means[0] - means[1]
    write_json(out / EVALUATION, result)
    return result


def table(result: dict[str, Any], metrics: Sequence[str]) -> str:
    """The evaluation as a small aligned table: one row per configuration, mean ± std."""
    width = max(len(m) for m in metrics) + 16
    lines = [f"test over seeds {result['seeds']}".ljust(10),
             "config   " + "".join(m.rjust(width) for m in metrics)]
    for label in ("best", "default", "baseline"):
        if label not in result:
            continue
        cells = []
        for m in metrics:
            cell = result[label].get(m, {})
            cells.append("n/a" if cell.get("mean") is None
                         else f"{cell['mean']:.4f} ± {cell['std']:.4f}")
        lines.append(f"{label:<9}" + "".join(c.rjust(width) for c in cells))
    return "\n".join(lines)
