"""The Flower apps of a molgraph federation (Flower's Message API: a ``ServerApp`` and a
``ClientApp``, run by a SuperLink and one SuperNode per data owner; see
``molgraph.federated.launch``). With ``federated.secure``, the only modules that import Flower.

A run: the server waits for ``clients`` owners, asks each to describe itself (a *query*: its
name, task columns, molecule counts and, for regression only, per-task label count, sum and sum
of squares), fixes the task list (the union of the owners' columns unless given) and the
target scaling, then runs ``rounds`` of FedAvg or FedProx. Each round every owner trains the
shared weights on its molecules and sends them back; the average (each task's output rows
from the owners that label it) then goes to every owner, who scores it on its own validation
part. The round whose model scores best there is the one kept. Molecules and labels never
leave an owner's process; only weights, counts and scores do. A node that fails or dies is
left out of that round (Flower answers for it with an error once the round's timeout or its
missed heartbeats say so); the run goes on while ``min_clients`` answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedProx

from molgraph.federated import secure
from molgraph.federated.aggregate import GLOBAL, RoundBook, output_layer, per_task_rows
from molgraph.federated.config import FederationConfig, OwnerConfig
from molgraph.federated.output import ERROR_FILE, write_federation
from molgraph.federated.owner import (
    label_moments,
    load_owner,
    pooled_scaler,
    score,
    train_locally,
)
from molgraph.models.registry import build_model
from molgraph.models.scaling import Scaler
from molgraph.runtime.system import seed_everything
from molgraph.training.metrics import monitored_metric

log = logging.getLogger(__name__)
server_app = ServerApp()
client_app = ClientApp(mods=[secure.when_asked])  # SecAgg+ when a round asks for it
#: run-config keys (``flwr run --run-config``) and the node-config key (``--node-config``)
FEDERATION_FILE, OUT_DIR, OWNER_FILE = "federation-file", "out", "owner-file"


class _Recording:
    """A Flower strategy that also keeps a :class:`RoundBook` (``book``): per round, the
    payload bytes to and from the owners, the seconds taken, each owner's metrics by name,
    and the round whose averaged model scores best on the owners' validation parts.

    Each round's averaged model is scored by every owner at the start of the next round's
    training, and the last round's by an evaluation step: one process start per owner and
    round fewer than evaluating every round. Beyond the weighted mean, each task's output rows
    are averaged over the owners that label it (``labels``: each node's training labels per
    task; ``federated.aggregate``)."""

    def __init__(self, names: dict[int, str], book: RoundBook, labels: dict[int, list[int]],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.names, self.book, self.labels = names, book, labels
        self.asked: dict[str, list[int]] = {}  # the nodes sent the current train/val step

    def _sent(self, server_round: int, messages: Iterable[Message], part: str
              ) -> list[Message]:
        messages = list(messages)
        self.book.round(server_round)["bytes_to_clients"] += sum(
            m.content["arrays"].count_bytes() for m in messages)
        self.asked[part] = [m.metadata.dst_node_id for m in messages]
        return messages

    def _name(self, node: int) -> str:
        return self.names.get(node, str(node))

    def _received(self, server_round: int, replies: Iterable[Message], part: str
                  ) -> list[Message]:
        """Record the replies and the owners asked but not answered."""
        replies, book = list(replies), self.book
        answered = [r for r in replies if not r.has_error()]
        book.failed(server_round, part, map(self._name, self.asked.get(part, [])),
                    {self._name(r.metadata.src_node_id) for r in answered},
                    [r.error.reason for r in replies if r.has_error()])
        for reply in answered:
            name, metrics = self._name(reply.metadata.src_node_id), reply.content["metrics"]
            if part == "train":
                book.round(server_round)["bytes_from_clients"] += \
                    reply.content["arrays"].count_bytes()
                book.trained(server_round, name, metrics)
            else:
                book.evaluated(server_round, name, metrics)
        book.clocked(server_round)
        return replies

    def configure_train(self, server_round, arrays, config, grid):
        return self._sent(server_round, super().configure_train(server_round, arrays, config,
                                                                grid), "train")

    def aggregate_train(self, server_round, replies):
        replies = self._received(server_round, replies, "train")
        arrays, metrics = super().aggregate_train(server_round, replies)
        answered = [r for r in replies if not r.has_error()]
        if arrays is not None and answered:
            arrays = self._per_task(arrays, answered)
        self.book.averaged(server_round, arrays)
        return arrays, metrics

    def _per_task(self, arrays: ArrayRecord, replies: list[Message]) -> ArrayRecord:
        averaged = {k: v.numpy() for k, v in arrays.items()}
        keys = output_layer(list(averaged))
        if not keys:
            return arrays
        owners = [{k: r.content["arrays"][k].numpy() for k in keys} for r in replies]
        labels = [self.labels[r.metadata.src_node_id] for r in replies]
        mixed = per_task_rows(averaged, owners, labels, keys)
        return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in mixed.items()})

    def configure_evaluate(self, server_round, arrays, config, grid):
        messages = ([] if server_round < self.book.last_round  # scored in the next round
                    else super().configure_evaluate(server_round, arrays, config, grid))
        return self._sent(server_round, messages, "val")

    def aggregate_evaluate(self, server_round, replies):
        aggregated = super().aggregate_evaluate(
            server_round, self._received(server_round, replies, "val"))
        if server_round == self.book.last_round:  # earlier rounds are judged in the next
            self.book.judge(server_round)
        return aggregated


class RecordingFedAvg(_Recording, FedAvg):
    """FedAvg that records each round (see :class:`_Recording`)."""


class RecordingFedProx(_Recording, FedProx):
    """FedProx that records each round (see :class:`_Recording`)."""


@server_app.main()
def serve(grid: Grid, context: Context) -> None:
    """Run the federation the run config names and write its model directory; a failure is
    also written to ``OUT/federation_error.txt`` for the process that started the run."""
    out = Path(str(context.run_config[OUT_DIR]))
    try:
        federation = FederationConfig.load(str(context.run_config[FEDERATION_FILE]))
        _serve(grid, context, federation, out)
    except Exception as err:
        out.mkdir(parents=True, exist_ok=True)
        (out / ERROR_FILE).write_text(f"{err}")
        raise


def _serve(grid: Grid, context: Context, federation: FederationConfig, out: Path) -> None:
    started = time.time()
    nodes = _wait_for_owners(grid, federation)
    owners = _describe(grid, nodes, federation)
    tasks = _tasks(owners, federation)
    scaler = pooled_scaler([_moments(o, tasks) for o in owners.values()], tasks,
                           federation.task)
    federation = replace(federation, target_columns=tasks,
                         model=replace(federation.model, out_channels=len(tasks)))
    seed_everything(federation.seed)
    network = build_model(federation.model)
    names = {node: o["name"] for node, o in owners.items()}
    book = RoundBook(federation.rounds, {o["name"]: o["n_val"] for o in owners.values()},
                     monitored_metric(federation.task))
    shared = {"federation": json.dumps(federation.to_dict()),
              "scaler-mean": json.dumps(scaler.mean), "scaler-std": json.dumps(scaler.std)}
    if federation.secure_aggregation:
        if federation.strategy == "fedprox":
            shared["proximal-mu"] = federation.proximal_mu
        kept = secure.serve_securely(grid, context, federation, network.state_dict(), shared, names,
                              book, sum(o["n_train"] for o in owners.values()))
    else:
        labels = {node: [o["labelled"].get(t, 0) for t in tasks] for node, o in owners.items()}
        kept = _serve_openly(grid, federation, network, shared, names, labels, book)
    network.load_state_dict(kept)
    write_federation(out, federation, network, scaler, {
        "kept_round": book.best_round if book.best is not None else federation.rounds,
        "rounds": book.records(),
        "clients": {o["name"]: {k: v for k, v in o.items() if k != "moments"}
                    for o in owners.values()},
        "seconds": round(time.time() - started, 2)})


def _serve_openly(grid: Grid, federation: FederationConfig, network, shared: dict,
                  names: dict[int, str], labels: dict[int, list[int]], book: RoundBook
                  ) -> dict:
    """The rounds with Flower's Message API strategies; the kept round's state dict."""
    options = dict(names=names, book=book, labels=labels, fraction_train=1.0,
                   fraction_evaluate=1.0, min_train_nodes=federation.min_clients,
                   min_evaluate_nodes=federation.min_clients,
                   min_available_nodes=federation.min_clients)
    strategy = (RecordingFedProx(proximal_mu=federation.proximal_mu, **options)
                if federation.strategy == "fedprox" else RecordingFedAvg(**options))
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord(network.state_dict()),
                            num_rounds=federation.rounds, timeout=federation.round_timeout,
                            train_config=ConfigRecord(dict(shared)),
                            evaluate_config=ConfigRecord(dict(shared)))
    return (book.best if book.best is not None else result.arrays).to_torch_state_dict()


def _wait_for_owners(grid: Grid, federation: FederationConfig) -> list[int]:
    """The connected nodes once ``clients`` are (at least ``min_clients`` after
    ``join_timeout`` seconds; fewer is an error)."""
    deadline = time.time() + federation.join_timeout
    while len(nodes := list(grid.get_node_ids())) < federation.clients \
            and time.time() < deadline:
        time.sleep(0.5)
    if len(nodes) < federation.min_clients:
        raise ValueError(f"{len(nodes)} of {federation.clients} data owners connected within "
                         f"{federation.join_timeout:g} s (at least {federation.min_clients} "
                         "needed); start their clients, or raise --join-timeout")
    return nodes


def _describe(grid: Grid, nodes: list[int], federation: FederationConfig) -> dict[int, dict]:
    """Each owner's name, tasks, counts and (regression) label moments, by node."""
    content = RecordDict({"config": ConfigRecord(
        {"federation": json.dumps(federation.to_dict())})})
    messages = [Message(content, node, MessageType.QUERY) for node in nodes]
    owners, errors = {}, []
    for reply in grid.send_and_receive(messages, timeout=federation.round_timeout):
        if reply.has_error():
            errors.append(reply.error.reason)
            continue
        about, counts = reply.content["owner"], reply.content["counts"]
        owners[reply.metadata.src_node_id] = {
            "name": str(about["name"]), "tasks": list(about["tasks"]),
            "n_train": int(counts["n_train"]), "n_val": int(counts["n_val"]),
            "labelled": dict(zip(about["tasks"], map(int, counts["count"]))),
            "moments": {k: list(counts[k]) for k in ("count", "sum", "sumsq") if k in counts}}
    seen: dict[str, int] = {}
    for owner in owners.values():  # two owners' files of one name: name#2
        seen[owner["name"]] = seen.get(owner["name"], 0) + 1
        owner["name"] += f"#{seen[owner['name']]}" if seen[owner["name"]] > 1 else ""
    if len(owners) < federation.min_clients:
        raise ValueError(f"{len(owners)} data owners could read their data ({len(errors)} "
                         f"could not: {'; '.join(errors) or 'no answer'}); "
                         f"{federation.min_clients} needed")
    for reason in errors:
        log.warning("a data owner is left out: %s", reason)
    return owners


