"""MoleculeACE: the 30 ChEMBL activity sets with the authors' own train/test split (the ``split``
column of the ``moleculeace:`` sets, read with ``--split-column split``), molgraph's GNN beside
its in-run ECFP baselines and the published MoleculeACE numbers.

Validation is drawn from each set's training rows by the seed (scaffold groups); the test rows
are scored once per option. The GNN option to report as "best" is chosen per set on
validation RMSE only. Each finished (set, option) run is appended to ``--out`` at once, so a
restarted benchmark skips what is done. Markdown on stdout::

    python experiments/benchmark_moleculeace.py --out experiments/out/moleculeace.jsonl
    python experiments/benchmark_moleculeace.py --options default morgan rdkit2d --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

#: Named run settings (dotted names) compared per set; "default" is molgraph train's defaults.
OPTIONS: dict[str, dict] = {
    "default": {},
    "ensemble5": {"ensemble_size": 5},
    "morgan": {"model.molecule_features": ["morgan"]},
    "rdkit2d": {"model.molecule_features": ["rdkit2d"]},
    "morgan+rdkit2d": {"model.molecule_features": ["morgan", "rdkit2d"]},
    # the GNN blended with the Tanimoto SVM, weight chosen on validation (train --blend-svm)
    "blend": {"blend": True},
    "morgan+blend": {"model.molecule_features": ["morgan"], "blend": True},
    "ensemble5+morgan": {"ensemble_size": 5, "model.molecule_features": ["morgan"]},
    "ensemble5+morgan+blend": {"ensemble_size": 5, "model.molecule_features": ["morgan"],
                               "blend": True},
}
#: Published test RMSE (MoleculeACE_results.csv in github.com/molML/MoleculeACE, van Tilborg et
#: al., J. Chem. Inf. Model. 2022): SVM and RF on ECFP, and their MPNN, per set.
PUBLISHED = {  # set: (SVM-ECFP, RF-ECFP, MPNN)
    "CHEMBL1862_Ki": (0.668, 0.683, 0.879), "CHEMBL1871_Ki": (0.668, 0.681, 0.812),
    "CHEMBL2034_Ki": (0.696, 0.727, 0.862), "CHEMBL204_Ki": (0.705, 0.788, 1.062),
    "CHEMBL2047_EC50": (0.614, 0.639, 0.849), "CHEMBL214_Ki": (0.683, 0.731, 1.028),
    "CHEMBL2147_Ki": (0.612, 0.691, 0.944), "CHEMBL218_EC50": (0.698, 0.683, 0.956),
    "CHEMBL219_Ki": (0.743, 0.771, 0.970), "CHEMBL228_Ki": (0.704, 0.736, 1.008),
    "CHEMBL231_Ki": (0.709, 0.761, 0.916), "CHEMBL233_Ki": (0.740, 0.758, 1.103),
    "CHEMBL234_Ki": (0.637, 0.651, 0.850), "CHEMBL235_EC50": (0.671, 0.637, 0.899),
    "CHEMBL236_Ki": (0.692, 0.730, 1.034), "CHEMBL237_EC50": (0.760, 0.847, 1.209),
    "CHEMBL237_Ki": (0.707, 0.735, 1.145), "CHEMBL238_Ki": (0.632, 0.619, 0.847),
    "CHEMBL239_EC50": (0.681, 0.696, 0.972), "CHEMBL244_Ki": (0.738, 0.791, 1.535),
    "CHEMBL262_Ki": (0.719, 0.703, 0.914), "CHEMBL264_Ki": (0.583, 0.628, 0.849),
    "CHEMBL2835_Ki": (0.420, 0.410, 0.734), "CHEMBL287_Ki": (0.778, 0.813, 0.961),
    "CHEMBL2971_Ki": (0.611, 0.646, 0.872), "CHEMBL3979_EC50": (0.687, 0.713, 0.959),
    "CHEMBL4005_Ki": (0.550, 0.599, 0.772), "CHEMBL4203_Ki": (0.880, 0.883, 1.062),
    "CHEMBL4616_EC50": (0.589, 0.642, 0.840), "CHEMBL4792_Ki": (0.675, 0.748, 0.929),
}


def run_one(name: str, option: str, epochs: int | None, threads: int, seed: int) -> dict:
    """Train one option on one set with the authors' split; GNN and baseline scores."""
    from molgraph.training.api import train

    started = time.perf_counter()
    run = train(f"moleculeace:{name}", ["y"], seed=seed, epochs=epochs,
                          train_options={"threads": threads}, cache_dir=True,
                          baseline=option in ("default", "blend"),
                          **{"data.split_column": "split"},
                          **OPTIONS[option])
    record = {"set": name, "option": option, "seed": seed,
              "val_rmse": run.metrics["val"]["rmse"], "test_rmse": run.metrics["test"]["rmse"],
              "n_train": len(run.split[0]), "n_val": len(run.split[1]),
              "n_test": len(run.split[2]), "seconds": round(time.perf_counter() - started, 1)}
    if run.baseline is not None:
        record["baseline"] = {family: {"val_rmse": scores["val"]["rmse"],
                                       "test_rmse": scores["test"]["rmse"]}
                              for family, scores in run.baseline["models"].items()
                              if "test" in scores}
        record["baseline_best"] = run.baseline["best"]
    if run.blend is not None:  # the two parts alone, on the same split
        record["blend"] = {"weight": run.blend["weights"]["y"],
                           **{f"{part}_{split}_rmse": run.blend[part][split]["rmse"]
                              for part in ("gnn", "svm") for split in ("val", "test")}}
    return record


