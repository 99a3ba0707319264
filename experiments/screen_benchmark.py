"""Virtual-screening benchmark: molgraph screen vs RDKit's parse-only floor and Chemprop.

Measured in one run on one machine (load average recorded before and after each step):

1. RDKit parse-only molecules/s on one core (``Chem.MolFromSmiles``): the floor for any screen
   that starts from SMILES; molgraph's own featurizer on one core for reference.
2. ``molgraph screen`` end to end (a fresh process: start-up, reading, featurizing, scoring,
   writing) on the MOSES test set (176k) and training set (1.58M), with peak memory: the peak of
   the summed RSS of the process tree (main process + featurization workers; shared pages are
   counted once per process, so this is an upper bound) and the main process's own peak RSS.
3. ``chemprop predict`` (Chemprop 2.3.1 in its own virtualenv) on the same 176k molecules, with
   a model trained by ``chemprop train`` on the same data as molgraph's.
4. ``molgraph featurize`` into a store, then ``molgraph screen`` from the store.
5. The Chemprop-size model in bfloat16 (``--precision bf16``), from SMILES and from the store,
   with its agreement with the float32 run: the overlap of the two top-1000 lists and the
   largest score difference on the molecules in both.

Models: molgraph D-MPNNs trained for 3 epochs on ESOL (speed does not depend on accuracy), one
the size of Chemprop's default (hidden 300, 3 steps) and one compact (hidden 64); Chemprop's
default D-MPNN trained for 1 epoch on the same file.

Usage (Chemprop in a separate virtualenv, never a molgraph dependency)::

    python3 -m venv /tmp/cp && /tmp/cp/bin/pip install torch==2.13.0 chemprop==2.3.1
    nice -n 10 python experiments/screen_benchmark.py --chemprop /tmp/cp/bin/chemprop
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "datasets"
LIBRARIES = {"moses_test": SHARED / "libraries" / "moses_test.csv.gz",
             "moses_train": SHARED / "libraries" / "moses_train.csv.gz"}
TRAIN_DATA = SHARED / "molecules" / "esol" / "delaney-processed.csv"
TARGET = "measured log solubility in mols per litre"
MODELS = {"compact": 64, "chemprop-size": 300}
#: Screening runs: label → (model, extra `molgraph screen` arguments).
RUNS = {"compact": ("compact", []), "chemprop-size": ("chemprop-size", []),
        "chemprop-size-bf16": ("chemprop-size", ["--precision", "bf16"])}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(command: list[str], env: dict | None = None, interval: float = 0.2) -> dict:
    """Run ``command``; wall seconds, peak RSS of the process tree and of the main process."""
    before = load()
    started = time.perf_counter()
    proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    main = psutil.Process(proc.pid)
    peak_tree = peak_main = 0
    while proc.poll() is None:
        try:
            procs = [main, *main.children(recursive=True)]
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    rss.append(0)
            peak_tree = max(peak_tree, sum(rss))
            peak_main = max(peak_main, rss[0])
        except psutil.Error:
            pass
        time.sleep(interval)
    output = proc.stdout.read()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {"command": shlex.join(command), "seconds": round(seconds, 2),
            "peak_rss_tree_mb": round(peak_tree / 2**20), "peak_rss_main_mb":
            round(peak_main / 2**20), "load_before": before, "load_after": load(),
            "output_tail": output[-600:]}


def parse_floor(path: Path, n: int, repeats: int = 3) -> dict:
    """RDKit parse-only and molgraph featurization rates on one core, in a fresh process:
    interleaved ``repeats`` times, the median of each. Parsed molecules are dropped at once
    (keeping 50,000 alive costs RDKit page faults that a screen never pays)."""
    code = f"""
import json, statistics, time, pandas as pd
from rdkit import Chem, RDLogger
from molgraph.chem.featurize import featurize_chunk
RDLogger.DisableLog("rdApp.*")
smiles = pd.read_csv({str(path)!r}, nrows={n})["SMILES"].tolist()
parse, feat = [], []
for _ in range({repeats}):
    t = time.perf_counter()
    for s in smiles: Chem.MolFromSmiles(s)
    parse.append(len(smiles) / (time.perf_counter() - t))
    t = time.perf_counter()
    for s in range(0, len(smiles), 500): featurize_chunk(smiles[s:s + 500])
    feat.append(len(smiles) / (time.perf_counter() - t))
