"""Federated training across data owners: does the federation beat each owner alone, and how
close does it come to pooling the data?

Tox21 (``../shared/datasets/molecules/tox21``, 12 assays, missing labels). One Bemis–Murcko
scaffold split 90/10 fixes a common test set; the remaining molecules are dealt to the owners
as whole scaffold clusters (largest first, each to the owner with fewest molecules so far,
ties broken by the seed), so owners hold different chemistry. Splits:

- ``scaffold3`` / ``scaffold5``: 3 or 5 owners, every assay;
- ``assays3``: 3 owners on scaffold clusters, each holding 4 of the 12 assays (MELLODDY's
  setting: the federated model's tasks are the union).

Each owner draws its own validation part (scaffold, 10 %) from its molecules. Compared on the
common test set (mean ROC-AUC over tasks; for ``assays3`` an owner alone is scored on its own
assays, and so is the federated model for the comparison): each owner alone (molgraph's
``fit``, best validation epoch of ``--epochs``), the federated model (``--epochs`` rounds of
FedAvg, one local epoch each, real Flower processes on 127.0.0.1: ``run_federation``) and a
model on the pooled owners' data (the same recipe as an owner alone). ``--rounds`` and
``--local-epochs`` set the federation apart (default: ``--epochs`` rounds of one epoch); the
federation keeps its round that scores best on the owners' validation parts. Same D-MPNN for
all::

    python experiments/federated_benchmark.py --splits scaffold3 scaffold5 assays3
    python experiments/federated_benchmark.py --splits scaffold5 --epochs 30 --rounds 10 \
        --local-epochs 3
    python experiments/federated_benchmark.py --splits scaffold3 --secure   # under SecAgg+
    python experiments/federated_benchmark.py --molecules 1500 --epochs 3 --hidden 64  # small
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "molecules"
TOX21 = SHARED / "tox21" / "tox21.csv.gz"
ASSAYS = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD",
          "NR-PPAR-gamma", "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]
SPLITS = {"scaffold3": (3, False), "scaffold5": (5, False), "assays3": (3, True)}
OUT = Path(__file__).parent / "out" / "federated"


def deal_scaffolds(smiles: list[str], index: np.ndarray, owners: int, seed: int
                   ) -> list[np.ndarray]:
    """``index`` dealt to ``owners`` as whole Bemis–Murcko clusters, largest first, each to
    the owner with the fewest molecules so far (ties: a seeded shuffle)."""
    from molgraph.data.split import bemis_murcko_scaffold

    groups: dict[str, list[int]] = defaultdict(list)
    for i in index:
        groups[bemis_murcko_scaffold(smiles[i])].append(int(i))
    rng = np.random.default_rng(seed)
    clusters = list(groups.values())
    rng.shuffle(clusters)
    clusters.sort(key=len, reverse=True)
    parts: list[list[int]] = [[] for _ in range(owners)]
    for cluster in clusters:
        min(parts, key=len).extend(cluster)
    return [np.sort(np.asarray(p)) for p in parts]


def local_split(smiles: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An owner's training and validation parts, as its federated client draws them
    (``molgraph.federated.owner.local_parts``: scaffold, 10 %, the run's seed)."""
    from molgraph.federated import FederationConfig
    from molgraph.federated.owner import local_parts

    return local_parts(smiles, np.zeros((len(smiles), 1)), FederationConfig(seed=seed))


