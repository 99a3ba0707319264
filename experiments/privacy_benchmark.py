"""Differentially private training: test ROC-AUC against the privacy budget ε.

Tox21 (12 tasks, missing labels) and BBBP from ``../shared/datasets/molecules``, Bemis–Murcko
scaffold split 80/10/10, seeds 0-2, δ = 1 / (training molecules). One recipe for every ε, fixed
before any run (no tuning on validation or test): a D-MPNN of width 128 and 3 layers, expected
batch 256 (Poisson sampling for DP), learning rate 1e-3, 20 epochs, the best validation epoch
kept, clipping norm 1.0, no blend, no dropout. ε = ∞ is the same model and recipe trained
without privacy (ordinary shuffled batches of 256, no clipping, no noise). Seconds per epoch
are the run's wall time over its epochs, each run on one torch thread; as other jobs share the
machine, ``--timing`` compares the two kinds of epoch alternately in one process::

    python experiments/privacy_benchmark.py --datasets bbbp tox21 --seeds 0 1 2
    python experiments/privacy_benchmark.py --timing bbbp tox21
    python experiments/privacy_benchmark.py --report

``--encoder DIR`` runs a second recipe, ``probe``: the public pretrained encoder of ``molgraph
pretrain`` (MOSES molecules, no privacy cost) frozen, and only a linear head (``--ffn-layers
1``) trained, with or without DP-SGD: fewer parameters take less noise (Tramèr & Boneh 2021,
"Differentially private learning needs better features")::

    python experiments/privacy_benchmark.py --datasets tox21 --encoder ENC --epsilons inf 8
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from benchmark_moleculenet import DATASETS, SHARED

OUT = Path(__file__).parent / "out" / "privacy"
EPSILONS = (math.inf, 8.0, 3.0, 1.0)
RECIPE = {"hidden_channels": 128, "num_layers": 3, "batch_size": 256, "lr": 1e-3, "epochs": 20,
          "max_grad_norm": 1.0}


def run(name: str, seed: int, epsilon: float, encoder: str | None = None,
        recipe_name: str = "", changes: dict | None = None) -> dict:
    """One training run (or the one already recorded under ``OUT``); with ``encoder``, the
    ``probe`` recipe; ``changes`` to the recipe are recorded under ``recipe_name``."""
    recipe_name = recipe_name or ("probe" if encoder else "scratch")
    tag = "" if recipe_name == "scratch" else f"_{recipe_name}"
    done = OUT / f"{name}_seed{seed}_eps{epsilon:g}{tag}.json"
    if done.exists():
        return json.loads(done.read_text())
    recipe = {**RECIPE, **(changes or {})}
    import torch

    from molgraph.data.dataset import load_dataset
    from molgraph.training.api import run_config
    from molgraph.training.job import train_on_dataset

    torch.set_num_threads(1)
    path, targets, task = DATASETS[name]
    dataset = load_dataset(SHARED / path, target_columns=targets, cache_dir=True, workers=1)
    private = {} if math.isinf(epsilon) else {"dp_epsilon": epsilon,
                                              "dp_max_grad_norm": recipe["max_grad_norm"]}
    probe = {"init_from": encoder, "freeze_encoder": True} if encoder else {}
    config = run_config(SHARED / path, targets, task, split="scaffold", seed=seed,
                        epochs=recipe["epochs"], baseline=False, blend=False,
                        model_options={"hidden_channels": recipe["hidden_channels"],
                                       "num_layers": recipe["num_layers"],
                                       **({"ffn_layers": 1} if encoder else {})},
                        train_options={"threads": 1, "device": "cpu",
                                       "batch_size": recipe["batch_size"], "lr": recipe["lr"],
                                       **private, **probe})
    started = time.perf_counter()
    result = train_on_dataset(dataset, config)
    seconds = time.perf_counter() - started
    record = {"dataset": name, "seed": seed, "epsilon": epsilon,
              "test_roc_auc": result.metrics["test"]["roc_auc"],
              "val_roc_auc": result.metrics["val"]["roc_auc"],
              "epochs_run": len(result.fit.history), "best_epoch": result.fit.best_epoch,
              "seconds": round(seconds, 1),
              "seconds_per_epoch": round(seconds / len(result.fit.history), 2),
              "privacy": result.fit.privacy, "recipe": recipe,
              "recipe_name": recipe_name, "encoder": encoder}
    OUT.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(record, indent=1))
    return record


def timing(name: str, rounds: int = 3, encoder: str | None = None,
           changes: dict | None = None) -> dict:
    """Seconds per training epoch, ordinary against DP-SGD (ε 8), on the same model and
    training molecules, the two epochs alternating so that the machine's load falls on both
    alike; the median of ``rounds`` pairs. With ``encoder``: the probe (that encoder frozen,
    a linear head)."""
    from functools import partial

    import torch

    from molgraph.data.dataset import load_dataset
    from molgraph.models.config import ModelConfig
    from molgraph.models.registry import build_model
    from molgraph.training import private as dp
    from molgraph.training.config import TrainConfig
    from molgraph.training.loop import lr_schedule, masked_loss, train_epoch

    torch.set_num_threads(1)
    path, targets, task = DATASETS[name]
    dataset = load_dataset(SHARED / path, target_columns=targets, cache_dir=True, workers=1)
    graphs, y = dataset.graphs, dataset.y.astype(np.float32)
    recipe = {**RECIPE, **(changes or {})}
    config = TrainConfig(epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                         lr=recipe["lr"], dp_epsilon=8.0,
                         dp_max_grad_norm=recipe["max_grad_norm"])
    if encoder:
        from molgraph.models.encoder import load_encoder, read_encoder

        card, state = read_encoder(encoder)
        model = build_model(ModelConfig(**{k: v for k, v in card["architecture"].items()},
                                        ffn_layers=1, out_channels=y.shape[1]))
        load_encoder(model, state, encoder, freeze=True)
    else:
        model = build_model(ModelConfig(hidden_channels=recipe["hidden_channels"],
                                        num_layers=recipe["num_layers"],
                                        out_channels=y.shape[1]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.lr)
    plan = dp.PrivacyPlan.for_run(config, len(graphs))
    scheduler = lr_schedule(optimizer, config, plan.steps_per_epoch)
    rng, noise = np.random.default_rng(0), torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {"ordinary": [], "private": []}
    for _ in range(rounds):
        started = time.perf_counter()
        train_epoch(model, graphs, y, rng.permutation(len(graphs)), config, task, optimizer,
                    scheduler, torch.device("cpu"), lambda done, total: None)
        times["ordinary"].append(time.perf_counter() - started)
        started = time.perf_counter()
        dp.private_epoch(model, graphs, y, plan, dp.Accountant(plan),
                         partial(masked_loss, task=task), optimizer, scheduler, rng, noise,
                         torch.device("cpu"), lambda done, total: None)
        times["private"].append(time.perf_counter() - started)
    record = {"dataset": name, "molecules": len(graphs), "rounds": rounds,
              "recipe": recipe, "encoder": encoder,
              **{k: round(float(np.median(v)), 2) for k, v in times.items()}}
    record["ratio"] = round(record["private"] / record["ordinary"], 2)
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "_probe" if encoder else ""
    (OUT.parent / f"privacy_timing_{name}{tag}.json").write_text(json.dumps(record, indent=1))
    return record


def report() -> str:
    """The table of ε against test ROC-AUC and seconds per epoch, from the recorded runs."""
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]
    lines = ["| data set | recipe | ε | seeds | test ROC-AUC | Δ vs scratch ε = ∞ | "
             "validation ROC-AUC | ε spent | s / epoch | × non-private |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups = sorted({(r["dataset"], r.get("recipe_name", "scratch")) for r in records},
                    key=lambda g: (g[0], g[1] != "scratch"))
    for name, recipe in groups:
        by_eps = {e: [r for r in records if r["dataset"] == name and r["epsilon"] == e
                      and r.get("recipe_name", "scratch") == recipe] for e in EPSILONS}
        scratch = [r for r in records if r["dataset"] == name and r["epsilon"] == math.inf
                   and r.get("recipe_name", "scratch") == "scratch"]
        base = by_eps[math.inf]
        base_auc = np.mean([r["test_roc_auc"] for r in scratch]) if scratch else math.nan
        base_time = np.mean([r["seconds_per_epoch"] for r in base]) if base else math.nan
        for epsilon, runs in by_eps.items():
            if not runs:
                continue
            auc = np.array([r["test_roc_auc"] for r in runs])
            val = np.array([r["val_roc_auc"] for r in runs])
            per_epoch = np.mean([r["seconds_per_epoch"] for r in runs])
            spent = ("" if math.isinf(epsilon) else
                     f"{np.mean([r['privacy']['epsilon_spent'] for r in runs]):.2f}")
            sd = f" ± {auc.std(ddof=1):.3f}" if len(auc) > 1 else ""
            lines.append(f"| {name} | {recipe} | {epsilon:g} | {len(runs)} | "
                         f"{auc.mean():.3f}{sd} | "
                         f"{auc.mean() - base_auc:+.3f} | {val.mean():.3f} | {spent} | "
                         f"{per_epoch:.1f} | {per_epoch / base_time:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="*", default=[], choices=("bbbp", "tox21"))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--epsilons", nargs="*", type=float, default=list(EPSILONS))
    parser.add_argument("--report", action="store_true", help="print the results table")
    parser.add_argument("--timing", nargs="*", default=[], choices=("bbbp", "tox21"),
                        help="time ordinary against private epochs, alternating")
    parser.add_argument("--encoder", help="the probe recipe on this pretrained encoder")
    parser.add_argument("--recipe", default="", help="record the runs under this recipe name")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="change the recipe (batch_size, lr, epochs, max_grad_norm)")
    parser.add_argument("--validation-only", action="store_true",
                        help="print the validation score alone (choosing a recipe)")
    args = parser.parse_args()
    changes = {k: float(v) if "." in v or "e" in v else int(v)
               for k, v in (item.split("=", 1) for item in args.set)}
    for name in args.timing:
        print(timing(name, encoder=args.encoder, changes=changes), flush=True)
    for seed in args.seeds:
        for name in args.datasets:
            for epsilon in args.epsilons:
                record = run(name, seed, epsilon, args.encoder, args.recipe, changes)
                score = ("" if args.validation_only else
                         f"test ROC-AUC {record['test_roc_auc']:.3f}, ")
                print(f"{name} seed {seed} ε {epsilon:g} {record['recipe_name']}: {score}"
                      f"validation {record['val_roc_auc']:.3f} (best epoch "
                      f"{record['best_epoch']} of {record['epochs_run']}), "
                      f"{record['seconds_per_epoch']:.1f} s/epoch", flush=True)
    if args.report:
        print(report())


if __name__ == "__main__":
    main()