def _tasks(owners: dict[int, dict], federation: FederationConfig) -> list[str]:
    """The federation's tasks: as given, else the union of the owners' columns by name."""
    union = sorted({t for o in owners.values() for t in o["tasks"]})
    tasks = list(federation.target_columns) or union
    unknown = {o["name"]: [t for t in o["tasks"] if t not in tasks] for o in owners.values()}
    unknown = {name: columns for name, columns in unknown.items() if columns}
    if unknown:
        raise ValueError(f"data owner(s) hold target columns that are not tasks of this "
                         f"federation ({tasks}): {unknown}; add them to the server's "
                         "--target-columns or drop them from the owners'")
    return tasks


def _moments(owner: dict, tasks: list[str]) -> dict[str, list[float]]:
    """An owner's label moments in the federation's task columns (zeros where it has none)."""
    moments = {k: [0.0] * len(tasks) for k in ("count", "sum", "sumsq")}
    for key, values in owner["moments"].items():
        for name, value in zip(owner["tasks"], values):
            moments[key][tasks.index(name)] = value
    return moments


def _owner(context: Context, config) -> tuple[OwnerConfig, FederationConfig]:
    """This node's owner settings and the federation's (``config``: what the server sent),
    with the owner's threads and device."""
    owner = OwnerConfig.load(str(context.node_config[OWNER_FILE]))
    federation = FederationConfig.from_dict(json.loads(str(config["federation"])))
    train = replace(federation.train, threads=owner.threads, device=owner.device)
    return owner, replace(federation, train=train)


