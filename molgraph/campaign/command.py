"""``command:"CMD"``: an external program as the oracle (a docking script, a simulation).

Each call gets ``chunk`` molecules (one by default) in ``{input}``, a ``.smi`` file of lines
``SMILES ID`` (the ID is the pool row), and writes ``{output}``: one line per molecule, its ID
and its score separated by a comma, a tab or spaces (a header line, or a score that is no
number, counts as no score). ``CMD`` is a shell command line; without ``{input}`` and
``{output}`` in it, the two paths are added at its end. Calls run ``workers`` at a time, each
in its own directory, and a call that runs past ``timeout`` seconds is killed with its whole
process group.

A failure belongs to the molecules of its call and stops nothing: a non-zero exit (with the
last line the program wrote to stderr), a timeout, or a molecule missing from the output is
recorded as that molecule's note, with no value, and the campaign goes on.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import pandas as pd

from molgraph.campaign.oracles import Answer, as_value

log = logging.getLogger(__name__)

_SEPARATOR = re.compile(r"[,\t ]+")


class CommandOracle:
    """Run ``command`` on chunks of the batch; see the module docstring."""

    def __init__(self, command: str, workers: int = 1, timeout: float | None = None,
                 chunk: int = 1) -> None:
        self.command = command.strip()
        if len(self.command) >= 2 and self.command[0] == self.command[-1] and \
                self.command[0] in "\"'":
            self.command = self.command[1:-1]
        if "{input}" not in self.command and "{output}" not in self.command:
            self.command += " {input} {output}"
        self.workers, self.timeout, self.chunk = workers, timeout, chunk

    def describe(self) -> str:
        return f"command:{self.command}"

    def evaluate(self, batch: pd.DataFrame, workdir: Path) -> Iterator[list[Answer]]:
        rows, smiles = batch["row"].tolist(), batch["smiles"].tolist()
        calls = [(rows[i:i + self.chunk], smiles[i:i + self.chunk])
                 for i in range(0, len(rows), self.chunk)]
        scratch = Path(workdir) / "oracle_calls"
        with ThreadPoolExecutor(self.workers) as pool:
            pending = {pool.submit(self._call, part, scratch / f"{k:06d}"): k
                       for k, part in enumerate(calls)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    yield future.result()
        shutil.rmtree(scratch, ignore_errors=True)

    def _call(self, part: tuple[list[int], list[str]], directory: Path) -> list[Answer]:
        """One call on ``part`` (rows, SMILES) in ``directory``: its answers, failures
        included."""
        rows, smiles = part
        directory.mkdir(parents=True, exist_ok=True)
        source, target = directory / "input.smi", directory / "output.txt"
        target.unlink(missing_ok=True)
        source.write_text("".join(f"{s} {r}\n" for r, s in zip(rows, smiles)))
        line = self.command.replace("{input}", shlex.quote(str(source.resolve()))) \
            .replace("{output}", shlex.quote(str(target.resolve())))
        failure = _run(line, directory, self.timeout)
        scores = _read_scores(target) if target.exists() else {}
        answers = []
        for row in rows:
            value = scores.get(str(row))
            note = "" if value is not None else failure or "no score in the program's output"
            answers.append(Answer(row, value, note))
        if failure:
            log.warning("oracle call on rows %s: %s", ", ".join(map(str, rows[:5])), failure)
        return answers


def _run(line: str, directory: Path, timeout: float | None) -> str | None:
    """Run the shell ``line`` in ``directory``; ``None`` when it exits 0, else why not (its
    process group is killed at the timeout, so a script's own children die too)."""
    with open(directory / "stderr.txt", "wb") as err:
        process = subprocess.Popen(line, shell=True, cwd=directory, stdout=subprocess.DEVNULL,
                                   stderr=err, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return f"timeout: killed after {timeout:g} s"
    if code == 0:
        return None
    lines = (directory / "stderr.txt").read_text(errors="replace").strip().splitlines()
    return f"exit code {code}" + (f": {lines[-1].strip()[:200]}" if lines else "")


def _read_scores(path: Path) -> dict[str, float | None]:
    """``ID → score`` from the program's output (the first two fields of each line)."""
    scores: dict[str, float | None] = {}
    for text in path.read_text(errors="replace").splitlines():
        fields = [f for f in _SEPARATOR.split(text.strip()) if f]
        if len(fields) >= 2:
            scores.setdefault(fields[0], as_value(fields[1]))
    return scores
