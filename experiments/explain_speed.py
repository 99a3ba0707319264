"""How long explaining 1,000 molecules takes: each method on the first ``--molecules`` MOSES
test molecules with a trained model, tables only, then integrated gradients with the files and
pictures written (``--draw-limit`` heat maps and the grid)::

    python experiments/explain_speed.py --model runs/attribution/and/model --threads 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "libraries" / \
    "moses_test.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--molecules", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--draw-limit", type=int, default=100)
    args = parser.parse_args()
    import torch

    from molgraph.explain import METHODS, explain_molecules
    from molgraph.inference.artifact import TrainedModel

    torch.set_num_threads(args.threads)
    smiles = pd.read_csv(MOSES, nrows=args.molecules)["SMILES"].tolist()
    model = TrainedModel.load(args.model, device="cpu")
    seconds = {}
    for method in METHODS:
        if method == "shapley_sampling":
            continue  # minutes per hundred molecules: timed separately on 100 below
        started = time.perf_counter()
        result = explain_molecules(model, smiles, method=method)
        seconds[method] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    explain_molecules(model, smiles[:100], method="shapley_sampling")
    seconds["shapley_sampling (100 molecules)"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    result = explain_molecules(model, smiles)
    with tempfile.TemporaryDirectory() as out:
        result.write(out, draw_limit=args.draw_limit)
    seconds[f"integrated_gradients + files + {args.draw_limit} heat maps"] = round(
        time.perf_counter() - started, 1)
    print(json.dumps({"molecules": len(smiles), "threads": args.threads, "seconds": seconds},
                     indent=1))


if __name__ == "__main__":
    main()
