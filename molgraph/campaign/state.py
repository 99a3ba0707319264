"""The campaign directory: everything a campaign knows, on disk, so a kill loses nothing.

Layout::

    DIR/campaign.json            the settings that decide acquisitions, the pool, the oracle
    DIR/acquired.csv             one line per acquired molecule: iteration, row, smiles (the
                                 pool's own string), value (empty when none), note
    DIR/rounds.csv               one line per finished round: its metrics and timings
    DIR/pool/                    the featurized pool (a store), unless a store was given
    DIR/rounds/NNN/batch.csv     the round's molecules, chosen before the oracle is asked
    DIR/rounds/NNN/answers.csv   the oracle's answers, appended as they come
    DIR/rounds/NNN/round.json    the round's metrics and timings: written last, it marks the
                                 round finished (model/ and scores.parquet: the surrogate's)

``batch.csv`` and ``round.json`` are written whole or not at all (a temporary file renamed);
``answers.csv`` is appended one group of answers per write, flushed to disk before the oracle is
asked for the next, and a last line cut short by a kill is dropped when read. So after a kill a
round goes on from what it has: a batch written is never chosen again, an answer written is
never asked for again, and ``acquired.csv`` (a view of the rounds) is written again.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molgraph.campaign.oracles import Answer
from molgraph.runtime.files import jsonable, write_csv, write_json

CAMPAIGN_FILE = "campaign.json"
ACQUIRED = "acquired.csv"
ROUNDS = "rounds.csv"
BATCH, ANSWERS, ROUND = "batch.csv", "answers.csv", "round.json"
ANSWER_COLUMNS = ("rank", "row", "value", "note")
ACQUIRED_COLUMNS = ("iteration", "row", "smiles", "value", "note")


class CampaignDir:
    """Reads and writes ``DIR`` (see the module docstring)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    def round_dir(self, number: int) -> Path:
        return self.out / "rounds" / f"{number:03d}"

    def start(self, record: dict, resume: bool) -> dict:
        """Begin or continue the campaign described by ``record`` (``signature``, ``pool``):
        a new one in an empty directory; with ``resume`` the one there, if its settings are
        the same. Returns the record kept in ``campaign.json``."""
        path = self.out / CAMPAIGN_FILE
        if not path.exists():
            if self.out.exists() and (self.out / "rounds").exists():
                raise ValueError(f"{self.out}: holds rounds but no {CAMPAIGN_FILE}; choose "
                                 "another --out")
            write_json(path, record)
            return record
        if not resume:
            raise ValueError(f"{self.out} holds a campaign already: pass --resume to continue "
                             "it, or choose another --out")
        earlier = json.loads(path.read_text())
        for part in ("signature", "pool"):
            old, new = earlier.get(part, {}), jsonable(record[part])
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if changed:
                shown = "; ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now"
                                  for k in changed[:3])
                raise ValueError(f"{self.out}: cannot resume, the campaign was started with "
                                 f"other {part} settings ({shown}); give the same ones, or "
                                 "start a new campaign in another --out")
        return earlier

    def batch(self, number: int) -> pd.DataFrame | None:
        """Round ``number``'s batch (``rank``, ``row``, ``smiles``, ...) once chosen."""
        path = self.round_dir(number) / BATCH
        if not path.exists():
            return None
        return pd.read_csv(path, dtype={"smiles": str}, keep_default_na=False,
                           na_values={"row": [""], "utility": [""], "predicted": [""],
                                      "predicted_sd": [""], "value": [""]})

    def write_batch(self, number: int, batch: pd.DataFrame) -> None:
        write_csv(batch, self.round_dir(number) / BATCH)

    def answers(self, number: int) -> dict[int, Answer]:
        """Round ``number``'s answers so far by batch rank (a torn last line dropped)."""
        path = self.round_dir(number) / ANSWERS
        if not path.exists():
            return {}
        text = path.read_text(encoding="utf-8")
        if not text.endswith("\n"):  # the process died inside the write of this line
            text = text[:text.rfind("\n") + 1]
        out = {}
        for fields in list(csv.reader(text.splitlines()))[1:]:
            rank, row, value, note = fields
            out[int(rank)] = Answer(int(row) if row else -1, float(value) if value else None,
                                    note)
        return out

    def append_answers(self, number: int, answers: Sequence[tuple[int, Answer]]) -> None:
        """Append ``(rank, answer)`` pairs in one write, on disk before this returns."""
        path = self.round_dir(number) / ANSWERS
        lines = []
        if not path.exists():
            lines.append(",".join(ANSWER_COLUMNS) + "\n")
        for rank, answer in answers:
            value = "" if answer.value is None else repr(float(answer.value))
            row = "" if answer.row < 0 else str(answer.row)
            lines.append(_csv_line([rank, row, value, answer.note]))
        with open(path, "a", encoding="utf-8", newline="") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())

    def finished(self, number: int) -> dict | None:
        """Round ``number``'s ``round.json`` once the round is finished, else ``None``."""
        path = self.round_dir(number) / ROUND
        return json.loads(path.read_text()) if path.exists() else None

    def finish_round(self, number: int, record: dict, history: list[dict]) -> None:
        write_json(self.round_dir(number) / ROUND, record)
        write_csv(pd.DataFrame(history), self.out / ROUNDS)

    def acquired(self, last: int) -> pd.DataFrame:
        """Every molecule of rounds ``0..last`` (those with a batch): ``iteration``, ``row``
        (NA for an ``--init`` molecule outside the pool), ``smiles``, ``value`` (NaN when the
        oracle gave none or has not answered yet), ``note``."""
        parts = []
        for number in range(last + 1):
            batch = self.batch(number)
            if batch is None:
                continue
            answers = self.answers(number)
            got = [answers.get(int(rank)) for rank in batch["rank"]]
            parts.append(pd.DataFrame({
                "iteration": number, "row": batch["row"].astype("Int64"),
                "smiles": batch["smiles"],
                "value": [np.nan if a is None or a.value is None else a.value for a in got],
                "note": ["" if a is None else a.note for a in got]}))
        if not parts:
            return pd.DataFrame({c: [] for c in ACQUIRED_COLUMNS})
        return pd.concat(parts, ignore_index=True)

    def write_acquired(self, acquired: pd.DataFrame) -> None:
        write_csv(acquired, self.out / ACQUIRED)


def _csv_line(fields: list) -> str:
    from io import StringIO

    buffer = StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()
