"""Virtual screening: score compound libraries of millions of molecules and keep the best.

The library streams through in shards (``molgraph.screening.library``). With a GPU, worker processes
featurize them (RDKit and numpy only, no torch) and this process scores them in batches on the
GPU; on the CPU, each worker process featurizes and scores its shards. Each scored shard is
written as a checkpoint part (``molgraph.screening.output``) before the final ranked table is
assembled. Memory stays flat whatever the library size: a bounded
number of shards is in flight and a top-k keeps only ``k`` candidates.

Every input row is accounted for, with its row number and a status: ``ok``, ``invalid`` (with
the reason: empty or unparsable SMILES, unreadable SDF record) or ``filtered`` (failed a
drug-likeness filter, with the reason). A run killed at any point continues with ``resume``.

Threads: on the CPU every core runs one worker process with one torch thread, which featurizes
and scores its shard; nothing waits on a busy core. With torch's default (one thread per core)
next to featurizing processes, a forward pass waits on cores they hold and runs many times
slower.

Example::

    from molgraph.screening.screen import ScreenConfig, run_screen
    summary = run_screen(ScreenConfig(models=["runs/a/model", "runs/b/model"],
                                  libraries=["zinc.smi.gz"], out="hits.csv", top_k=1000))
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field

from molgraph import __version__
from molgraph.chem.druglike import FILTERS, check_filters
from molgraph.chem.vocabulary import FEATURIZER_VERSION
from molgraph.inference.domain import DEFAULT_THRESHOLD, check_threshold
from molgraph.inference.ensemble import Ensemble, rank_column
from molgraph.inference.model_dir import member_dirs, model_digest
from molgraph.inference.precision import PRECISIONS, check_precision
from molgraph.runtime.files import write_json
from molgraph.runtime.progress import Progress
from molgraph.runtime.system import cpu_count, default_threads
from molgraph.screening.cluster import screen_on_dask
from molgraph.screening.library import SHARD_ROWS, count_rows, open_libraries
from molgraph.screening.output import (
    PartStore,
    assemble,
    check_output,
    output_lock,
    output_stem,
)
from molgraph.screening.pictures import write_screen_pictures
from molgraph.screening.prepare import descriptor_mode, prepared_shards, shard_refs
from molgraph.screening.scoring import default_batch_size, score_shard, shard_frame
from molgraph.screening.workers import screen_in_processes, start_scoring_server

log = logging.getLogger(__name__)


@dataclass
class ScreenConfig:
    """What to screen, with what, and what to keep.

    Attributes:
        models: model directories from ``molgraph train``; several make an ensemble (mean and
            standard deviation columns per target).
        libraries: molecule files (``.smi``, CSV/TSV, SDF; plain or gzipped) or stores made by
            ``molgraph featurize``.
        out: output table, ``.csv``, ``.csv.gz``, ``.tsv`` or ``.parquet``. Beside it go
            ``<stem>.summary.json``, ``<stem>.invalid.csv`` (every row not ``ok``) and, while
            running, ``<stem>.parts/``.
        top_k: keep the ``k`` best molecules (ranked), instead of every row in input order.
        threshold: keep molecules scoring at least this (at most with ``ascending``).
        rank_by: target that ranks molecules (default: the models' first target).
        ascending: lower scores are better (e.g. a predicted IC50 in nM).
        workers: worker processes (default: one per CPU; 0 = all in this process).
        batch_size: molecules per forward pass (default: 2048 on a GPU; on a CPU about
            8192 / hidden channels, e.g. 32 for hidden 300).
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda[:N]``.
        precision: ``fp32``, or ``bf16`` for a ~2x faster forward pass of wide models on
            CPUs with AVX-512 BF16/AMX and on GPUs (scores move by ~1e-2 of their spread; rank
            agreement in experiments/RESULTS_screen.md).
        threads: torch CPU threads for scoring. By default, on the CPU, ``workers`` processes
            featurize and score with one thread each; given ``threads``, workers featurize
            and this process scores with that many threads.
        chunk_size: rows per shard (the unit of work, checkpoint and Dask task).
        smiles_column: CSV/TSV SMILES column (found automatically for common names).
        id_column: CSV/TSV id column (found automatically for common names).
        delimiter: CSV/TSV field delimiter: ',', ';' (ChEMBL exports), '|' or tab (default:
            found from each file's first lines).
        druglike: add Lipinski/Veber descriptor columns and the first PAINS alert.
        filters: mark molecules failing ``lipinski``, ``veber`` or ``pains`` as ``filtered``
            (their scores are kept, but they are not selected).
        resume: continue an interrupted run with the same inputs (one run at a time may write
            ``out``: another is refused while it runs).
        keep_parts: keep ``<stem>.parts/`` after success (to re-select without re-scoring).
        scheduler: address of a Dask scheduler (``tcp://host:8786``) to spread shards over.
        progress: a progress bar (``True``) or log lines (``False``) (default: a bar only when
            stderr is a terminal).
        pictures: draw ``<stem>_plots/score_histogram.png`` (every scored molecule, the
            threshold and top-k cutoff marked) and ``<stem>_plots/top_hits.png`` (the best 24
            written, with their scores) beside ``out``; a failure is only a warning.
        domain_threshold: the least Tanimoto similarity (ECFP4) to the nearest training
            molecule that is ``in_domain`` (``molgraph.inference.domain``); the summary counts
            the rows written below it (``out_of_domain``).
    """

    models: list[str]
    libraries: list[str]
    out: str
    top_k: int | None = None
    threshold: float | None = None
    rank_by: str | None = None
    ascending: bool = False
    workers: int | None = None
    batch_size: int | None = None
    device: str = "auto"
    precision: str = field(default="fp32", metadata={"choices": PRECISIONS})
    threads: int | None = None
    chunk_size: int = SHARD_ROWS
    smiles_column: str | None = None
    id_column: str | None = None
    delimiter: str | None = None
    druglike: bool = False
    filters: list[str] = field(default_factory=list, metadata={"choices": FILTERS})
    resume: bool = False
    keep_parts: bool = False
    scheduler: str | None = None
    progress: bool | None = None
    pictures: bool = True
    domain_threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        # an ensemble directory (train --ensemble-size) screens as its members
        self.models = [str(d) for m in self.models for d in member_dirs(m)]
        self.libraries = [str(lib) for lib in self.libraries]
        self.out = str(self.out)
        self.filters = check_filters(self.filters)
        check_precision(self.precision)
        self.domain_threshold = check_threshold(self.domain_threshold)
        if not self.models or not self.libraries:
            raise ValueError("screening needs at least one model and one library")
        for name, least in (("top_k", 1), ("workers", 0), ("batch_size", 1), ("threads", 1),
                            ("chunk_size", 1)):
            value = getattr(self, name)
            if value is not None and value < least:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be at least {least}, not {value}")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError(f"--threshold must be a finite number, not {self.threshold}: "
                             "the least score to keep (the most, with --ascending)")
        output_stem(self.out)  # refuse an unknown output type before any work


def _signature(config: ScreenConfig, libraries, mode: str | None) -> dict:
    """What the parts depend on (selection and output format do not: they apply afterwards)."""
    return {"molgraph_version": __version__, "featurizer_version": FEATURIZER_VERSION,
            "models": [model_digest(m) for m in config.models],
            "libraries": [lib.fingerprint() for lib in libraries],
            "chunk_size": config.chunk_size, "smiles_column": config.smiles_column,
            "id_column": config.id_column, "descriptors": mode, "filters": config.filters,
            "precision": config.precision}


def run_screen(config: ScreenConfig) -> dict:
    """Screen ``config.libraries`` with ``config.models``; write the output and its summary.

    The output is checked writable first, and locked for the whole run (a second run on it
    is refused), so neither an unwritable path nor a concurrent run costs an hour of work.

    Returns:
        The summary (also written to ``<stem>.summary.json``): row counts by status and by
        library, rows written, seconds, molecules per second, settings and machine load.
    """
    started = time.perf_counter()
    paths = check_output(config.out)
    with output_lock(config.out):
        return _screen(config, paths, started)


def _screen(config: ScreenConfig, paths: dict, started: float) -> dict:
    """:func:`run_screen` once the output is known writable and locked."""
    load_before = os.getloadavg()
    if _scores_in_processes(config, cuda=None):
        start_scoring_server()
    libraries = open_libraries(config.libraries, config.delimiter)
    from molgraph.inference.loading import load_models  # torch: not when building the CLI

    ensemble = Ensemble(load_models(config.models, "cpu" if config.scheduler
                                    else config.device, config.precision))
    rank = rank_column(ensemble.target_names, ensemble.spread, config.rank_by)
    mode = descriptor_mode(config.druglike, config.filters)
    parts = PartStore(paths["parts"], _signature(config, libraries, mode), config.resume)
    total = [count_rows(lib) for lib in libraries]
    progress = Progress(None if None in total else sum(total), "screening", config.progress)
    keys: list[tuple[int, int]] = []

    def skip(key: tuple[int, int], n: int) -> None:
        keys.append(key)
        progress.skip(n)

    refs = shard_refs(libraries, config.chunk_size, config.smiles_column, config.id_column)
    try:
        if config.scheduler:
            settings = screen_on_dask(config, refs, parts, mode, keys, progress, skip)
        else:
            settings = _screen_local(config, refs, parts, ensemble, mode, keys, progress, skip,
                                     from_store=all(lib.store_index is not None
                                                    for lib in libraries))
    finally:
        progress.close()
    scored_seconds = time.perf_counter() - started
    summary = assemble(parts, sorted(keys), [lib.name for lib in libraries], config.out, rank,
                       config.top_k, config.threshold, config.ascending, ensemble.domain,
                       config.domain_threshold)
    seconds = time.perf_counter() - started
    new_rows = progress.done - progress.resumed
    summary.update({
        "resumed_rows": progress.resumed, "screened_rows": new_rows,
        "seconds": round(seconds, 3), "scoring_seconds": round(scored_seconds, 3),
        "molecules_per_s": round(new_rows / seconds, 1) if seconds > 0 else None,
        "rank_by": rank, "columns": ensemble.columns, "task": ensemble.task,
        "models": config.models, "library_files": config.libraries,
        "top_k": config.top_k, "threshold": config.threshold, "ascending": config.ascending,
        "filters": config.filters, "druglike": config.druglike,
        "precision": config.precision, **settings,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": cpu_count(),
        "molgraph_version": __version__,
    })
    if config.pictures:  # the histogram counts every scored row: from the parts, still here
        summary["pictures"] = [str(p) for p in write_screen_pictures(
            config.out, rank, ascending=config.ascending, threshold=config.threshold,
            top_k=config.top_k, sources=[parts.path(key) for key in sorted(keys)])]
    write_json(paths["summary"], summary)
    if not config.keep_parts:
        parts.remove()
    log.info("screened %d rows (%d ok, %d invalid, %d filtered) in %.1f s → %s", summary["rows"],
             summary["ok"], summary["invalid"], summary["filtered"], seconds, config.out)
    if summary["size_limited"]:
        log.warning("%d molecules too large for some rdkit2d descriptors, read as the training "
                    "mean: their reason column says so", summary["size_limited"])
    return summary


def _scores_in_processes(config: ScreenConfig, cuda: bool | None) -> bool:
    """Whether local worker processes featurize and score (on the CPU, several workers, no
    explicit ``threads``); ``cuda=None`` before the models are placed: not ruled out yet."""
    workers = cpu_count() if config.workers is None else config.workers
    return (not config.scheduler and not cuda and workers > 1 and not config.threads
            and not config.device.startswith("cuda"))


def _screen_local(config: ScreenConfig, refs, parts: PartStore, ensemble: Ensemble,
                  mode: str | None, keys: list, progress: Progress, skip,
                  from_store: bool) -> dict:
    """On the GPU (or with explicit ``threads``): featurize in worker processes and score here.
    On the CPU: featurize and score in worker processes, one torch thread each. Returns the
    settings used."""
    import torch

    workers = cpu_count() if config.workers is None else config.workers
    on_gpu = ensemble.device.type == "cuda"
    batch_size = (default_batch_size(ensemble) if config.batch_size is None
                  else config.batch_size)
    if _scores_in_processes(config, cuda=on_gpu):
        return screen_in_processes(config, refs, parts, mode, keys, progress, skip, workers,
                                   batch_size)
    threads = config.threads or (1 if workers > 0 and not from_store else default_threads())
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for shard in prepared_shards(refs, workers, mode, parts.done_rows, skip):
            scores = score_shard(shard, ensemble, batch_size)
            parts.write(shard.key, shard_frame(shard, scores, ensemble.columns, config.filters))
            keys.append(shard.key)
            progress.update(len(shard))
    finally:
        torch.set_num_threads(previous)
    return {"workers": workers, "threads": threads, "batch_size": batch_size,
            "device": str(ensemble.device), "scheduler": None, "scoring": "main process"}

