"""Command-line flags derived from configuration dataclasses, in one place.

Every field of a configuration becomes a flag (``model.hidden_channels`` →
``--hidden-channels``, with older short names kept as aliases), with its type, choices and help
taken from the dataclass and its default shown in ``--help``; the fields of each nested
configuration (``data``, ``model``, ``train``) form a group of their own in ``--help``. Flags
the user did not give are absent from the namespace, so a configuration file (``--config``) is
overridden only by the flags actually given. Fields marked ``derived`` (set from the data) get
no flag. The flags of an MLflow run (:class:`~molgraph.tracking.config.TrackingConfig`) and the
run configuration's older spellings are here too, so that no verb imports another.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from molgraph.runtime.configs import field_help
from molgraph.tracking.config import TrackingConfig
from molgraph.training.config import RunConfig

PREFIX = "config:"
#: Titles of the ``--help`` groups of a nested configuration's fields.
GROUPS = {"data": "input data", "model": "model", "train": "training (optimisation)"}
#: Run-configuration flags that keep their older, shorter spellings (the first is shown).
RUN_ALIASES = {
    "data.path": ["--data"],
    "data.cache": ["--cache"],
    "model.name": ["--model"],
    "model.hidden_channels": ["--hidden-channels", "--hidden"],
    "model.num_layers": ["--num-layers", "--layers"],
    "train.lr": ["--lr"],
}


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _argument(hint: Any) -> dict[str, Any]:
    """argparse keywords for a field of type ``hint``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None → X
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is list:  # repeatable: --features a.tsv --features b.tsv
        return {"nargs": "+", "action": "extend", "type": typing.get_args(hint)[0]}
    if origin is tuple:
        inner = typing.get_args(hint)
        return {"nargs": len(inner), "type": inner[0]}
    return {"type": hint}


def _nested(hint: Any) -> type | None:
    """The configuration dataclass a field holds (``X`` or ``X | None``), else ``None``."""
    return next((c for c in (typing.get_args(hint) or (hint,)) if dataclasses.is_dataclass(c)),
                None)


def add_config_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                       prefix: str = "", aliases: dict[str, list[str]] | None = None,
                       require_missing: bool = True, title: str | None = None,
                       store: str = PREFIX) -> None:
    """Add a flag for every field of ``cls`` (nested dataclasses recursively).

    Args:
        parser: where the flags go.
        cls: the configuration dataclass.
        prefix: dotted name of ``cls`` within the whole configuration (``"model."``).
        aliases: dotted name → flags to use instead of ``--field-name`` (the first is shown).
        require_missing: a field without a default is a required flag (``False`` when a
            ``--config`` file may give it instead).
        title: with a parser, put the flags in a ``--help`` group of this title (nested
            configurations get groups of their own, titled from :data:`GROUPS`).
        store: prefix of the values' names in the namespace (:func:`given_values` reads
            them back), so two configurations' flags on one verb do not mix.
    """
    aliases = aliases or {}
    top = parser if title is not None and isinstance(parser, argparse.ArgumentParser) else None
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    fields = dataclasses.fields(cls)
    if top is not None:  # in --help the nested groups (data, model, ...) come first
        fields = sorted(fields, key=lambda f: _nested(hints[f.name]) is None)
    for f in fields:
        dotted = prefix + f.name
        if f.metadata.get("derived"):
            continue
        nested = _nested(hints[f.name])
        if nested is None and top is not None and parser is top:  # this class's own group
            parser = top.add_argument_group(title)
        if nested is not None:
            where = top if top is not None else parser
            add_config_options(where, nested, dotted + ".", aliases, require_missing,
                               GROUPS.get(f.name, f.name) if top is not None else None, store)
            continue
        default = _default(f)
        text = helps.get(f.name, "").rstrip(".")
        if f.metadata.get("required") or (default is dataclasses.MISSING
                                           and not require_missing):
            text += " (required, unless --config gives it)"
        elif default is not dataclasses.MISSING and "(default:" not in text:
            text += f" (default: {_shown(default)})"
        kwargs = _argument(hints[f.name])
        if kwargs.get("action") is not argparse.BooleanOptionalAction \
                and "choices" not in f.metadata:
            kwargs["metavar"] = f.name.upper()
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        flags = aliases.get(dotted) or ["--" + f.name.replace("_", "-")]
        if default is dataclasses.MISSING and require_missing:
            kwargs["required"] = True
        parser.add_argument(*flags, dest=store + dotted, default=argparse.SUPPRESS,
                            help=text.replace("%", "%%"), **kwargs)


