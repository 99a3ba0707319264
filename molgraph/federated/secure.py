"""Secure aggregation: the server learns the sum of the owners' weights, never one owner's.

Flower's SecAgg+ (Bell et al., CCS 2020): each round every owner masks its weights with
pairwise masks agreed with its neighbours (Diffie–Hellman keys; the masks' seeds are
Shamir-shared, so the sum can still be unmasked when owners drop out, down to the
reconstruction threshold); the server adds the masked vectors, the masks cancel, and only the
sum is ever in the clear. Weights are clipped to ±``CLIPPING_RANGE`` and quantized to 2²²
levels on the way (a rounding of about 4e-6).

In flwr 1.42 SecAgg+ runs only in the legacy workflow (``LegacyContext``, ``DefaultWorkflow``,
the old ``FedAvg`` strategy and its ``FitIns``/``FitRes`` messages), so this module speaks
that dialect for the server, and gives the owners' client app a mod that takes part in the
protocol only when a message asks for it (:func:`when_asked`); the owner's training is the same
code as without. What changes for the federation:

- four messages per owner and round instead of one (keys, shares, masked weights,
  unmasking): each is a fresh client process in Flower, so a round takes longer;
- each task's output rows cannot be averaged over the owners that label it (the server sees
  the sum only): they are averaged over all owners, by molecules;
- the round kept is still the one scoring best on the owners' validation parts (scores are
  not masked; weights are).
"""

from __future__ import annotations

from collections.abc import Iterable

import flwr.compat.common.recorddict_compat as compat
import numpy as np
import torch
from flwr.app import ArrayRecord, Context, Message, MessageType
from flwr.client.mod import secaggplus_mod
from flwr.common import (
    Code,
    EvaluateRes,
    FitRes,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey

from molgraph.federated.aggregate import RoundBook

#: weights are clipped to this range before quantization (Flower's default)
CLIPPING_RANGE = 8.0


def when_asked(msg: Message, context: Context, call_next) -> Message:
    """A client mod: SecAgg+ (Flower's ``secaggplus_mod``) for the messages of a secure
    round, the owner's handlers as they are for everything else."""
    if (msg.metadata.message_type == MessageType.TRAIN
            and RECORD_KEY_CONFIGS in msg.content.config_records):
        return secaggplus_mod(msg, context, call_next)
    return call_next(msg, context)


def is_legacy(msg: Message) -> bool:
    """Whether a train or evaluate message comes from the legacy (secure) workflow."""
    return "arrays" not in msg.content


def fit_inputs(msg: Message) -> tuple[dict, list[np.ndarray]]:
    """A legacy train message's config and weights (in the model's state-dict order)."""
    fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    return dict(fitins.config), parameters_to_ndarrays(fitins.parameters)


def evaluate_inputs(msg: Message) -> tuple[dict, list[np.ndarray]]:
    """A legacy evaluate message's config and weights."""
    ins = compat.recorddict_to_evaluateins(msg.content, keep_input=True)
    return dict(ins.config), parameters_to_ndarrays(ins.parameters)


def fit_reply(msg: Message, state: dict[str, torch.Tensor], metrics: dict) -> Message:
    """The legacy reply to a train message: the trained weights, molecules and metrics."""
    weights = [v.detach().cpu().numpy() for v in state.values()]
    result = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(weights),
                    int(metrics["num-examples"]), metrics)
    return Message(compat.fitres_to_recorddict(result, keep_input=False), reply_to=msg)


def evaluate_reply(msg: Message, metrics: dict) -> Message:
    """The legacy reply to an evaluate message (the scores travel as metrics; ``loss`` is
    not used)."""
    result = EvaluateRes(Status(Code.OK, ""), 0.0, int(metrics["num-examples"]), metrics)
    return Message(compat.evaluateres_to_recorddict(result), reply_to=msg)


def _payload(messages: Iterable[Message]) -> int:
    """The bytes of the messages' records (a config record counted here, item by item:
    Flower's own count fails on the protocol's empty and nested lists)."""
    return sum(_record_bytes(record) for m in messages if m.has_content()
               for record in m.content.values())


def _record_bytes(record) -> int:
    if isinstance(record, ArrayRecord):
        return record.count_bytes()
    return sum(len(k) + sum(_value_bytes(v) for v in (value if isinstance(value, list)
                                                      else [value]))
               for k, value in record.items())


def _value_bytes(value) -> int:
    return len(value) if isinstance(value, (bytes, str)) else 8