def roc_auc(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean test ROC-AUC over the tasks with both classes among the test labels."""
    from molgraph.training.metrics import compute_metrics

    return compute_metrics("classification", y, pred)["roc_auc"]


def fit_model(graphs, y: np.ndarray, train: np.ndarray, val: np.ndarray,
              args: argparse.Namespace):
    """The recipe of an owner alone and of the pooled model: molgraph's ``fit`` for
    ``--epochs`` epochs, the best validation epoch kept (no early stop); the network and its
    scaler. ``y``: ``[n, n_tasks]``, NaN = missing."""
    from molgraph.models.config import ModelConfig
    from molgraph.models.registry import build_model
    from molgraph.runtime.system import seed_everything
    from molgraph.training.config import TrainConfig
    from molgraph.training.loop import fit

    seed_everything(args.seed)
    network = build_model(ModelConfig(hidden_channels=args.hidden, num_layers=args.layers,
                                      out_channels=y.shape[1]))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         threads=1, device="cpu", patience=0)
    result = fit(network, (graphs.take(train), y[train]), (graphs.take(val), y[val]), config,
                 "classification", args.seed)
    return network, result.scaler


def run_split(name: str, dataset, pool: np.ndarray, test: np.ndarray,
              args: argparse.Namespace) -> dict:
    """Owners alone, federated and pooled on one owner split; the record of it."""
    from molgraph.federated import FederationConfig, OwnerConfig, run_federation
    from molgraph.inference.artifact import TrainedModel
    from molgraph.models.config import ModelConfig
    from molgraph.models.predict import predict_graphs
    from molgraph.training.config import TrainConfig

    n_owners, by_assay = SPLITS[name]
    smiles, graphs, y = dataset.smiles, dataset.graphs, dataset.y
    parts = deal_scaffolds(smiles, pool, n_owners, args.seed)
    held = [list(range(k, len(ASSAYS), n_owners)) if by_assay else list(range(len(ASSAYS)))
            for k in range(n_owners)]
    out = args.out / f"seed{args.seed}" / name  # runs of several seeds may share --out
    y_test, test_graphs = y[test], graphs.take(test)
    record = {"split": name, "owners": [], "n_test": len(test)}
    masked = np.full_like(y, np.nan)  # every owner's labels of the assays it holds
    trains, vals, owners = [], [], []
    for k, (part, tasks) in enumerate(zip(parts, held)):
        masked[np.ix_(part, tasks)] = y[np.ix_(part, tasks)]
        train, val = local_split([smiles[i] for i in part], args.seed)
        trains.append(part[train])
        vals.append(part[val])
        started = time.perf_counter()
        network, scaler = fit_model(graphs, y[:, tasks], part[train], part[val], args)
        alone = roc_auc(y_test[:, tasks], predict_graphs(network, test_graphs,
                                                         "classification", scaler))
        record["owners"].append({"owner": f"owner{k}", "molecules": len(part),
                                 "assays": [ASSAYS[t] for t in tasks], "alone_test_roc_auc":
                                 alone, "alone_seconds": round(time.perf_counter() - started,
                                                               1)})
        path = out / f"owner{k}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = {"smiles": [smiles[i] for i in part],
                 **{ASSAYS[t]: y[part, t] for t in tasks}}
        import pandas as pd

        pd.DataFrame(frame).to_csv(path, index=False)
        owners.append(OwnerConfig(str(path), [ASSAYS[t] for t in tasks], name=f"owner{k}",
                                  threads=1, device="cpu"))
    started = time.perf_counter()
    network, scaler = fit_model(graphs, masked, np.concatenate(trains), np.concatenate(vals),
                                args)
    pooled = predict_graphs(network, test_graphs, "classification", scaler)
    record["pooled_seconds"] = round(time.perf_counter() - started, 1)
    config = FederationConfig(
        task="classification", target_columns=ASSAYS, rounds=args.rounds or args.epochs,
        seed=args.seed,
        round_timeout=args.round_timeout, clients=n_owners, min_clients=n_owners,
        secure_aggregation=args.secure,
        model=ModelConfig(hidden_channels=args.hidden, num_layers=args.layers),
        train=TrainConfig(epochs=args.local_epochs, batch_size=args.batch_size, lr=args.lr,
                          threads=1, device="cpu"))
    started = time.perf_counter()
    metrics = run_federation(config, owners, out / "federated")
    record["federated_seconds"] = round(time.perf_counter() - started, 1)
    model = TrainedModel.load(out / "federated" / "model", device="cpu")
    federated = model.predict_graphs(test_graphs)[:, [model.target_names.index(a)
                                                      for a in ASSAYS]]
    for owner, tasks in zip(record["owners"], held):
        owner["federated_test_roc_auc"] = roc_auc(y_test[:, tasks], federated[:, tasks])
        owner["pooled_test_roc_auc"] = roc_auc(y_test[:, tasks], pooled[:, tasks])
    record.update(
        federated_test_roc_auc=roc_auc(y_test, federated),
        pooled_test_roc_auc=roc_auc(y_test, pooled), rounds=metrics["rounds_run"],
        bytes_per_round=metrics["bytes_per_round"],
        round_seconds=[r["seconds"] for r in metrics["rounds"]],
        kept_round=metrics.get("kept_round"),
        failures=sum(len(r["failures"]) for r in metrics["rounds"]))
    return record


def report(records: list[dict]) -> str:
    """The records as a Markdown table, one row per owner split."""
    lines = ["| split | owners: molecules | each owner alone | federated (same assays) | "
             "federated | pooled | MB/round | wall s (fed) |", "|---|---|---|---|---|---|---|---|"]
    for r in records:
        alone = " ".join(f"{o['alone_test_roc_auc']:.3f}" for o in r["owners"])
        same = " ".join(f"{o['federated_test_roc_auc']:.3f}" for o in r["owners"])
        sizes = " ".join(str(o["molecules"]) for o in r["owners"])
        lines.append(f"| {r['split']} | {sizes} | {alone} | {same} | "
                     f"{r['federated_test_roc_auc']:.3f} | {r['pooled_test_roc_auc']:.3f} | "
                     f"{np.mean(r['bytes_per_round']) / 1e6:.2f} | {r['federated_seconds']} |")
    return "\n".join(lines)


def summary(files: list[Path]) -> str:
    """Over seeds (one results file each): each split's owners alone, federated and pooled
    test ROC-AUC (mean ± SD), the gap to pooled per seed, and whether the federated model beat
    every owner alone on the owner's assays in each seed."""
    runs = [json.loads(f.read_text()) for f in files]
    lines = ["| split | seeds | owners alone (mean) | best owner alone | federated | pooled | "
             "federated − pooled per seed | beats every owner | round kept |",
             "|---|---|---|---|---|---|---|---|---|"]
    splits = sorted({r["split"] for run in runs for r in run["records"]})
    for split in splits:
        rows = [(run["settings"]["seed"], r) for run in runs for r in run["records"]
                if r["split"] == split]
        rows.sort(key=lambda x: x[0])
        alone = np.array([np.mean([o["alone_test_roc_auc"] for o in r["owners"]])
                          for _, r in rows])
        best = np.array([max(o["alone_test_roc_auc"] for o in r["owners"]) for _, r in rows])
        fed = np.array([r["federated_test_roc_auc"] for _, r in rows])
        pooled = np.array([r["pooled_test_roc_auc"] for _, r in rows])

        def ms(x: np.ndarray) -> str:
            return f"{x.mean():.3f} ± {x.std(ddof=1):.3f}" if len(x) > 1 else f"{x[0]:.3f}"

        beats = ", ".join("yes" if all(o["federated_test_roc_auc"] > o["alone_test_roc_auc"]
                                       for o in r["owners"]) else "no" for _, r in rows)
        lines.append(f"| {split} | {','.join(str(s) for s, _ in rows)} | {ms(alone)} | "
                     f"{ms(best)} | {ms(fed)} | {ms(pooled)} | "
                     f"{', '.join(f'{d:+.3f}' for d in fed - pooled)} | {beats} | "
                     f"{', '.join(str(r.get('kept_round')) for _, r in rows)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--molecules", type=int, help="a random subset of Tox21 (default: all)")
    parser.add_argument("--epochs", type=int, default=20,
                        help="epochs alone and pooled (and federated rounds, unless --rounds)")
    parser.add_argument("--rounds", type=int, help="federated rounds (default: --epochs)")
    parser.add_argument("--local-epochs", type=int, default=1,
                        help="each owner's epochs per round")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--round-timeout", type=float, default=1800.0)
    parser.add_argument("--secure", action="store_true",
                        help="the federation under secure aggregation (SecAgg+)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summary", nargs="+", type=Path, metavar="RESULTS_JSON",
                        help="print the table over seeds of these results files and stop")
    args = parser.parse_args()
    if args.summary:
        print(summary(args.summary))
        return
    import torch

    from molgraph.data.dataset import load_dataset
    from molgraph.data.split import split_indices

    torch.set_num_threads(1)
    dataset = load_dataset(TOX21, "smiles", ASSAYS, cache_dir=True, workers=1)
    keep = np.arange(len(dataset.graphs))
    if args.molecules and args.molecules < len(keep):
        keep = np.sort(np.random.default_rng(args.seed).choice(keep, args.molecules, False))
    pool, _, test = split_indices([dataset.smiles[i] for i in keep], "scaffold",
                                  (0.9, 0.0, 0.1), args.seed)
    records = []
    for name in args.splits:
        records.append(run_split(name, dataset, keep[pool], keep[test], args))
        print(json.dumps(records[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    federation = (f"_r{args.rounds}x{args.local_epochs}"
                  if args.rounds or args.local_epochs != 1 else "") + ("_secure" * args.secure)
    tag = f"m{args.molecules or 'all'}_e{args.epochs}{federation}_h{args.hidden}_s{args.seed}"
    (args.out / f"results_{tag}.json").write_text(json.dumps(
        {"settings": settings, "records": records}, indent=1))
    print(report(records))


if __name__ == "__main__":
    main()
