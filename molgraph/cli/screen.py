"""``molgraph screen``: score compound libraries with trained models and keep the best."""

from __future__ import annotations

import argparse

from molgraph.chem.druglike import FILTERS
from molgraph.inference.precision import PRECISIONS
from molgraph.screening.library import SHARD_ROWS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "screen", help="virtual screening of compound libraries",
        description="Score every molecule of one or more libraries (streamed in shards, "
        "featurized in worker processes, scored in batches) and write every row, or the best "
        "with --top-k/--threshold. Each row keeps its row number and a status (ok, invalid, "
        "filtered) with the reason; OUT's stem.summary.json has the counts and "
        "stem.invalid.csv every row that is not ok. Several --model directories make an "
        "ensemble: <target>_mean and <target>_std columns.")
    p.add_argument("--model", nargs="+", action="extend", required=True, dest="models",
                   metavar="DIR", help="model directory from `molgraph train` (repeat or list "
                   "several for an ensemble)")
    p.add_argument("--library", nargs="+", action="extend", required=True, dest="libraries",
                   metavar="FILE", help=".smi, CSV/TSV or SDF (optionally .gz), or a store "
                   "from `molgraph featurize`")
    p.add_argument("--out", required=True, help="output .csv, .csv.gz, .tsv or .parquet")
    p.add_argument("--top-k", type=int, metavar="K", help="keep the K best molecules, ranked")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="keep molecules scoring at least T (at most T with --ascending), ranked")
    p.add_argument("--rank-by", metavar="TARGET", help="target to rank by (default: the first)")
    p.add_argument("--ascending", action="store_true", help="lower scores are better")
    p.add_argument("--smiles-column", help="SMILES column (default: smiles, SMILES or mol)")
    p.add_argument("--id-column", help="id column (default: id, name, zinc_id, ...)")
    p.add_argument("--druglike", action="store_true",
                   help="add Lipinski/Veber descriptor columns and PAINS alerts (PAINS is slow)")
    p.add_argument("--filter", nargs="+", choices=FILTERS, default=[], dest="filters",
                   help="mark molecules failing these filters as `filtered` (not selected)")
    p.add_argument("--workers", type=int, help="worker processes, each featurizing and (on "
                   "the CPU) scoring its shards (default: one per CPU; 0: all in the main process)")
    p.add_argument("--batch-size", type=int, help="molecules per forward pass "
                   "(default: 2048 on GPU; on CPU ~8192 / hidden channels, e.g. 32 for hidden 300)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16: a wide model's forward pass ~2x faster on CPUs with AVX-512 BF16 "
                   "or AMX and on GPUs; scores move by ~1e-2 of their spread (rank agreement: "
                   "experiments/RESULTS_screen.md)")
    p.add_argument("--threads", type=int, help="score in the main process with this many "
                   "torch CPU threads, while workers only featurize (default: workers score with "
                   "one thread each)")
    p.add_argument("--chunk-size", type=int, default=SHARD_ROWS,
                   help="rows per shard: the unit of work, checkpoint and Dask task")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (same models, libraries and settings)")
    p.add_argument("--keep-parts", action="store_true",
                   help="keep the per-shard results (OUT's stem.parts/) after success")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler (tcp://host:8786) to spread shards over its workers")
    add_progress_arguments(p)
    p.set_defaults(func=run)


def add_progress_arguments(p: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress``; neither: a bar only when stderr is a terminal."""
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", default=None,
                     help="always show a progress bar (default: only on a terminal)")
    bar.add_argument("--no-progress", action="store_false", dest="progress",
                     help="never show a progress bar (log lines instead)")


def run(args: argparse.Namespace) -> int:
    from molgraph.screening.screen import ScreenConfig, screen

    config = ScreenConfig(
        models=args.models, libraries=args.libraries, out=args.out, top_k=args.top_k,
        threshold=args.threshold, rank_by=args.rank_by, ascending=args.ascending,
        workers=args.workers, batch_size=args.batch_size, device=args.device,
        precision=args.precision,
        threads=args.threads, chunk_size=args.chunk_size, smiles_column=args.smiles_column,
        id_column=args.id_column, druglike=args.druglike, filters=args.filters,
        resume=args.resume, keep_parts=args.keep_parts, scheduler=args.scheduler,
        progress=args.progress)
    summary = screen(config)
    print(f"{summary['rows']:,} rows screened: {summary['ok']:,} ok, {summary['invalid']:,} "
          f"invalid, {summary['filtered']:,} filtered; {summary['written']:,} written to "
          f"{summary['output']} ({summary['molecules_per_s']:,.0f} molecules/s)")
    if args.top_k is not None or args.threshold is not None:
        _print_top(summary["output"], summary["rank_by"])
    return 0


def _print_top(path: str, rank: str, n: int = 10) -> None:
    import pandas as pd

    frame = (pd.read_parquet(path) if path.endswith((".parquet", ".pq"))
             else pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",", nrows=n,
                              keep_default_na=False))
    columns = [c for c in ("rank", "library", "row", "id", "smiles", rank) if c in frame.columns
               and (c != "id" or frame[c].astype(str).str.len().gt(0).any())]
    if len(frame):
        print(frame.head(n)[columns].to_string(index=False))