class _CountingGrid:
    """The server's grid, counting the payload bytes of every message of a round into the
    round's record (the protocol's keys, shares and masked vectors included)."""

    def __init__(self, grid, book: RoundBook, state) -> None:
        self._grid, self._book, self._state = grid, book, state

    def __getattr__(self, name: str):
        return getattr(self._grid, name)

    def send_and_receive(self, messages, timeout: float | None = None):
        messages = list(messages)
        configs = self._state.config_records.get(MAIN_CONFIGS_RECORD)
        record = self._book.round(int(configs[WorkflowKey.CURRENT_ROUND]) if configs else 0)
        record["bytes_to_clients"] += _payload(messages)
        replies = list(self._grid.send_and_receive(messages, timeout=timeout))
        record["bytes_from_clients"] += _payload(replies)
        return replies


class _SecureFedAvg(FedAvg):
    """The legacy FedAvg keeping a :class:`RoundBook`; the last round alone is evaluated
    (the others are scored by the owners as the next round starts)."""

    def __init__(self, names: dict[int, str], book: RoundBook, config: dict, **kwargs) -> None:
        super().__init__(on_fit_config_fn=self._config, on_evaluate_config_fn=self._config,
                         **kwargs)
        self.names, self.book, self.shared = names, book, config
        self.asked: list[str] = []

    def _config(self, server_round: int) -> dict:
        return {**self.shared, "server-round": server_round}

    def _name(self, node: int) -> str:
        return self.names.get(node, str(node))

    def configure_fit(self, server_round, parameters, client_manager):
        instructions = super().configure_fit(server_round, parameters, client_manager)
        self.asked = [self._name(proxy.node_id) for proxy, _ in instructions]
        return instructions

    def _heard(self, server_round: int, stage: str, results, failures, each) -> None:
        """Record the owners' results (``each(round, name, metrics)``) and who failed."""
        answered = {self._name(proxy.node_id) for proxy, _ in results}
        self.book.failed(server_round, stage, self.asked, answered, map(str, failures))
        for proxy, result in results:
            each(server_round, self._name(proxy.node_id), result.metrics)

    def aggregate_fit(self, server_round, results, failures):
        self._heard(server_round, "train", results, failures, self.book.trained)
        parameters, metrics = super().aggregate_fit(server_round, results, failures)
        weights = None
        if parameters is not None:  # unmasked and averaged in float64: back to the model's
            weights = [w.astype(np.float32) for w in parameters_to_ndarrays(parameters)]
            parameters = ndarrays_to_parameters(weights)
        self.book.averaged(server_round, weights)
        self.book.clocked(server_round)
        return parameters, metrics

    def configure_evaluate(self, server_round, parameters, client_manager):
        if server_round < self.book.last_round:
            return []
        instructions = super().configure_evaluate(server_round, parameters, client_manager)
        self.asked = [self._name(proxy.node_id) for proxy, _ in instructions]
        return instructions

    def aggregate_evaluate(self, server_round, results, failures):
        self._heard(server_round, "val", results, failures, self.book.evaluated)
        self.book.judge(server_round)
        self.book.clocked(server_round)
        return None, {}


def serve_securely(grid, context: Context, federation, state: dict[str, torch.Tensor],
                   config: dict, names: dict[int, str], book: RoundBook, molecules: int
                   ) -> dict[str, torch.Tensor]:
    """Run ``federation.rounds`` rounds of FedAvg (FedProx: ``proximal-mu`` in ``config``)
    under SecAgg+ from the weights ``state``; the weights of the round ``book`` keeps.

    ``config``: what every owner is sent (the federation, the target scaling); ``names``:
    the owners by node; ``molecules``: all owners' training molecules (SecAgg+ scales each
    owner's weights by its share of them before masking)."""
    keys = list(state)
    strategy = _SecureFedAvg(
        names, book, config, fraction_fit=1.0, fraction_evaluate=1.0,
        min_fit_clients=federation.min_clients, min_evaluate_clients=federation.min_clients,
        min_available_clients=federation.min_clients, accept_failures=True,
        initial_parameters=ndarrays_to_parameters([v.cpu().numpy() for v in state.values()]))
    legacy = LegacyContext(context=context, strategy=strategy, config=ServerConfig(
        num_rounds=federation.rounds, round_timeout=federation.round_timeout))
    secure = SecAggPlusWorkflow(
        num_shares=1.0, reconstruction_threshold=max(2, federation.min_clients),
        max_weight=float(molecules), clipping_range=CLIPPING_RANGE,
        timeout=federation.round_timeout)
    DefaultWorkflow(fit_workflow=secure)(_CountingGrid(grid, book, legacy.state), legacy)
    if book.best is not None:
        weights = book.best
    else:  # no round was scored: the last round's weights
        weights = parameters_to_ndarrays(compat.arrayrecord_to_parameters(
            legacy.state.array_records[MAIN_PARAMS_RECORD], keep_input=True))
    if len(weights) != len(keys) or not all(np.isfinite(w).all() for w in weights):
        raise ValueError("secure aggregation gave no usable weights (a round's masks could "
                         "not be removed): too few owners answered; see the server's log")
    return {k: torch.from_numpy(np.asarray(w).copy()) for k, w in zip(keys, weights)}