def given_values(args: argparse.Namespace, store: str = PREFIX) -> dict[str, Any]:
    """The configuration values given on the command line, by dotted name (those added with
    ``store``)."""
    return {key[len(store):]: value for key, value in vars(args).items()
            if key.startswith(store)}


def add_tracking_options(p: argparse.ArgumentParser) -> None:
    """``--tracking-uri``, ``--experiment``, ``--run-name``: where MLflow records the run."""
    group = p.add_argument_group("MLflow tracking")
    group.add_argument("--tracking-uri", nargs="?", const="", metavar="URI",
                       help="log the run (settings, per-epoch and final metrics, the output "
                       "directory, the model) to MLflow: http://HOST:PORT, sqlite:///FILE.db, "
                       "a directory (DIR/mlflow.db), or 'local' for OUT/mlflow.db inside --out "
                       "(artifacts in OUT/mlartifacts/); without a value $MLFLOW_TRACKING_URI, "
                       "else 'local' (default: not logged). Opened before any work: a store "
                       "that cannot be reached or written stops the run at once")
    group.add_argument("--experiment", default="molgraph", metavar="NAME",
                       help="MLflow experiment, created when missing (default: molgraph)")
    group.add_argument("--run-name", metavar="NAME",
                       help="MLflow run name (default: one MLflow makes up)")


def add_key_option(p: argparse.ArgumentParser) -> None:
    """``--key-file``: the key of encrypted stores and model directories; ``molgraph.cli.main``
    makes it the active key (``molgraph.runtime.encryption``) while the verb runs."""
    p.add_argument("--key-file", metavar="FILE",
                   help="encryption key (AES-256-GCM): the stores and model directories "
                   "written are encrypted with it, encrypted ones are read with it; make one "
                   "with `molgraph keygen --out FILE` (default: $MOLGRAPH_KEY, else none: "
                   "plaintext)")


def tracking_config(args: argparse.Namespace) -> TrackingConfig | None:
    """The MLflow run the flags ask for, or ``None`` without ``--tracking-uri``."""
    if args.tracking_uri is None:
        return None
    return TrackingConfig(args.tracking_uri, args.experiment, args.run_name)


def add_run_options(p: argparse.ArgumentParser, cls: type) -> None:
    """``--config JSON`` and one flag per field of the run configuration ``cls``, grouped."""
    p.add_argument("--config", metavar="JSON", help="run configuration to start from (e.g. "
                   "DIR/run_config.json of an earlier run); flags given override it "
                   "(default: none)")
    add_config_options(p, cls, aliases=RUN_ALIASES, title="run")


def molecule_run_config(args: argparse.Namespace) -> RunConfig:
    """The molecule run configuration: ``--config`` (or the defaults) with the flags given."""
    base = RunConfig.load(args.config) if args.config else RunConfig()
    config = base.with_values(given_values(args))
    config.check_data()
    return config


def verbose_optuna(args: argparse.Namespace) -> None:
    """With ``-v``, Optuna's own line per trial too (a sweep silences Optuna's INFO default
    while it runs). Called once Optuna is imported, which sets its logger to INFO."""
    import logging

    if args.verbose:
        logging.getLogger("optuna").setLevel(logging.DEBUG)

def mark_required(parser: argparse.ArgumentParser) -> None:
    """Say "(required)" in the help of every required flag of ``parser`` and its sub-verbs,
    so each verb marks them the same way."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                mark_required(sub)
        elif action.required and action.help and "(required" not in action.help:
            action.help += " (required)"


def add_devices_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--devices N``: run the verb on N processes (torch.distributed), launched by torchrun."""
    p.add_argument("--devices", type=int, default=1, metavar="N",
                   help=f"{what} on N processes (torch.distributed: one per GPU with NCCL, else "
                   "CPU processes with Gloo), launched here by torchrun; the same as torchrun "
                   "--nproc-per-node N -m molgraph ... (use torchrun itself for several nodes; "
                   "default: 1)")


def relaunched(args: argparse.Namespace) -> int | None:
    """With ``--devices N`` > 1 outside torchrun: run this command again on N processes and
    return its exit code; else ``None`` (this process does the work)."""
    from molgraph.runtime import distributed

    if args.devices < 1:
        raise ValueError(f"--devices must be at least 1, not {args.devices}")
    if args.devices > 1 and not distributed.launched():
        return distributed.relaunch(args.devices, args.argv, "--devices")
    return None


def join_processes(device: str) -> None:
    """Join torchrun's process group (when launched by it); only rank 0 logs above errors."""
    import logging

    from molgraph.runtime import distributed

    if distributed.init_from_env(device) and not distributed.is_main():
        logging.getLogger("molgraph").setLevel(logging.ERROR)  # rank 0 speaks for all
