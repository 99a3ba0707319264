"""Featurization speed: molgraph vs RDKit parsing alone vs PyG's ``from_smiles``.

All methods run on the same SMILES in the same process, interleaved and repeated, and the
median rate of each is reported with its ratio to parse-only (the floor for any SMILES
featurizer). The parallel run uses every CPU; the others use one core.

    python experiments/benchmark_featurize.py --n 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT.parent / "shared" / "datasets" / "libraries" / "moses_test.csv.gz"


def rdkit_parse(smiles: list[str]) -> None:
    from rdkit import Chem

    from molgraph.chem.featurize import quiet_rdkit

    with quiet_rdkit():
        for smi in smiles:
            Chem.MolFromSmiles(smi)


def molgraph_serial(smiles: list[str]) -> None:
    from molgraph.chem.featurize import featurize_chunk

    featurize_chunk(smiles)


def molgraph_parallel(smiles: list[str]) -> None:
    from molgraph.chem.featurize import featurize_smiles

    featurize_smiles(smiles, parallel_above=0)


def pyg_from_smiles(smiles: list[str]) -> None:
    from rdkit import RDLogger
    from torch_geometric.utils import from_smiles

    for smi in smiles:
        from_smiles(smi)
    RDLogger.EnableLog("rdApp.*")  # from_smiles turns RDKit's log off for the whole process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=LIBRARY)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.library.exists():
        raise SystemExit(f"{args.library} not found: this benchmark needs ../shared/datasets")
    smiles = pd.read_csv(args.library, nrows=args.n)["SMILES"].tolist()
    methods = {"rdkit_parse_only": rdkit_parse, "molgraph_1_core": molgraph_serial,
               f"molgraph_{os.cpu_count()}_processes": molgraph_parallel,
               "pyg_from_smiles": pyg_from_smiles}
    rates: dict[str, list[float]] = {name: [] for name in methods}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        for name, fn in methods.items():
            started = time.perf_counter()
            fn(smiles)
            rates[name].append(len(smiles) / (time.perf_counter() - started))
    median = {name: statistics.median(r) for name, r in rates.items()}
    parse = median["rdkit_parse_only"]
    pyg = median["pyg_from_smiles"]
    print(json.dumps({"n": len(smiles), "cpus": os.cpu_count(), "load_before": load_before,
                      "load_after": os.getloadavg(), "rates": rates}))
    print("| method | molecules/s (median) | ratio to parse-only | ratio to from_smiles |")
    print("|---|---|---|---|")
    for name, rate in median.items():
        print(f"| {name} | {rate:,.0f} | {rate / parse:.2f} | {rate / pyg:.2f} |")


if __name__ == "__main__":
    main()
