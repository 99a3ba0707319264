"""Run a federation: :func:`run_server` on the server's machine, :func:`run_client` on each
data owner's, or :func:`run_federation` for all of them on one machine as separate processes
(notebooks, benchmarks, tests). Each returns when its part is done.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from molgraph.federated import launch
from molgraph.federated.config import FederationConfig, OwnerConfig
from molgraph.federated.output import ERROR_FILE
from molgraph.runtime.files import check_writable

log = logging.getLogger(__name__)
DEFAULT_ADDRESS = "127.0.0.1:9092"


def run_server(config: FederationConfig, out: str | Path, address: str = DEFAULT_ADDRESS,
               timeout: float | None = None) -> dict:
    """Serve a federation on ``address`` (HOST:PORT, where the owners' clients connect) until
    its rounds are done; write ``out/model/``, ``out/run_config.json``, ``out/metrics.json``
    and the Flower logs in ``out/logs/``; return the metrics.

    ``timeout``: seconds the whole run may take (default: no limit)."""
    config.check_owners()
    out = Path(out)
    check_writable(out / "metrics.json")
    for earlier in ("metrics.json", ERROR_FILE):  # an earlier run's, which _result would read
        (out / earlier).unlink(missing_ok=True)
    logs = out / "logs"
    with tempfile.TemporaryDirectory(prefix="molgraph-federation-") as work:
        work = Path(work)
        config_file = config.save(work / "federation.json")
        superlink = launch.start_superlink(address, work / "superlink", logs / "superlink.log")
        log.info("federation server on %s: waiting for %d data owners, then %d rounds of %s",
                 address, config.clients, config.rounds, config.strategy)
        try:
            code = launch.submit(launch.flower_app(work / "app"), address,
                                 {"federation-file": config_file, "out": out.resolve()},
                                 work / "cli", logs / "run.log", timeout)
        finally:
            launch.stop(superlink)
    return _result(out, code, logs / "run.log")


def _result(out: Path, code: int, run_log: Path) -> dict:
    """The run's metrics, or its failure as one line."""
    if (out / ERROR_FILE).exists():
        raise ValueError(f"federated run failed: {(out / ERROR_FILE).read_text().strip()} "
                         f"(log: {run_log})")
    if code != 0 or not (out / "metrics.json").exists():
        raise RuntimeError(f"federated run ended without a model (flwr run exit code {code}): "
                           f"{launch.tail(run_log)} (log: {run_log})")
    return json.loads((out / "metrics.json").read_text())


def run_client(owner: OwnerConfig, server: str = DEFAULT_ADDRESS,
               connect_timeout: float = 120.0, log_file: str | Path | None = None) -> int:
    """Serve ``owner``'s molecules to the federation at ``server`` until the server is gone
    (and ``connect_timeout`` seconds have passed without it: the same wait applies before it
    first answers); the Flower SuperNode's exit code. The molecules and labels stay in this
    machine's processes; weights, counts and scores go to the server."""
    with tempfile.TemporaryDirectory(prefix="molgraph-owner-") as work:
        work = Path(work)
        log_file = Path(log_file) if log_file else work / "supernode.log"
        node = launch.start_supernode(server, owner.save(work / "owner.json"), work / "home",
                                      log_file, own_group=False)
        log.info("data owner %s (%s) serving federation %s", owner.name, owner.data, server)
        try:
            return launch.serve_until_gone(node, server, connect_timeout)
        finally:
            launch.stop(node)


def run_federation(config: FederationConfig, owners: Sequence[OwnerConfig], out: str | Path,
                   timeout: float | None = None) -> dict:
    """A whole federation on this machine: a server and one client process per owner on
    127.0.0.1 (free ports), as :func:`run_server` and :func:`run_client` would run them;
    ``config.clients`` becomes the number of owners. Returns the metrics; the client logs go
    to ``out/logs/<owner>.log``."""
    if not owners:
        raise ValueError("a federation needs at least one data owner")
    names = [o.name for o in owners]
    if len(set(names)) < len(names):
        raise ValueError(f"data owners need distinct names, not {names}")
    config = replace(config, clients=len(owners),
                     min_clients=min(config.min_clients, len(owners)))
    out = Path(out)
    address = f"127.0.0.1:{launch.free_port()}"
    with tempfile.TemporaryDirectory(prefix="molgraph-owners-") as work:
        work = Path(work)
        nodes = [launch.start_supernode(address, owner.save(work / f"{k}.json"),
                                        work / f"home{k}", out / "logs" / f"{owner.name}.log")
                 for k, owner in enumerate(owners)]
        started = time.perf_counter()
        try:
            metrics = run_server(config, out, address, timeout)
        finally:
            for node in nodes:
                launch.stop(node)
    log.info("federation of %d owners done in %.1f s", len(owners),
             time.perf_counter() - started)
    return metrics
