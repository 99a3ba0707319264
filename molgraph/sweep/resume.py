"""Whether a sweep started again may continue what its directory and its study hold.

* One study per sweep directory: ``DIR/trials/NNNN/``, ``DIR/best/``, ``best_config.json``
  and ``sweep.json`` are named by trial number only, so a second study there (another
  ``--study-name``, or the same name in another storage) would overwrite the first one's
  trials and leave ``best/`` a model of the other study. The study a directory belongs to is
  written to ``DIR/study.json`` (a directory from before it: its ``sweep.json``), and any
  other is refused. Another ``--out`` costs nothing, so there is no second layout to learn.
* The same data: the settings that decide the data and the split (``Problem.same_data``) and
  the contents of every input file (``Problem.input_files``: size and SHA-256, read in
  blocks) are stored in the study's ``data`` user attribute when it begins; trials scored on
  other data are not comparable, so a difference is refused, naming the file. A study begun
  before contents were recorded continues, with a warning, and records them.

No Optuna here: the study is read and written through its user attributes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from molgraph.runtime.files import write_json
from molgraph.sweep.problems import Problem
from molgraph.sweep.storage import JOURNAL, journal_path, shown_storage

log = logging.getLogger(__name__)
MARKER = "study.json"
DEFAULT_STORAGE = shown_storage(None)


def storage_identity(out: Path, storage: str | None) -> str:
    """How ``study.json`` names a storage: the directory's own journal, another journal's
    absolute path, or the URL (password masked)."""
    journal = journal_path(out, storage)
    if journal is None:
        return shown_storage(storage)
    journal = journal.resolve()
    return DEFAULT_STORAGE if journal == (out / JOURNAL).resolve() else str(journal)


def _claimed(out: Path) -> dict[str, Any] | None:
    for name in (MARKER, "sweep.json"):
        try:
            found = json.loads((out / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(found, dict) and "study_name" in found:
            return {"study_name": found["study_name"], "storage": found.get("storage"),
                    "legacy": name != MARKER}
    return None


def check_directory(out: Path, study_name: str, storage: str) -> None:
    """Refuse a study other than the one ``out`` holds (``storage``: ``storage_identity``)."""
    claimed = _claimed(out)
    if claimed is None:
        return
    same = claimed["study_name"] == study_name and (claimed["legacy"] or
                                                    claimed["storage"] == storage)
    if not same:
        name, where = claimed["study_name"], claimed["storage"]
        flag = "" if claimed["legacy"] or where == DEFAULT_STORAGE else f" --storage {where}"
        raise ValueError(f"{out} holds the sweep of study {name!r} ({where}); another study "
                         f"there would overwrite its trials/ and best/: give another --out, or "
                         f"--study-name {name}{flag} to continue it")


def claim_directory(out: Path, study_name: str, storage: str) -> None:
    """Record that ``out`` holds this study (once its checks passed)."""
    if not (out / MARKER).exists():
        write_json(out / MARKER, {"study_name": study_name, "storage": storage})


def _digest(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"path": path, "size": Path(path).stat().st_size, "sha256": sha256}


def input_digests(problem: Problem) -> dict[str, dict[str, Any]]:
    """Setting -> path, size and SHA-256 of every input file there is (not a named data set
    such as ``moleculeace:NAME``)."""
    return {k: _digest(v) for k, v in problem.input_files().items() if Path(v).is_file()}


def check_same_data(study: Any, problem: Problem) -> None:
    """Record the data the study begins with, or refuse other data: other settings, or an
    input file whose contents changed."""
    data, files = {"kind": problem.kind, **problem.same_data()}, input_digests(problem)
    before = study.user_attrs.get("data")
    if before is None:
        study.set_user_attr("data", {**data, "files": files})
        return
    settings = {k: v for k, v in {"kind": "molecules", **before}.items() if k != "files"}
    if settings != data:
        raise ValueError(f"study {study.study_name!r} was run on other data or another split "
                         f"({settings}); start a study on these in another --out (and, "
                         "with --storage, another --study-name)")
    recorded = before.get("files")
    if recorded is None:
        log.warning("study %r was begun before molgraph recorded the contents of its inputs, "
                    "so it cannot tell whether its input files changed since: recording them "
                    "now", study.study_name)
        study.set_user_attr("data", {**before, "files": files})
        return
    for setting, was in recorded.items():
        now = files.get(setting)
        if now is not None and (now["size"], now["sha256"]) != (was["size"], was["sha256"]):
            raise ValueError(f"{now['path']} ({setting}) changed since study "
                             f"{study.study_name!r} began: its trials were scored on the file "
                             "as it was, and new ones would mix with them; restore the file, "
                             "or start a study on it in another --out (and, with --storage, "
                             "another --study-name)")
