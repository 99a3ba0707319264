"""``molgraph.run_campaign``: a screening campaign, round after round, as ``molgraph active``
runs it.

Round 0 is the first batch (random, or an ``--init`` file of labelled molecules); each later
round trains the surrogate on every value so far, scores the pool, writes the batch its
acquisition function chooses, asks the oracle, and records its metrics. The loop stops after
``iterations`` rounds, at the budget, when the pool runs out, on the top-k stopping rule
(``metrics.stop_reason``), or, with the lab as the oracle, until the lab has answered. Every
step is on disk before the next (``campaign.state``), so the same call with ``resume`` goes on
from wherever a kill left it and acquires what an uninterrupted campaign acquires.

Example (in a notebook)::

    import molgraph
    config = molgraph.CampaignConfig("enamine10k.csv.gz", "runs/campaign", minimize=True,
                                     init="1%", batch="1%", iterations=5)
    result = molgraph.run_campaign(config, oracle="lookup:enamine10k_scores.csv.gz")
    result = molgraph.run_campaign(config, oracle=my_docking_function)   # SMILES -> scores
    result.rounds[-1]["best"], result.acquired.head()
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from molgraph import __version__
from molgraph.campaign import metrics
from molgraph.campaign.config import FINGERPRINT_SURROGATES, CampaignConfig, amount
from molgraph.campaign.lab import LabOracle, WaitingForLab
from molgraph.campaign.oracles import CallableOracle, LookupOracle, Oracle
from molgraph.campaign.pictures import draw_campaign
from molgraph.campaign.pool import Pool
from molgraph.campaign.rounds import (
    ask_oracle,
    init_from_file,
    random_batch,
    round_metrics,
    round_seed,
    surrogate_batch,
)
from molgraph.campaign.runs import campaign_run, log_round
from molgraph.campaign.state import CampaignDir
from molgraph.campaign.surrogates import (
    FIT,
    LEAST_VALUES,
    SCORES,
    FingerprintSurrogate,
    Surrogate,
)
from molgraph.runtime.files import FileLocked, exclusive_lock, write_json
from molgraph.tracking.config import TrackingConfig

log = logging.getLogger(__name__)
LOCK = "campaign.lock"


@dataclass
class CampaignResult:
    """Where a campaign stands.

    Attributes:
        out: the campaign directory.
        status: ``finished`` (iterations, budget or pool used up), ``stopped`` (the top-k
            rule), or ``waiting`` (for the lab to fill in ``to_measure``).
        reason: why it ended here, in words.
        rounds: each finished round's record (``round.json``: metrics and timings).
        to_measure: the file the lab fills in, when waiting.
    """

    out: Path
    status: str
    reason: str
    rounds: list[dict]
    to_measure: Path | None = None

    @property
    def acquired(self) -> pd.DataFrame:
        """``acquired.csv``: one row per acquired molecule."""
        return pd.read_csv(self.out / "acquired.csv", dtype={"smiles": str, "note": str},
                           keep_default_na=False, na_values={"value": [""], "row": [""]})


def make_oracle(spec: str | Callable | Oracle | None, config: CampaignConfig) -> Oracle:
    """The oracle ``spec`` names (``lookup:FILE``, ``command:CMD``), wraps (a Python callable)
    or is; the lab for none."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return LabOracle()
    if hasattr(spec, "evaluate"):
        return spec  # type: ignore[return-value]
    if callable(spec):
        return CallableOracle(spec, config.oracle_chunk)
    kind, _, rest = str(spec).partition(":")
    if kind == "lookup" and rest:
        return LookupOracle(rest, config.smiles_column, config.score_column)
    if kind == "command" and rest.strip():
        from molgraph.campaign.command import CommandOracle

        return CommandOracle(rest, config.oracle_workers, config.oracle_timeout,
                             config.oracle_chunk or 1)
    raise ValueError(f"--oracle {spec!r}: give lookup:FILE (a CSV of SMILES and scores) or "
                     "command:\"PROGRAM {input} {output}\", or no --oracle for the lab")


def make_surrogate(config: CampaignConfig, progress: bool | None = None) -> Surrogate:
    """The surrogate ``config.surrogate`` names: a fingerprint model or a molgraph model."""
    if config.surrogate in FINGERPRINT_SURROGATES:
        return FingerprintSurrogate(config.surrogate, config.threads)
    from molgraph.campaign.gnn import GraphSurrogate

    return GraphSurrogate(config, progress)


