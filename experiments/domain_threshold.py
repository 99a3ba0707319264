"""Where does a model's error grow? Test error against the Tanimoto similarity (ECFP4) of each
test molecule to its nearest training or validation molecule, to choose the default threshold
of the applicability domain (``molgraph.inference.domain``).

For each seed, the data set is split by scaffold (80/10/10, as ``molgraph train --split
scaffold``), the ECFP4 SVM baseline is fitted on the training molecules (``C`` chosen on
validation, as every run's baseline) and its test molecules are pooled. ``--run DIR`` adds the
test predictions of a model trained on the first data set (its ``split.json`` and
``test_predictions.csv``). Several data sets pool their test molecules. Prints
two tables: the error by similarity bin, and for each candidate threshold the share of
test molecules below it and the error below and above.

    python experiments/domain_threshold.py --data moleculeace:CHEMBL214_Ki --seeds 0 1 2 3 4 \\
        --run /tmp/ad/chembl214
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.chem.fingerprints import max_tanimoto, morgan_bits, sparse_bits
from molgraph.chem.sources import resolve_data_path
from molgraph.data.split import split_indices
from molgraph.training.baseline import fit_svm

BINS = [0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 1.01]
THRESHOLDS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65]


def nearest(bits: np.ndarray, learned: np.ndarray, test: np.ndarray) -> np.ndarray:
    """``[len(test)]`` similarity of each test molecule to its nearest learned one."""
    return max_tanimoto(bits[test], sparse_bits(bits[learned]))


def svm_errors(bits: np.ndarray, y: np.ndarray, smiles: list[str], seed: int) -> pd.DataFrame:
    train, val, test = split_indices(smiles, "scaffold", (0.8, 0.1, 0.1), seed)
    fitted = fit_svm(bits, y[:, None], (train, val, test), "regression", seed)
    return pd.DataFrame({"similarity": nearest(bits, np.concatenate([train, val]), test),
                         "error": fitted.test[:, 0] - y[test], "model": "SVM (ECFP4)"})


def run_errors(run: Path, bits: np.ndarray) -> pd.DataFrame:
    split = json.loads((run / "split.json").read_text())
    learned = np.array(split["train"] + split["val"])
    test = pd.read_csv(run / "test_predictions.csv")
    target = [c for c in test.columns if c.endswith("_pred")][0][:-len("_pred")]
    return pd.DataFrame({"similarity": nearest(bits, learned, np.array(split["test"])),
                         "error": test[f"{target}_pred"] - test[target],
                         "model": f"{run.name} (GNN)"})


def rmse(errors: pd.Series) -> float:
    return float(np.sqrt(np.mean(errors ** 2))) if len(errors) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["moleculeace:CHEMBL214_Ki"],
                        help="data sets (a 'y' column), their test molecules pooled")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--run", type=Path, action="append", default=[])
    args = parser.parse_args()
    frames = []
    for data in args.data:
        table = pd.read_csv(resolve_data_path(data))
        smiles, y = table["smiles"].tolist(), table["y"].to_numpy(dtype=float)
        bits = morgan_bits(smiles)
        frames += [svm_errors(bits, y, smiles, seed) for seed in args.seeds]
        frames += [run_errors(run, bits) for run in args.run if data == args.data[0]]
    errors = pd.concat(frames, ignore_index=True)
    errors["bin"] = pd.cut(errors["similarity"], BINS, right=False)
    print(f"{', '.join(args.data)}: scaffold splits, seeds {args.seeds}; test RMSE by "
          "nearest-training similarity (n molecules)\n")
    by_bin = errors.groupby(["bin", "model"], observed=True)["error"].agg([rmse, "size"])
    print(by_bin.unstack("model").round(3).to_string(), "\n")
    rows = []
    for model, part in errors.groupby("model"):
        for t in THRESHOLDS:
            below = part["similarity"] < t
            rows.append({"model": model, "threshold": t, "share below": below.mean(),
                         "RMSE below": rmse(part.loc[below, "error"]),
                         "RMSE at or above": rmse(part.loc[~below, "error"])})
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
