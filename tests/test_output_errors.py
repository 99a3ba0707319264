"""An output that cannot be written is named: a full disk or a device that takes no bytes
(``/dev/full``) used to end in "[Errno 28] No space left on device" without the path, after
the work was done."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from screen_helpers import tiny_models

from molgraph.cli.main import main
from molgraph.runtime.files import atomic_path, check_writable, write_json

DATA = Path(__file__).parent / "data"
FULL = Path("/dev/full")
needs_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_names_the_file_being_written(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "write_text", _disk_full)
    with pytest.raises(OSError) as err:
        write_json(tmp_path / "metrics.json", {"a": 1})
    assert str(err.value) == (f"{tmp_path / 'metrics.json'}: cannot write it: No space left on "
                              "device; free some space, or write it elsewhere")
    assert err.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone


def test_an_error_of_another_file_is_left_as_it_is(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "out.json"):
        (tmp_path / "missing.txt").read_text()


@needs_full
def test_a_device_that_takes_no_bytes_is_found_before_the_work():
    with pytest.raises(ValueError, match="/dev/full: cannot write the output there: No space"):
        check_writable(FULL)
    check_writable("/dev/null")


@needs_full
def test_predict_to_dev_full_names_it(tmp_path_factory, capsys):
    model = tiny_models(tmp_path_factory.getbasetemp())[0]  # shared with the other test files
    assert main(["predict", "--model", str(model), "--data", str(DATA / "esol_120.csv"),
                 "--out", str(FULL)]) == 2
    err = capsys.readouterr().err
    assert "/dev/full" in err and "No space left" in err and "Traceback" not in err


def test_the_named_error_keeps_its_class(tmp_path):
    with pytest.raises(PermissionError, match="out.json: cannot write it: denied; write it"):
        with atomic_path(tmp_path / "out.json"):
            raise PermissionError(errno.EACCES, "denied")
