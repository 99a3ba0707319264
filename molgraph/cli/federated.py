"""``molgraph federated server|client|simulate``: train one model across data owners whose
molecules never leave them (Flower; ``molgraph.federated``).

``server`` has one flag per :class:`~molgraph.federated.config.FederationConfig` field (the
model and local-training flags as ``molgraph train`` spells them) and calls ``run_server``;
``client`` one per :class:`~molgraph.federated.config.OwnerConfig` field and calls
``run_client``; ``simulate`` runs a server and one client per ``--owner`` on this machine
(``run_federation``).
"""

from __future__ import annotations

import argparse

from molgraph.cli.options import RUN_ALIASES, add_config_options, given_values
from molgraph.federated.api import DEFAULT_ADDRESS
from molgraph.federated.config import FederationConfig, OwnerConfig
from molgraph.runtime.configs import with_values

OWNER = "owner:"


def register(subparsers: argparse._SubParsersAction) -> None:
    federated = subparsers.add_parser(
        "federated", help="train across data owners; their molecules never leave them",
        description="Federated training on Flower: a server averages the weights that each "
        "data owner's client trains on its own molecule file.")
    verbs = federated.add_subparsers(dest="federated_command", required=True)
    server = verbs.add_parser("server", help="serve a federation and write its model",
                              description="Wait for --clients data owners, run --rounds of "
                              "FedAvg/FedProx, write OUT/model/, run_config.json, "
                              "metrics.json.")
    server.add_argument("--address", default=DEFAULT_ADDRESS, metavar="HOST:PORT",
                        help=f"where the clients connect (default: {DEFAULT_ADDRESS})")
    _add_federation_options(server)
    server.set_defaults(func=run_server)
    client = verbs.add_parser("client", help="serve one data owner's molecules to a "
                              "federation", description="Train the federation's model on "
                              "this owner's file each round; only weights, counts and scores "
                              "leave. Ends once the server is gone.")
    client.add_argument("--server", default=DEFAULT_ADDRESS, metavar="HOST:PORT",
                        help=f"the federation server's address (default: {DEFAULT_ADDRESS})")
    client.add_argument("--connect-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="give up after this long without the server, at the start or "
                        "after it ends (default: 120)")
    client.add_argument("--log-file", help="the Flower client's log (default: a temporary "
                        "file)")
    add_config_options(client, OwnerConfig, store=OWNER)
    client.set_defaults(func=run_client)
    simulate = verbs.add_parser("simulate", help="a whole federation on this machine",
                                description="A server and one client process per --owner on "
                                "127.0.0.1.")
    simulate.add_argument("--owner", action="append", required=True, metavar="FILE:COLUMNS",
                          help="a data owner: its molecule file and its comma-separated label "
                          "columns, e.g. a.csv:NR-AR,SR-ARE (repeat per owner)")
    simulate.add_argument("--smiles-column", help="the owners' SMILES column (default: "
                          "smiles, SMILES or mol)")
    _add_federation_options(simulate)
    simulate.set_defaults(func=run_simulate)


def _add_federation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--config", metavar="JSON", help="federation settings to start from (e.g. "
                   "OUT/run_config.json of an earlier run); flags given override them "
                   "(default: none)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop a run that takes longer (default: no limit)")
    add_config_options(p, FederationConfig, aliases=RUN_ALIASES, title="federation")


def _federation(args: argparse.Namespace) -> FederationConfig:
    base = FederationConfig.load(args.config) if args.config else FederationConfig()
    return with_values(base, given_values(args))


def run_server(args: argparse.Namespace) -> int:
    from molgraph.federated.api import run_server as serve

    metrics = serve(_federation(args), args.out, args.address, args.timeout)
    print(_said(metrics, args.out))
    return 0


def run_client(args: argparse.Namespace) -> int:
    from molgraph.federated.api import run_client as serve

    owner = OwnerConfig(**given_values(args, OWNER))
    code = serve(owner, args.server, args.connect_timeout, args.log_file)
    print(f"data owner {owner.name}: the federation at {args.server} is done (exit code "
          f"{code})")
    return 0 if code == 0 else 1


def run_simulate(args: argparse.Namespace) -> int:
    from molgraph.federated.api import run_federation

    owners = []
    for spec in args.owner:
        path, _, columns = spec.rpartition(":")
        if not path or not columns:
            raise ValueError(f"--owner {spec!r}: give FILE:COLUMNS, e.g. a.csv:NR-AR,SR-ARE")
        owners.append(OwnerConfig(path, columns.split(","), args.smiles_column))
    metrics = run_federation(_federation(args), owners, args.out, args.timeout)
    print(_said(metrics, args.out))
    return 0


def _said(metrics: dict, out: str) -> str:
    """One line: rounds, owners, bytes and time, and where the model is."""
    sent = sum(metrics["bytes_per_round"]) / 1e6
    return (f"{metrics['rounds_run']} rounds of {metrics['strategy']} with "
            f"{len(metrics['clients'])} data owners ({sent:.1f} MB of weights, "
            f"{metrics['seconds']:.0f} s) → {out}/model")