def candidates(runs: list[dict]) -> dict[str, tuple[float, float]]:
    """One set's ``option → (validation RMSE, test RMSE)``; a blended run gives its GNN alone
    as the option without the blend too."""
    out = {}
    for r in runs:
        out[r["option"]] = (r["val_rmse"], r["test_rmse"])
        if "blend" in r:
            alone = r["option"].removesuffix("+blend").removesuffix("blend") or "default"
            out.setdefault(alone, (r["blend"]["gnn_val_rmse"], r["blend"]["gnn_test_rmse"]))
    return out


def table(records: list[dict]) -> str:
    """Per set: GNN options, in-run baselines, the validation-chosen best, published refs."""
    by_set: dict[str, list[dict]] = {}
    for r in records:
        by_set.setdefault(r["set"], []).append(r)
    found = {o for runs in by_set.values() for o in candidates(runs)}
    options = [o for o in OPTIONS if o in found]
    head = ["set", *options, "best GNN (val)", "best (val)", "in-run SVM", "in-run RF",
            "in-run best (val)", "published SVM", "published RF", "published MPNN"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    columns: dict[str, list[float]] = {h: [] for h in head[1:]}
    for name in sorted(by_set):
        runs = by_set[name]
        cand = candidates(runs)
        based = [r for r in runs if "baseline" in r]
        if not based or set(cand) != set(options):
            continue
        base, best_family = based[0]["baseline"], based[0]["baseline_best"]
        gnn = {o: v for o, v in cand.items() if "blend" not in o}
        values = {**{o: cand[o][1] for o in options},
                  "best GNN (val)": min(gnn.values())[1], "best (val)": min(cand.values())[1],
                  "in-run SVM": base.get("svm", {}).get("test_rmse", np.nan),
                  "in-run RF": base.get("rf", {}).get("test_rmse", np.nan),
                  "in-run best (val)": base.get(best_family, {}).get("test_rmse", np.nan),
                  **dict(zip(("published SVM", "published RF", "published MPNN"),
                             PUBLISHED[name]))}
        for key, value in values.items():
            columns[key].append(value)
        lines.append(f"| {name} | " + " | ".join(f"{values[h]:.3f}" for h in head[1:]) + " |")
    lines.append(f"| **mean of {len(columns['best (val)'])}** | " + " | ".join(
        f"**{np.nanmean(v):.3f}**" if v else "" for v in columns.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=sorted(PUBLISHED))
    parser.add_argument("--options", nargs="+", default=["default"], choices=sorted(OPTIONS))
    parser.add_argument("--epochs", type=int, default=None, help="default: train's default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("experiments/out/moleculeace.jsonl"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in args.out.read_text().splitlines()] \
        if args.out.exists() else []
    seen = {(r["set"], r["option"], r["seed"]) for r in done}
    for name in args.sets:
        for option in args.options:
            if (name, option, args.seed) in seen:
                continue
            record = run_one(name, option, args.epochs, args.threads, args.seed)
            done.append(record)
            with args.out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"{name} {option}: test rmse {record['test_rmse']:.3f} "
                  f"({record['seconds']} s)", flush=True)
    print(table(done))


if __name__ == "__main__":
    main()