@client_app.query()
def describe(msg: Message, context: Context) -> Message:
    """Name, tasks and counts of this owner's data; label moments for regression only."""
    owner, federation = _owner(context, msg.content["config"])
    data = load_owner(owner, owner.target_columns, federation)
    moments = label_moments(data)
    counts = {"n_train": len(data.train[1]), "n_val": len(data.val[1]),
              "count": moments["count"]}
    if federation.task == "regression":
        counts.update(sum=moments["sum"], sumsq=moments["sumsq"])
    content = RecordDict({"owner": ConfigRecord({"name": owner.name,
                                                 "tasks": owner.target_columns}),
                          "counts": MetricRecord(counts)})
    return Message(content, reply_to=msg)


def _inputs(msg: Message, legacy: Callable) -> tuple[dict, object]:
    """The config and weights a train or evaluate message carries, in either dialect (the
    Message API's, or the legacy one of a secure federation)."""
    if secure.is_legacy(msg):
        return legacy(msg)
    return msg.content["config"], msg.content["arrays"].to_torch_state_dict()


def _shared_model(config, weights, context: Context):
    owner, federation = _owner(context, config)
    data = load_owner(owner, federation.target_columns, federation)
    network = build_model(federation.model)
    if isinstance(weights, list):  # legacy: arrays in the state dict's order
        weights = {k: torch.from_numpy(w) for k, w in zip(network.state_dict(), weights)}
    network.load_state_dict(weights)
    scaler = Scaler(json.loads(str(config["scaler-mean"])),
                    json.loads(str(config["scaler-std"])))
    return federation, data, network, scaler


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    """Score the shared weights on this owner's validation part, train them on its
    molecules, and send back the weights, the training loss and both models' scores."""
    config, weights = _inputs(msg, secure.fit_inputs)
    federation, data, network, scaler = _shared_model(config, weights, context)
    server_round = int(config["server-round"])
    mu = float(config["proximal-mu"]) if "proximal-mu" in config else 0.0
    received = score(network, data, federation, scaler)
    seed_everything(federation.seed + server_round)
    loss = train_locally(network, data, federation, scaler, mu, federation.seed + server_round)
    metrics = {"num-examples": len(data.train[1]), "train_loss": loss,
               **{f"{GLOBAL}{k}": v for k, v in received.items()},
               **{f"local_val_{k}": v for k, v in score(network, data, federation,
                                                        scaler).items()}}
    if secure.is_legacy(msg):
        return secure.fit_reply(msg, network.state_dict(), metrics)
    content = RecordDict({"arrays": ArrayRecord(network.state_dict()),
                          "metrics": MetricRecord(metrics)})
    return Message(content, reply_to=msg)


@client_app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Score the averaged weights on this owner's validation part."""
    config, weights = _inputs(msg, secure.evaluate_inputs)
    federation, data, network, scaler = _shared_model(config, weights, context)
    metrics = {"num-examples": len(data.val[1]), **score(network, data, federation, scaler)}
    if secure.is_legacy(msg):
        return secure.evaluate_reply(msg, metrics)
    return Message(RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)