print(json.dumps({{"parse_per_s": round(statistics.median(parse)),
                  "featurize_per_s": round(statistics.median(feat)),
                  "parse_runs": [round(x) for x in parse],
                  "featurize_runs": [round(x) for x in feat]}}))
"""
    before = load()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "molecules": n,
            "load_before": before, "load_after": load()}


def molgraph_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "molgraph.cli.main", *args]


def train_models(work: Path, chemprop: str | None) -> dict[str, Path]:
    models = {}
    for name, hidden in MODELS.items():
        out = work / f"model-{name}"
        if not (out / "model" / "config.json").exists():
            subprocess.run(molgraph_cli("train", "--data", str(TRAIN_DATA), "--target-columns",
                                        TARGET, "--epochs", "3", "--hidden", str(hidden),
                                        "--no-cache", "--out", str(out)),
                           cwd=ROOT, check=True, capture_output=True)
        models[name] = out / "model"
    if chemprop:
        out = work / "chemprop-model"
        if not list(out.rglob("best*.pt")):
            subprocess.run([chemprop, "train", "-i", str(TRAIN_DATA), "-s", "smiles",
                            "--target-columns", TARGET, "-t", "regression", "--epochs", "1",
                            "--warmup-epochs", "0", "-o", str(out), "--accelerator", "cpu",
                            "--devices", "1", "-n", "0"], check=True, capture_output=True)
        models["chemprop"] = sorted(out.rglob("best*.pt"))[0]
    return models


def count(path: Path) -> int:
    return sum(len(c) for c in pd.read_csv(path, usecols=["SMILES"], chunksize=500_000))


def screen_run(model: Path, library: Path, out: Path, extra: list[str] = ()) -> dict:
    command = molgraph_cli("screen", "--model", str(model), "--library", str(library),
                           "--out", str(out), "--top-k", "1000", "--no-progress", *extra)
    result = measure(command)
    summary = json.loads(out.with_name(out.name.replace(".csv", ".summary.json")).read_text())
    result.update({k: summary[k] for k in ("rows", "invalid", "molecules_per_s", "workers",
                                           "threads", "batch_size", "device")})
    return result


def agreement(reference: Path, other: Path) -> dict:
    """How far ``other``'s top list (bf16) is from ``reference``'s (fp32): the share of
    reference rows it also holds, and the largest score difference on the rows in both."""
    a, b = pd.read_csv(reference), pd.read_csv(other)
    both = a.merge(b, on="row", suffixes=("", "_other"))
    return {"top_overlap_vs_fp32": round(len(both) / len(a), 4),
            "max_abs_score_diff_vs_fp32": float((both[TARGET] - both[f"{TARGET}_other"])
                                                .abs().max())}


def chemprop_run(chemprop: str, model: Path, library: Path, out: Path,
                 threads: int | None) -> dict:
    command = [chemprop, "predict", "-i", str(library), "-s", "SMILES", "--model-paths",
               str(model), "-o", str(out), "--accelerator", "cpu", "--devices", "1", "-n", "0"]
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {}
    result = measure(command, env)
    result["rows"] = count(out)
    result["threads"] = threads or "torch default"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chemprop", help="path of the `chemprop` command (own virtualenv)")
    parser.add_argument("--work", type=Path, default=HERE / "out" / "screen_benchmark")
    parser.add_argument("--skip-train-set", action="store_true",
                        help="skip the 1.58M-molecule run")
    parser.add_argument("--store-models", nargs="+", default=list(RUNS), choices=list(RUNS),
                        help="runs to re-screen the store with")
    parser.add_argument("--resume", action="store_true",
                        help="keep the steps already measured in WORK/runs.json (an interrupted "
                        "run); the results say which steps came from the earlier invocation")
    parser.add_argument("--redo", nargs="+", default=[], metavar="STEP",
                        help="with --resume: measure these steps again (the earlier results are "
                        "kept in the report as superseded)")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS_screen.md")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the results file from WORK/runs.json without measuring")
    args = parser.parse_args()
    saved_path = args.work / "runs.json"
    if args.report_only:
        saved = json.loads(saved_path.read_text())
        args.results.write_text(report(saved["machine"], saved["runs"], args))
        return
    for path in LIBRARIES.values():
        if not path.exists():
            sys.exit(f"{path} is missing: this benchmark reads ../shared/datasets/libraries/")
    args.work.mkdir(parents=True, exist_ok=True)
    machine = {"nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
               "cpu": platform.processor() or platform.machine(),
               "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
               "python": platform.python_version(), "load_at_start": load(),
               "invocations": 1, "minutes": 0.0}
    runs: dict[str, dict] = {}
    if args.resume and saved_path.exists():
        saved = json.loads(saved_path.read_text())
        if "runs" not in saved:  # written by an invocation that did not finish
            saved = {"runs": saved, "machine": {**machine, "load_at_start": None,
                                                 "argv": ["(not recorded by that version)"]}}
        runs = {name: {**run, "invocation": run.get("invocation", 1)}
                for name, run in saved["runs"].items()}
        machine = {**saved["machine"], "invocations": saved["machine"]["invocations"] + 1}
        superseded = machine.setdefault("superseded", {})
        for name in args.redo:
            if name in runs:
                earlier = runs.pop(name)
                superseded[f"{name} (inv. {earlier['invocation']})"] = earlier
    machine.setdefault("argv", []).append(shlex.join(["python", *sys.argv]))
    started = time.perf_counter()
    minutes_before = machine["minutes"]

    def save() -> None:
        machine["minutes"] = round(minutes_before + (time.perf_counter() - started) / 60, 1)
        saved_path.write_text(json.dumps({"machine": machine, "runs": runs}, indent=1))

    def step(name: str, measure_it) -> dict:
        if name in runs:
            print(f"{name}: kept from invocation {runs[name]['invocation']}", flush=True)
            return runs[name]
        runs[name] = {**measure_it(), "invocation": machine["invocations"]}
        shown = {k: v for k, v in runs[name].items() if k not in ("output_tail", "command")}
        print(f"{name}: {json.dumps(shown)}", flush=True)
        save()
        return runs[name]

    def compared(label: str, source: str) -> dict:
        """A bf16 run's agreement with the fp32 run of the same model and input."""
        if not label.endswith("-bf16"):
            return {}
        return agreement(args.work / f"hits-{label.removesuffix('-bf16')}-{source}.csv",
                         args.work / f"hits-{label}-{source}.csv")

    models = train_models(args.work, args.chemprop)
    test = LIBRARIES["moses_test"]
    step("parse_floor", lambda: parse_floor(test, 50_000))
    for label, (name, extra) in RUNS.items():
        step(f"screen_{label}_moses_test",
             lambda label=label, name=name, extra=extra: screen_run(
                 models[name], test, args.work / f"hits-{label}-test.csv", extra)
             | compared(label, "test"))
    if args.chemprop:
        plain = args.work / "moses_test.csv"  # chemprop reads only uncompressed CSV
        if not plain.exists():
            pd.read_csv(test).to_csv(plain, index=False)
        probe = args.work / "moses_test_20k.csv"
        pd.read_csv(test, nrows=20_000).to_csv(probe, index=False)
        probes = {threads: step(f"chemprop_probe_20k_threads_{threads or 'default'}",
                                lambda threads=threads: chemprop_run(
                                    args.chemprop, models["chemprop"], probe,
                                    args.work / "chemprop-probe.csv", threads))
                  for threads in (None, 1)}
        best = min(probes, key=lambda t: probes[t]["seconds"])
        step("chemprop_moses_test",
             lambda: chemprop_run(args.chemprop, models["chemprop"], plain,
                                  args.work / "chemprop-test.csv", best))
    store = args.work / "moses_test.store"
    step("featurize_store_moses_test",
         lambda: measure(molgraph_cli("featurize", "--library", str(test), "--out", str(store),
                                      "--no-progress")) | {"rows": count(test)})
    for label in args.store_models:
        name, extra = RUNS[label]
        step(f"rescreen_store_{label}_moses_test",
             lambda label=label, name=name, extra=extra: screen_run(
                 models[name], store, args.work / f"hits-{label}-store.csv", extra)
             | compared(label, "store"))
    if not args.skip_train_set:
        step("screen_compact_moses_train",
             lambda: screen_run(models["compact"], LIBRARIES["moses_train"],
                                args.work / "hits-compact-train.csv"))
    machine["load_at_end"] = load()
    save()
    args.results.write_text(report(machine, runs, args))
    print(f"results written to {args.results}")


