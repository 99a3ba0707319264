"""A campaign's MLflow runs: one parent run per campaign, one child run per round.

The parent is found again when the campaign continues (its directory is a tag), as a sweep's is,
so a killed or waiting campaign goes on in the same run tree. Each round's child is made when
the round is finished, with the round's metrics; a round already logged (the process died
between logging it and going on) is not logged twice. The parent gets the same metrics with the
round as the step, which MLflow draws as curves: best so far, top-k average, shares found.
mlflow is imported inside ``tracking``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from molgraph.tracking.config import TrackingConfig, tracked_run

#: a child run's tag naming its round
ROUND_TAG = "molgraph.round"
#: what the parent run keeps of the campaign directory
PARENT_ARTIFACTS = ("campaign.json", "acquired.csv", "rounds.csv", "result.json", "plots")
#: round metrics drawn on the parent run, one point per round
CURVES = ("best", "top_k_average", "found_scores", "found_smiles", "acquired")


@contextmanager
def campaign_run(tracking: TrackingConfig | None, out: Path, tags: dict[str, str],
                 config: Any) -> Iterator[Any]:
    """The campaign's parent run for the block (``None`` without ``tracking``), continued
    when the campaign directory had one, with the campaign's settings as its params."""
    resume = {"molgraph.campaign_dir": tags["molgraph.campaign_dir"]}
    with tracked_run(tracking, out, {k: v for k, v in tags.items() if k not in resume},
                     PARENT_ARTIFACTS, resume,
                     name=f"campaign on {Path(config.library).name}") as parent:
        if parent is not None and not parent.client.get_run(parent.run_id).data.params:
            parent.log_params({f"campaign.{k}": v for k, v in config.signature().items()})
        yield parent


def log_round(parent: Any, tracking: TrackingConfig | None, number: int, record: dict) -> None:
    """Log round ``number``'s numeric ``record`` as its child run and as points of the
    parent's curves, unless that round's child exists already."""
    if parent is None or tracking is None:
        return
    numbers = {k: float(v) for k, v in record.items()
               if isinstance(v, int | float) and not isinstance(v, bool)
               and math.isfinite(float(v))}
    experiment_id = parent.client.get_run(parent.run_id).info.experiment_id
    query = (f"tags.`mlflow.parentRunId` = '{parent.run_id}' and "
             f"tags.`{ROUND_TAG}` = '{number}'")
    if parent.client.search_runs([experiment_id], filter_string=query, max_results=1):
        return
    with parent.child(f"round {number}", tags={ROUND_TAG: number}) as child:
        child.log_metrics(numbers, step=number)
    parent.log_metrics({k: v for k, v in numbers.items() if k in CURVES}, step=number)
