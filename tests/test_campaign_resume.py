"""A campaign killed mid-round (SIGKILL, by its own oracle) continues with --resume and acquires
exactly what an uninterrupted campaign with the same seed acquires, asking the oracle again only
for the answers the kills cut off."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd

from molgraph.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

#: a docking stand-in: scores each SMILES, logs what it was asked, and on the calls listed in
#: kills.txt SIGKILLs the campaign (its pid in pid.txt) instead of answering
ORACLE = """#!/bin/sh
here=$(dirname "$0")
n=$(( $(cat "$here/count" 2>/dev/null || echo 0) + 1 ))
echo $n > "$here/count"
cat "$1" >> "$here/asked.log"
if grep -qx "$n" "$here/kills.txt" 2>/dev/null; then
    kill -9 "$(cat "$here/pid.txt")"
    exit 1
fi
awk '{s = $1; c = gsub(/C/, "", s); s = $1; o = gsub(/O/, "", s);
      print $2 "," c - 2 * o + length($1) / 7}' "$1" > "$2"
"""


def _oracle(directory: Path, kills: list[int]) -> Path:
    directory.mkdir()
    script = directory / "dock.sh"
    script.write_text(ORACLE)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (directory / "kills.txt").write_text("".join(f"{k}\n" for k in kills))
    return script


def _arguments(data_dir: Path, out: Path, script: Path) -> list[str]:
    return ["active", "--library", str(data_dir / "esol_120.csv"), "--out", str(out),
            "--oracle", f"command:{script}", "--init", "20", "--batch", "10",
            "--iterations", "3", "--surrogate", "rf", "--acquisition", "thompson",
            "--seed", "7", "--workers", "0", "--no-pictures", "--no-progress"]


def _campaign(data_dir: Path, out: Path, script: Path, resume: bool = False) -> int:
    """Run ``molgraph active`` in a process of its own; its exit code (-9 when killed)."""
    command = [sys.executable, "-m", "molgraph.cli.main", *_arguments(data_dir, out, script)]
    process = subprocess.Popen(command + (["--resume"] if resume else []), env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    (script.parent / "pid.txt").write_text(str(process.pid))
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
    return process.returncode


def test_killed_campaign_resumes_to_the_same_acquisitions(tmp_path, data_dir):
    plain = _oracle(tmp_path / "plain", kills=[])
    assert main(_arguments(data_dir, tmp_path / "uninterrupted", plain)) == 0
    # calls 1-20 are round 0's first batch, then 10 per round: 12 cuts round 0, 37 round 2
    killer = _oracle(tmp_path / "killer", kills=[12, 37])
    out = tmp_path / "killed"
    assert _campaign(data_dir, out, killer) == -signal.SIGKILL
    assert not (out / "rounds" / "000" / "round.json").exists()
    assert len(pd.read_csv(out / "rounds" / "000" / "answers.csv")) == 11
    assert _campaign(data_dir, out, killer, resume=True) == -signal.SIGKILL
    assert (out / "rounds" / "001" / "round.json").exists()
    assert not (out / "rounds" / "002" / "round.json").exists()
    assert _campaign(data_dir, out, killer, resume=True) == 0

    expected = pd.read_csv(tmp_path / "uninterrupted" / "acquired.csv", keep_default_na=False)
    got = pd.read_csv(out / "acquired.csv", keep_default_na=False)
    assert len(got) == 20 + 3 * 10 and got["row"].is_unique
    pd.testing.assert_frame_equal(got, expected)
    # each molecule was asked once, but the two whose calls the kills cut off: twice
    asked = (killer.parent / "asked.log").read_text().splitlines()
    assert len(asked) == 50 + 2 and len(set(asked)) == 50
    assert len((plain.parent / "asked.log").read_text().splitlines()) == 50
