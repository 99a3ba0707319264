"""Virtual screening: every row once with its status, selection, ensembles, formats, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from screen_helpers import DATA, INVALID_ROWS, LIBRARY, N_ROWS, read_table, tiny_models

from molgraph.inference.loading import load_model
from molgraph.screening.screen import ScreenConfig, run_screen

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> list[Path]:
    return tiny_models(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def full_run(models, tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    """One model, every row, in-process featurization, shards of 37 rows."""
    out = tmp_path_factory.mktemp("full") / "all.csv"
    summary = run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, chunk_size=37))
    return read_table(out), summary


def test_every_row_once_in_order_with_status(full_run, models):
    frame, summary = full_run
    assert frame["row"].tolist() == list(range(1, N_ROWS + 1))
    source = pd.read_csv(LIBRARY, keep_default_na=False)
    assert frame["id"].tolist() == source["id"].tolist()
    assert frame["smiles"].tolist() == source["SMILES"].tolist()
    bad = frame[frame["status"] == "invalid"]
    assert dict(zip(bad["row"], bad["smiles"])) == INVALID_ROWS
    assert bad["reason"].str.len().gt(0).all() and bad["logS"].isna().all()
    assert (bad.loc[bad["row"] == 6, "reason"] == "empty SMILES").all()
    ok = frame[frame["status"] == "ok"]
    assert len(ok) == N_ROWS - 4 and np.isfinite(ok["logS"]).all() and (ok["reason"] == "").all()
    assert (summary["rows"], summary["ok"], summary["invalid"]) == (N_ROWS, N_ROWS - 4, 4)
    # the scores are the model's own predictions for those SMILES
    direct = load_model(models[0], "cpu").predict(frame["smiles"].tolist())[:, 0]
    np.testing.assert_allclose(ok["logS"], direct[frame["status"] == "ok"], rtol=1e-4, atol=1e-5)


def test_side_files_list_invalid_rows_and_counts(full_run, tmp_path, models):
    out = tmp_path / "top.csv"
    summary = run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, top_k=5))
    invalid = read_table(tmp_path / "top.invalid.csv")
    assert dict(zip(invalid["row"], invalid["smiles"])) == INVALID_ROWS
    assert (invalid["status"] == "invalid").all() and invalid["reason"].str.len().gt(0).all()
    written = json.loads((tmp_path / "top.summary.json").read_text())
    assert written["rows"] == N_ROWS and written["invalid"] == 4 and written["written"] == 5
    assert summary["device"] == "cpu"  # --device auto without a GPU
    assert not (tmp_path / "top.parts").exists()


def test_top_k_and_threshold_rank_the_best(full_run, tmp_path, models):
    frame, _ = full_run
    ok = frame[frame["status"] == "ok"].sort_values(["logS", "row"], ascending=[False, True])
    run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "top.csv", workers=0, top_k=10,
                        chunk_size=50))
    top = read_table(tmp_path / "top.csv")
    assert top["rank"].tolist() == list(range(1, 11))
    assert top["row"].tolist() == ok["row"].head(10).tolist()
    np.testing.assert_array_equal(top["logS"], ok["logS"].head(10))

    cut = float(ok["logS"].iloc[24])
    run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "hits.csv", workers=0,
                        threshold=cut))
    hits = read_table(tmp_path / "hits.csv")
    assert set(hits["row"]) == set(ok.loc[ok["logS"] >= cut, "row"])
    assert hits["logS"].is_monotonic_decreasing

    run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "low.csv", workers=0, top_k=3,
                        ascending=True))
    low = read_table(tmp_path / "low.csv")
    assert low["row"].tolist() == ok.sort_values(["logS", "row"])["row"].head(3).tolist()


def test_ensemble_gives_mean_and_std(full_run, tmp_path, models):
    single = [full_run[0]["logS"].to_numpy()]
    run_screen(ScreenConfig([models[1]], [LIBRARY], tmp_path / "b.csv", workers=0))
    single.append(read_table(tmp_path / "b.csv")["logS"].to_numpy())
    run_screen(ScreenConfig(models, [LIBRARY], tmp_path / "ens.parquet", workers=0))
    ens = pd.read_parquet(tmp_path / "ens.parquet")
    assert {"logS_mean", "logS_std"} <= set(ens.columns) and "logS" not in ens.columns
    stack = np.stack(single)
    np.testing.assert_allclose(ens["logS_mean"], stack.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ens["logS_std"], stack.std(axis=0), rtol=1e-4, atol=1e-6)
    assert ens.loc[ens["status"] == "ok", "logS_std"].gt(0).all()


def test_csv_and_parquet_hold_the_same_table(full_run, tmp_path, models):
    run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "all.parquet", workers=0,
                        chunk_size=37))
    parquet = pd.read_parquet(tmp_path / "all.parquet")
    csv = full_run[0]
    assert list(parquet.columns) == list(csv.columns)
    assert parquet["row"].tolist() == csv["row"].tolist()
    np.testing.assert_allclose(parquet["logS"], csv["logS"], rtol=1e-6)  # CSV keeps 8 digits
    assert parquet["status"].tolist() == csv["status"].tolist()


def test_worker_processes_give_the_same_result(full_run, tmp_path, models):
    run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "w.csv", workers=2, chunk_size=37))
    pd.testing.assert_frame_equal(read_table(tmp_path / "w.csv"), full_run[0])


def test_bf16_in_worker_processes_ranks_like_fp32(full_run, tmp_path, models):
    run_screen(ScreenConfig([models[0]], [LIBRARY], tmp_path / "b.csv", workers=2, chunk_size=37,
                        precision="bf16"))
    bf16, fp32 = read_table(tmp_path / "b.csv"), full_run[0]
    assert bf16["row"].tolist() == fp32["row"].tolist()
    assert bf16["status"].tolist() == fp32["status"].tolist()
    ok = fp32["status"] == "ok"
    np.testing.assert_allclose(bf16.loc[ok, "logS"], fp32.loc[ok, "logS"], atol=0.05)
    assert bf16.loc[ok, "logS"].corr(fp32.loc[ok, "logS"], method="spearman") > 0.99
    assert json.loads((tmp_path / "b.summary.json").read_text())["precision"] == "bf16"


def test_other_formats_and_several_libraries(tmp_path, models):
    libraries = [DATA / "small.smi", DATA / "esol_20.sdf.gz"]
    run_screen(ScreenConfig([models[0]], libraries, tmp_path / "two.csv", workers=0))
    frame = read_table(tmp_path / "two.csv")
    smi_rows = len((DATA / "small.smi").read_text().splitlines()) - 1  # minus the header line
    assert frame["library"].tolist() == ["small.smi"] * smi_rows + ["esol_20.sdf.gz"] * 20
    assert frame.loc[frame["library"] == "esol_20.sdf.gz", "row"].tolist() == list(range(1, 21))
    assert frame.loc[frame["library"] == "esol_20.sdf.gz", "status"].eq("ok").all()
    assert frame.loc[frame["library"] == "small.smi", "status"].eq("invalid").any()


def test_druglike_columns_and_filters(tmp_path, models):
    library = tmp_path / "lib.smi"
    library.write_text("smiles name\n"
                       "CC(=O)Oc1ccccc1C(=O)O aspirin\n"
                       "O=C1C(=Cc2ccccc2)SC(=S)N1 rhodanine_ene\n"
                       "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(=O)O greasy_acid\n"
                       "C1CC broken\n")
    run_screen(ScreenConfig([models[0]], [library], tmp_path / "f.csv", workers=0, druglike=True,
                        filters=["lipinski", "veber", "pains"]))
    frame = read_table(tmp_path / "f.csv").set_index("id")
    assert frame["status"].to_dict() == {"aspirin": "ok", "rhodanine_ene": "filtered",
                                         "greasy_acid": "filtered", "broken": "invalid"}
    assert "PAINS" in frame.loc["rhodanine_ene", "reason"]
    assert "Lipinski" in frame.loc["greasy_acid", "reason"]
    assert frame.loc["aspirin", "lipinski_pass"] and frame.loc["aspirin", "mol_weight"] > 180
    assert np.isfinite(frame.loc["rhodanine_ene", "logS"])  # filtered rows keep their score
    run_screen(ScreenConfig([models[0]], [library], tmp_path / "t.csv", workers=0, top_k=5,
                        filters=["lipinski", "pains"]))
    assert read_table(tmp_path / "t.csv")["id"].tolist() == ["aspirin"]


def test_resume_refuses_other_settings(tmp_path, models):
    out = tmp_path / "r.csv"
    run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, chunk_size=50, keep_parts=True))
    assert (tmp_path / "r.parts" / "manifest.json").exists()
    with pytest.raises(ValueError, match="chunk_size"):
        run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, chunk_size=60, resume=True))
    with pytest.raises(ValueError, match="precision"):  # bf16 scores must not mix with fp32
        run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, chunk_size=50, resume=True,
                            precision="bf16"))
    # the same settings re-select from the kept parts without scoring again
    summary = run_screen(ScreenConfig([models[0]], [LIBRARY], out, workers=0, chunk_size=50,
                                  resume=True, top_k=3))
    assert summary["resumed_rows"] == N_ROWS and summary["screened_rows"] == 0
    assert len(read_table(out)) == 3


def test_resume_after_sigkill(tmp_path, models):
    """Kill -9 a CLI run half-way, resume it, and find every input row exactly once."""
    source = pd.read_csv(LIBRARY, keep_default_na=False)
    library = tmp_path / "big.smi"
    copies = 4
    lines = [f"{s} mol{k}_{i}" if s else "" for k in range(copies)
             for i, s in enumerate(source["SMILES"])]
    library.write_text("\n".join(lines) + "\n")
    n_rows = copies * N_ROWS
    out = tmp_path / "resume.csv"
    parts = tmp_path / "resume.parts"
    command = [sys.executable, "-m", "molgraph.cli.main", "screen", "--model", str(models[0]),
               "--library", str(library), "--out", str(out), "--chunk-size", "8",
               "--workers", "1", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(parts.glob("part-*.parquet"))) >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed: " + \
        proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI process and its featurization workers
    proc.wait()
    proc.stderr.close()
    print(f"killed after {time.perf_counter() - started:.1f} s")
    done_before = len(list(parts.glob("part-*.parquet")))
    assert not out.exists() and 5 <= done_before < n_rows // 8

    result = subprocess.run(command + ["--resume"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    frame = read_table(out)
    assert len(frame) == n_rows and frame["row"].tolist() == list(range(1, n_rows + 1))
    assert frame["id"].tolist() == [line.split()[1] if line else "" for line in lines]
    invalid_per_copy = len(INVALID_ROWS)
    assert (frame["status"] == "invalid").sum() == copies * invalid_per_copy
    summary = json.loads((tmp_path / "resume.summary.json").read_text())
    assert summary["resumed_rows"] >= 5 * 8 and summary["resumed_rows"] + \
        summary["screened_rows"] == n_rows


def test_main_screen(tmp_path, models, capsys):
    from molgraph.cli.main import main

    out = tmp_path / "cli.csv"
    code = main(["screen", "--model", str(models[0]), str(models[1]), "--library", str(LIBRARY),
                 "--out", str(out), "--top-k", "4", "--workers", "0", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"{N_ROWS} rows screened" in printed and "logS_mean" in printed
    assert read_table(out)["rank"].tolist() == [1, 2, 3, 4]
    assert main(["screen", "--model", str(models[0]), "--library", str(LIBRARY),
                 "--out", str(tmp_path / "x.xlsx")]) == 2


def test_featurization_side_imports_no_torch():
    code = ("import sys, molgraph.screening.prepare, molgraph.screening.library, "
            "molgraph.chem.druglike, molgraph.screening.screen, molgraph.screening.store, "
            "molgraph.cli.main; "
            "assert 'torch' not in sys.modules, 'torch'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_progress_logs_rate_and_eta_without_a_terminal(caplog):
    from molgraph.runtime.progress import Progress

    caplog.set_level("INFO", logger="molgraph.runtime.progress")
    progress = Progress(100, "screening", enabled=False, log_every=0)
    progress.skip(10)  # done by an earlier run: counted, but not in the rate
    time.sleep(0.01)
    progress.update(40)
    progress.close()
    assert "screening: 50/100 (50.0%)" in caplog.text and "ETA" in caplog.text
    assert progress.resumed == 10 and progress.rate > 0


@pytest.mark.parametrize(("hidden", "device", "expected"),
                         [(64, "cpu", 128), (300, "cpu", 32), (2000, "cpu", 16),
                          (8, "cpu", 256), (300, "cuda", 2048)])
def test_default_batch_size_keeps_a_cpu_batch_in_cache(hidden, device, expected):
    from types import SimpleNamespace

    import torch

    from molgraph.screening.screen import default_batch_size

    model = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(hidden_channels=hidden)))
    ensemble = SimpleNamespace(models=[model], device=torch.device(device))
    assert default_batch_size(ensemble) == expected
