"""What a federation agrees on (:class:`FederationConfig`, the server's) and what one data
owner brings (:class:`OwnerConfig`, a client's). Both are plain dataclasses that round-trip
through JSON: the server's is ``run_config.json`` beside the federated model, and each travels
to its Flower app process as a JSON file. No torch and no Flower here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molgraph.chem.parse import check_target_names
from molgraph.data.split import SPLITS
from molgraph.models.config import ModelConfig
from molgraph.runtime.configs import from_dict, to_dict
from molgraph.runtime.files import write_json
from molgraph.training.config import TASKS, TrainConfig

STRATEGIES = ("fedavg", "fedprox")


@dataclass
class FederationConfig:
    """A federated training run, as the server sees it.

    Attributes:
        task: regression or classification; every owner's labels must be of this kind.
        target_columns: the federated model's tasks, in output order; every owner's target
            columns must be among them (an owner lacking a task has no label for it). Empty:
            the union of the owners' columns, sorted by name.
        rounds: federated rounds (each: local training on every owner, FedAvg of the
            weights, then every owner scores the averaged model on its validation part);
            the round scoring best (weighted by validation molecules) is the model kept.
        strategy: fedavg (McMahan et al. 2017) or fedprox (Li et al. 2020: each owner's
            loss gets (mu/2)·||w − w_global||², which keeps owners with different data near
            the shared model).
        proximal_mu: FedProx's mu (fedprox only).
        secure_aggregation: Flower's SecAgg+: the server learns only the sum of the owners'
            weights each round, never one owner's (``federated.secure``). Needs at least 3
            owners (with 2, each could subtract its own weights from the sum); rounds take
            longer (four messages per owner), and each task's output rows are averaged over
            all owners rather than over those that label it.
        clients: owners to wait for before the first round.
        min_clients: the fewest owners a round may end with: an owner that dies or fails
            mid-run is left out and the others go on while at least this many answer
            (default: 1).
        round_timeout: seconds a round waits for its owners' answers; an owner not answered
            by then is left out of that round.
        join_timeout: seconds to wait for ``clients`` owners to connect before round 1.
        local_split: how each owner draws its validation part from its own molecules:
            scaffold, random or stratified.
        val_fraction: the fraction of each owner's molecules kept for validation.
        seed: fixes the initial weights, each owner's split and batch order.
        model: the network (molgraph.models.config.ModelConfig); ``out_channels`` is set
            from the tasks. Molecule-level features (standardised on pooled data) are
            refused.
        train: each owner's local optimisation per round (``epochs`` = local epochs, AdamW
            at ``lr`` without warm-up or early stopping; ``patience`` and
            ``warmup_epochs`` are not used).
    """

    task: str = field(default="classification", metadata={"choices": TASKS})
    target_columns: list[str] = field(default_factory=list)
    rounds: int = 10
    strategy: str = field(default="fedavg", metadata={"choices": STRATEGIES})
    proximal_mu: float = 0.01
    secure_aggregation: bool = False
    clients: int = 2
    min_clients: int = 1
    round_timeout: float = 600.0
    join_timeout: float = 300.0
    local_split: str = field(default="scaffold", metadata={"choices": SPLITS})
    val_fraction: float = 0.1
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1))

    def __post_init__(self) -> None:
        check_target_names(self.target_columns)
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if self.local_split not in SPLITS:
            raise ValueError(f"unknown local split {self.local_split!r}; choose from "
                             f"{', '.join(SPLITS)}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose from "
                             f"{', '.join(STRATEGIES)}")
        if self.rounds < 1 or self.clients < 1 or not 1 <= self.min_clients <= self.clients:
            raise ValueError(f"a federation needs rounds >= 1 and 1 <= min_clients <= clients, "
                             f"not rounds {self.rounds}, clients {self.clients}, min_clients "
                             f"{self.min_clients}")
        if self.proximal_mu < 0 or not 0 < self.val_fraction < 1:
            raise ValueError("proximal_mu must not be negative and val_fraction must be in "
                             f"(0, 1), not {self.proximal_mu} and {self.val_fraction}")
        if getattr(self.train, "dp_epsilon", None) is not None:
            raise ValueError("differentially private local training (--dp-epsilon) is not "
                             "available in federated mode yet: leave it out")
        if self.model.molecule_features:
            raise ValueError("molecule features (--molecule-features) are standardised on the "
                             "pooled training data, which a federation never sees: leave them "
                             "out of a federated model")

    def check_owners(self) -> None:
        """Refuse settings the number of owners cannot bear (checked when a run starts:
        ``run_federation`` sets ``clients`` from its owners)."""
        if self.secure_aggregation and self.clients < 3:
            raise ValueError(f"secure aggregation needs at least 3 data owners (with "
                             f"{self.clients}, each could subtract its own weights from the "
                             "sum): raise --clients or leave --secure-aggregation out")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FederationConfig:
        return from_dict(cls, data)

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> FederationConfig:
        """Read a federation's ``run_config.json``; a malformed file is an error naming it."""
        return _load(cls, path, "a molgraph federation configuration")


@dataclass
class OwnerConfig:
    """One data owner's molecules; they and their labels never leave the owner's process.

    Attributes:
        data: the owner's labelled molecule file (CSV/TSV/SMI/SDF, optionally .gz).
        target_columns: its label columns; each must be one of the federation's tasks.
        smiles_column: its SMILES column (default: smiles, SMILES or mol).
        delimiter: its CSV field delimiter (default: found from the file).
        name: how the server's metrics name this owner (default: the file's stem).
        threads: torch CPU threads for local training (default: molgraph's default).
        device: auto, cpu, cuda or cuda:N.
    """

    data: str
    target_columns: list[str]
    smiles_column: str | None = None
    delimiter: str | None = None
    name: str = ""
    threads: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.data or not self.target_columns:
            raise ValueError("a data owner needs its molecule file (--data) and its label "
                             "columns (--target-columns)")
        check_target_names(self.target_columns)
        self.name = self.name or Path(self.data).name.split(".")[0]

    def save(self, path: str | Path) -> Path:
        return write_json(path, to_dict(self))

    @classmethod
    def load(cls, path: str | Path) -> OwnerConfig:
        return _load(cls, path, "a molgraph data owner's settings")


def _load(cls: type, path: str | Path, what: str) -> Any:
    path = Path(path)
    try:
        return from_dict(cls, json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not {what} ({err})") from err