def run_campaign(config: CampaignConfig, oracle: str | Callable | Oracle | None = None,
                 tracking: TrackingConfig | None = None,
                 progress: bool | None = None) -> CampaignResult:
    """Run (or, with ``config.resume``, continue) the campaign ``config`` describes.

    Args:
        config: the campaign.
        oracle: overrides ``config.oracle``: ``lookup:FILE``, ``command:CMD``, a Python
            function of a list of SMILES returning their values (``None`` for a failure), or
            an object with ``evaluate`` (``campaign.oracles.Oracle``).
        tracking: one MLflow parent run for the campaign, a child run per round.
        progress: bars (``True``), log lines (``False``); default: bars on a terminal.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(out / LOCK):
            return _run(config, make_oracle(oracle if oracle is not None else config.oracle,
                                            config), tracking, progress)
    except FileLocked as err:
        raise ValueError(f"{out}: another campaign (process {err.pid}) is running in this "
                         "directory; wait for it, or choose another --out") from None


def _run(config: CampaignConfig, oracle: Oracle, tracking: TrackingConfig | None,
         progress: bool | None) -> CampaignResult:
    out, state = Path(config.out), CampaignDir(config.out)
    init_file = config.init_file
    if init_file is not None and not init_file.is_file():
        raise FileNotFoundError(f"--init {init_file}: no such file of labelled molecules "
                                "(or give a count such as 106, or a percentage such as 1%)")
    pool = Pool.open(config.library, out / "pool", config.smiles_column, config.workers,
                     progress)
    state.start({"signature": config.signature(), "pool": pool.describe(),
                 "oracle": oracle.describe(), "molgraph_version": __version__}, config.resume)
    sign = -1.0 if config.minimize else 1.0
    sizes = {"batch": amount(config.batch, pool.valid, "batch"),
             "k": amount(config.top_k, pool.valid, "top_k"),
             "budget": None if config.budget is None else amount(config.budget, pool.valid,
                                                                 "budget")}
    truth = oracle.truth(sizes["k"], sign) if isinstance(oracle, LookupOracle) else None
    history: list[dict] = []
    tags = {"molgraph.data": config.library, "molgraph.campaign_dir": str(out.resolve())}
    with campaign_run(tracking, out, tags, config) as parent:
        number = 0
        while True:
            record = state.finished(number)
            if record is None:
                reason = _reason_to_stop(config, history, sizes, pool.valid, number)
                if reason is not None:
                    status = "stopped" if reason.startswith("the top-k") else "finished"
                    break
                try:
                    record = _round(config, state, pool, oracle, number, sizes, sign, truth,
                                    progress)
                except WaitingForLab as waiting:
                    log.info("%s", waiting)
                    return CampaignResult(out, "waiting", str(waiting), history, waiting.path)
                state.finish_round(number, record, history + [_flat(record)])
                if config.pictures:
                    draw_campaign(out / "plots", history + [_flat(record)], config.minimize,
                                  sizes["k"])
            history.append(_flat(record))
            log_round(parent, tracking, number, history[-1])  # once, even after a kill
            number += 1
    log.info("campaign %s after %d rounds: %s", status, len(history), reason)
    write_json(out / "result.json", {"status": status, "reason": reason, "rounds": history})
    return CampaignResult(out, status, reason, history)


def _reason_to_stop(config: CampaignConfig, history: list[dict], sizes: dict, valid: int,
                    number: int) -> str | None:
    """Why round ``number`` is not to be run, or ``None``."""
    if number == 0:
        return None
    acquired = history[-1]["acquired"]
    rounds = config.rounds
    if rounds is not None and number > rounds:
        return f"{rounds} rounds after the first batch"
    if sizes["budget"] is not None and acquired >= sizes["budget"]:
        return f"the budget of {sizes['budget']} molecules is spent"
    if acquired >= valid:
        return "every molecule of the pool is acquired"
    return metrics.stop_reason([r["top_k_average_signed"] for r in history], config.window,
                               config.delta)


def _round(config: CampaignConfig, state: CampaignDir, pool: Pool, oracle: Oracle, number: int,
           sizes: dict, sign: float, truth: Any, progress: bool | None) -> dict:
    """Run round ``number`` from wherever it stands; return its record."""
    started, timings, fit = time.perf_counter(), {}, None
    directory = state.round_dir(number)
    directory.mkdir(parents=True, exist_ok=True)
    batch = state.batch(number)
    acquired = state.acquired(number - 1)
    if number:
        size = sizes["batch"]
    else:
        size = 0 if config.init_file is not None else amount(config.init, pool.valid, "init")
    if sizes["budget"] is not None:
        size = min(size, sizes["budget"] - int(acquired["row"].notna().sum()))
    if batch is None and number == 0 and config.init_file is not None:
        batch, answers = init_from_file(pool, config.init_file, config.smiles_column,
                                        config.score_column)
        state.write_batch(0, batch)
        state.append_answers(0, list(zip(batch["rank"].tolist(), answers)))
    elif batch is None:
        exclude = set(acquired["row"].dropna().astype(int).tolist())
        if number == 0 or config.acquisition == "random":  # random needs no surrogate
            batch = random_batch(pool, size, exclude, config.seed, number)
        else:
            fit, timings = _fit_and_score(config, pool, acquired, sign, number, progress)
            tick = time.perf_counter()
            values = sign * acquired["value"].dropna()
            best = float(values.max()) if len(values) else None
            batch = surrogate_batch(directory / SCORES, config, size, exclude, best, number,
                                    sign)
            timings["select_s"] = round(time.perf_counter() - tick, 2)
        state.write_batch(number, batch)
    elif (directory / FIT).exists():
        fit = json.loads((directory / FIT).read_text())
    state.write_acquired(state.acquired(number))
    tick = time.perf_counter()
    asked = ask_oracle(oracle, state, number, batch, progress,
                       lambda: state.write_acquired(state.acquired(number)))
    timings["oracle_s"] = round(time.perf_counter() - tick, 2)
    acquired = state.acquired(number)
    state.write_acquired(acquired)
    record = {"iteration": number, "batch": len(batch), "asked": asked,
              "failed": int(acquired.loc[acquired["iteration"] == number, "value"].isna().sum()),
              **round_metrics(acquired, sign, sizes["k"], truth, oracle, pool.valid),
              "k": sizes["k"], **timings,
              "round_s": round(time.perf_counter() - started, 2), "fit": fit}
    log.info("round %d: %d molecules (%d in all), best %s, top-%d average %s%s", number,
             len(batch), record["acquired"], _shown(record["best"]), sizes["k"],
             _shown(record["top_k_average"]),
             f", {record['found_scores']:.0%} of the true top-{sizes['k']} scores found"
             if "found_scores" in record else "")
    return record


def _fit_and_score(config: CampaignConfig, pool: Pool, acquired: pd.DataFrame, sign: float,
                   number: int, progress: bool | None) -> tuple[dict, dict]:
    """Train this round's surrogate on every value so far and score the pool (unless a kill
    came after it scored); its fit record and timings."""
    directory = Path(config.out) / "rounds" / f"{number:03d}"
    labelled = acquired[acquired["value"].notna()]
    if len(labelled) < LEAST_VALUES:
        raise ValueError(f"round {number}: the surrogate needs at least {LEAST_VALUES} "
                         f"molecules with a value, and the oracle gave {len(labelled)} so far; "
                         "give a larger --init")
    surrogate = make_surrogate(config, progress)
    timings: dict[str, float] = {}
    fit = None
    if not (directory / SCORES).exists():
        tick = time.perf_counter()
        fit = surrogate.fit(labelled["smiles"].tolist(),
                            sign * labelled["value"].to_numpy(dtype=float),
                            round_seed(config.seed, number), directory)
        timings["train_s"] = round(time.perf_counter() - tick, 2)
        tick = time.perf_counter()
        surrogate.score_pool(pool, directory)
        timings["score_s"] = round(time.perf_counter() - tick, 2)
    if fit is None and (directory / FIT).exists():
        fit = json.loads((directory / FIT).read_text())
    return fit or {}, timings


def _flat(record: dict) -> dict:
    """A round's record without its fit details (one line of ``rounds.csv``)."""
    return {k: v for k, v in record.items() if k != "fit"}


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