def report(machine: dict, runs: dict, args: argparse.Namespace) -> str:
    """RESULTS_screen.md from the measurements."""
    cores = machine["usable_cpus"]
    floor = runs["parse_floor"]["parse_per_s"]
    lines = [
        "# Virtual screening benchmark",
        "",
        f"Machine: {cores} usable CPUs ({machine['cpu']}), {machine['memory_gb']} GB memory, "
        f"no GPU; Python {machine['python']}. Load average (1, 5, 15 min) at the end "
        f"{machine.get('load_at_end')}; each row gives the 1-minute load before and after it. The "
        f"machine is shared with other jobs, so absolute rates follow its load; ratios within one "
        f"invocation are the comparable figures. "
        f"{machine['minutes']} minutes of measurement in {machine['invocations']} "
        f"invocation(s) of the script on this machine (column `inv.`: a later invocation with "
        f"`--resume` kept the steps measured before an interruption).",
        "",
        "Libraries: MOSES test (176,074) and train (1,584,663) SMILES, PyPI `molsets` 0.3.1 "
        "(MIT, ZINC Clean Leads derived). Models trained on ESOL (deepchem, MIT) — speed does "
        "not depend on accuracy.",
        "",
        f"RDKit parse-only floor, one core: **{floor:,} molecules/s** "
        f"(molgraph featurizer alone: {runs['parse_floor']['featurize_per_s']:,}/s per core; "
        f"load {runs['parse_floor']['load_before']} → {runs['parse_floor']['load_after']}).",
        "",
        "| run | rows | wall s | molecules/s (end to end) | per core, ÷ parse floor | "
        "peak RSS tree / main (MB) | load before → after | inv. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        if name == "parse_floor":
            continue
        speed = rate(run)
        per_core = f"{speed / cores:,.0f}, {speed / cores / floor:.2f}" if speed else ""
        lines.append(f"| {name} | {run.get('rows', 0):,} | {run['seconds']:,.1f} | "
                     f"{speed or 0:,.0f} | {per_core} | {run['peak_rss_tree_mb']:,} / "
                     f"{run['peak_rss_main_mb']:,} | {run['load_before'][0]} → "
                     f"{run['load_after'][0]} | {run.get('invocation', 1)} |")
    if machine.get("superseded"):
        lines += ["", "Measured again later (`--redo`), superseded by the rows above — kept to "
                  "show how much the machine's load moves the numbers:", "",
                  "| run | rows | wall s | molecules/s | peak RSS tree / main (MB) | "
                  "load before → after |", "|---|---|---|---|---|---|"]
        for name, run in machine["superseded"].items():
            floor_or_rate = (f"parse {run['parse_per_s']:,}/s, featurize "
                             f"{run['featurize_per_s']:,}/s" if "parse_per_s" in run
                             else f"{rate(run) or 0:,.0f}")
            seconds = f"{run['seconds']:,.1f}" if "seconds" in run else ""
            lines.append(f"| {name} | {run.get('rows', run.get('molecules', 0)):,} | "
                         f"{seconds} | {floor_or_rate} | "
                         f"{run.get('peak_rss_tree_mb', '')} / {run.get('peak_rss_main_mb', '')}"
                         f" | {run['load_before'][0]} → {run['load_after'][0]} |")
    lines += ["", *findings(runs, cores, floor)]
    lines += ["", "Commands (as run, in this order):", "", "```"]
    lines += [("OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 " if run.get("threads") == 1 and
               name.startswith("chemprop") else "") + run["command"]
              for name, run in runs.items() if "command" in run]
    lines += ["```", "", "Invocations of the benchmark:", ""]
    argvs = machine.get("argv", [])
    first = machine["invocations"] - len(argvs) + 1
    lines += [f"{i}. `{argv}`".replace("  (", "` (").replace(")`", ")")
              for i, argv in enumerate(argvs, start=first)]
    work = args.work.relative_to(ROOT) if args.work.is_relative_to(ROOT) else args.work
    lines += ["", f"Raw numbers: `{work}/runs.json`.", ""]
    return "\n".join(lines)


def rate(run: dict | None) -> float | None:
    return run["rows"] / run["seconds"] if run and run.get("rows") else None


def findings(runs: dict, cores: int, floor: float) -> list[str]:
    """The comparisons the issue asks for, computed from the measurements."""
    out = ["## What the numbers say", ""]
    feat = runs["parse_floor"]["featurize_per_s"]
    out.append(f"- molgraph's featurizer alone (parse + graph features, one core): {feat:,}/s = "
               f"{feat / floor:.2f} × the parse-only floor: the ceiling per core for any screen "
               "from SMILES with this featurizer, before a single forward pass.")
    chemprop = rate(runs.get("chemprop_moses_test"))
    for label, (name, extra) in RUNS.items():
        run = runs.get(f"screen_{label}_moses_test")
        mine = rate(run)
        if mine is None:
            continue
        text = (f"- `{' '.join(['molgraph screen', *extra])}`, {name} model "
                f"({MODELS[name]} hidden), MOSES test: "
                f"{mine:,.0f} molecules/s end to end = {mine / cores:,.0f} per core = "
                f"{mine / cores / floor:.2f} × the parse-only floor per core (target ≥ 0.5)")
        if chemprop:
            text += f"; {mine / chemprop:.1f} × Chemprop's {chemprop:,.0f}/s (target ≥ 5)"
        if "top_overlap_vs_fp32" in run:
            text += (f"; top 1,000 shared with the fp32 run: {run['top_overlap_vs_fp32']:.1%}, "
                     f"largest score difference {run['max_abs_score_diff_vs_fp32']:.3f}")
        out.append(text + ".")
        store = rate(runs.get(f"rescreen_store_{label}_moses_test"))
        if store:
            out.append(f"- Re-screening from the store, {label}: {store:,.0f} "
                       f"molecules/s, {store / mine:.1f} × the run from SMILES (target ≥ 10).")
    train_rate = rate(runs.get("screen_compact_moses_train"))
    if train_rate:
        out.append(f"- `molgraph screen`, compact model, MOSES train (1.58M): {train_rate:,.0f} "
                   f"molecules/s end to end = {train_rate / cores:,.0f} per core = "
                   f"{train_rate / cores / floor:.2f} × the parse-only floor per core (target ≥ "
                   "0.5); start-up weighs less here than on the 176k test set.")
    store_run = runs.get("featurize_store_moses_test")
    if store_run:
        out.append(f"- `molgraph featurize` into a store: {rate(store_run):,.0f} molecules/s "
                   f"(peak RSS {store_run['peak_rss_tree_mb']:,} MB tree).")
    test, train = runs.get("screen_compact_moses_test"), runs.get("screen_compact_moses_train")
    if test and train:
        out.append(f"- Peak memory, compact model: {test['rows']:,} rows → "
                   f"{test['peak_rss_tree_mb']:,} MB (tree) / {test['peak_rss_main_mb']:,} MB "
                   f"(main); {train['rows']:,} rows → {train['peak_rss_tree_mb']:,} MB / "
                   f"{train['peak_rss_main_mb']:,} MB: "
                   f"{train['peak_rss_tree_mb'] / test['peak_rss_tree_mb']:.2f} × for "
                   f"{train['rows'] / test['rows']:.1f} × the rows.")
    probes = {k: v for k, v in runs.items() if k.startswith("chemprop_probe")}
    if probes:
        out.append("- Chemprop probes on the first 20,000 molecules (start-up included): " +
                   "; ".join(f"threads {v['threads']}: {rate(v):,.0f}/s, peak "
                             f"{v['peak_rss_tree_mb']:,} MB" for v in probes.values()) +
                   ". The full run used the faster setting.")
    return out


if __name__ == "__main__":
    main()
