"""The campaign's oracles: the lab round trip (write the batch, fill it in, continue; a bad edit
refused naming its line) and an external command with a failing molecule and a timeout."""

from __future__ import annotations

import csv
import stat
import sys

import pandas as pd
import pytest

from molgraph import CampaignConfig, run_campaign
from molgraph.campaign.command import CommandOracle
from molgraph.campaign.oracles import LookupOracle


@pytest.fixture
def esol(data_dir):
    return data_dir / "esol_120.csv"


def _fill(path, logs: dict[str, float], edit=None) -> None:
    """Fill in the lab's file as a person would (``edit`` changes a line's fields), from the
    file as the campaign wrote it (kept beside it the first time)."""
    original = path.with_suffix(".original")
    if not original.exists():
        original.write_bytes(path.read_bytes())
    with open(original, newline="") as handle:
        lines = list(csv.reader(handle))
    for number, fields in enumerate(lines[1:], start=2):
        fields[2] = "failed" if "Br" in fields[1] else str(logs[fields[1]])
        if edit is not None:
            edit(number, fields)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(lines)


def test_lab_round_trip_with_a_bad_edit_refused(tmp_path, esol):
    frame = pd.read_csv(esol)
    logs = dict(zip(frame["smiles"].str.strip(), frame["logS"]))
    config = CampaignConfig(str(esol), str(tmp_path / "lab"), init="20", batch="8",
                            iterations=1, surrogate="rf", workers=0, pictures=False)
    result = run_campaign(config, progress=False)  # no oracle: the lab
    assert result.status == "waiting"
    sheet = result.to_measure
    assert sheet == tmp_path / "lab" / "rounds" / "000" / "to_measure.csv"
    assert pd.read_csv(sheet)["value"].isna().all() and len(pd.read_csv(sheet)) == 20
    resumed = CampaignConfig(**{**vars(config), "resume": True})

    _fill(sheet, logs, lambda n, f: f.__setitem__(2, "about -3") if n == 7 else None)
    with pytest.raises(ValueError, match=r"to_measure.csv, line 7: value 'about -3' is not"):
        run_campaign(resumed, progress=False)
    _fill(sheet, logs, lambda n, f: f.__setitem__(1, "CCO") if n == 4 else None)
    with pytest.raises(ValueError, match=r"line 4: row \d+'s SMILES was changed to 'CCO'"):
        run_campaign(resumed, progress=False)
    _fill(sheet, logs, lambda n, f: f.__setitem__(2, "") if n == 3 else None)
    waiting = run_campaign(resumed, progress=False)  # one cell still empty: keeps waiting
    assert waiting.status == "waiting" and "1 of 20" in waiting.reason

    _fill(sheet, logs)
    second = run_campaign(resumed, progress=False)
    assert second.status == "waiting"
    assert second.to_measure.parent.name == "001" and len(pd.read_csv(second.to_measure)) == 8
    _fill(second.to_measure, logs)
    done = run_campaign(resumed, progress=False)
    assert done.status == "finished" and len(done.rounds) == 2
    acquired = done.acquired
    assert len(acquired) == 28 and acquired["row"].is_unique
    measured = acquired[~acquired["smiles"].str.contains("Br")]
    assert (measured["value"] == [logs[s] for s in measured["smiles"]]).all()
    failed = acquired[acquired["smiles"].str.contains("Br")]
    assert failed["value"].isna().all() and (failed["note"] == "failed in the lab").all()


SCRIPT = """\
import sys, time
source, target = sys.argv[1], sys.argv[2]
lines = [line.split() for line in open(source)]
if any("Cl" in smiles for smiles, _ in lines):
    sys.exit("cannot dock a chloride")
if any("Br" in smiles for smiles, _ in lines):
    time.sleep(30)
with open(target, "w") as out:
    out.write("id,score\\n")
    for smiles, row in lines:
        out.write(f"{row},{len(smiles) / 10}\\n")
"""


def test_command_oracle_records_failures_and_timeouts_and_goes_on(tmp_path, esol):
    script = tmp_path / "dock.py"
    script.write_text(SCRIPT)
    config = CampaignConfig(str(esol), str(tmp_path / "c"), init="30", batch="10",
                            iterations=1, surrogate="rf", oracle_workers=3, oracle_timeout=2,
                            workers=0, pictures=False)
    result = run_campaign(config, oracle=f'command:"{sys.executable} {script}"',
                          progress=False)
    assert result.status == "finished"
    acquired = result.acquired
    assert len(acquired) == 40
    chlorides = acquired["smiles"].str.contains("Cl")
    bromides = acquired["smiles"].str.contains("Br") & ~chlorides
    assert chlorides.any() and bromides.any()
    assert acquired.loc[chlorides, "note"].eq("exit code 1: cannot dock a chloride").all()
    assert acquired.loc[bromides, "note"].eq("timeout: killed after 2 s").all()
    fine = ~(chlorides | bromides)
    assert (acquired.loc[fine, "value"] == acquired.loc[fine, "smiles"].str.len() / 10).all()
    assert acquired.loc[~fine, "value"].isna().all()


def test_command_output_by_id_and_placeholders(tmp_path):
    script = tmp_path / "score.sh"
    script.write_text("#!/bin/sh\nawk '{print $2 \"\\t\" length($1)}' \"$1\" | sort -r > \"$2\"\n"
                      "echo '999 5' >> \"$2\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    oracle = CommandOracle(f"{script}", workers=2, chunk=3)
    batch = pd.DataFrame({"row": [4, 9, 2, 7], "smiles": ["CCO", "c1ccccc1", "N", "CC(=O)O"]})
    answers = sorted(a for group in oracle.evaluate(batch, tmp_path) for a in group)
    assert [(a.row, a.value) for a in answers] == [(2, 1.0), (4, 3.0), (7, 7.0), (9, 8.0)]
    assert not (tmp_path / "oracle_calls").exists()


def test_lookup_matches_exactly_else_by_canonical_smiles(tmp_path):
    table = tmp_path / "scores.csv"
    table.write_text("smiles,score\nOCC,1.5\nc1ccccc1,\nCCN,oops\n")
    with pytest.raises(ValueError, match=r"scores.csv, line 4: score 'oops' is not a number"):
        LookupOracle(table)
    table.write_text("smiles,score\nOCC,1.5\nc1ccccc1,\nCCN,2.0\n")
    oracle = LookupOracle(table)
    batch = pd.DataFrame({"row": [1, 2, 3, 4], "smiles": ["CCO", "c1ccccc1", "CCN", "CCCl"]})
    answers = next(oracle.evaluate(batch, tmp_path))
    assert [a.value for a in answers] == [1.5, None, 2.0, None]
    assert [a.note for a in answers] == ["", "no value in the lookup table", "",
                                         "not in the lookup table"]
    assert oracle.keys(["CCO", "CCCl"]) == ["OCC", None]  # the table's own string
    truth = oracle.truth(2, -1.0)  # minimising: the lowest first
    assert truth.values.tolist() == [-1.5, -2.0] and truth.keys == ["OCC", "CCN"]
