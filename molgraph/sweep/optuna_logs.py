"""What Optuna itself prints while a sweep runs: the sweep's trials bar or progress line
already says how each trial ended, and ``sweep.json`` why one failed, so Optuna's INFO line
per trial and its traceback of every failed (or interrupted) trial are shown only with
``molgraph -v`` (Optuna's logger at DEBUG). Applied where trials run: the sweep's process and
each worker process, which starts with Optuna's defaults. No Optuna import here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager


class _HideTrialFailures(logging.Filter):
    """Optuna's warning with the traceback of every failed trial (and of an interrupted one):
    the reason is in sweep.json and the progress line already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not re.match(r"Trial \d+ failed with ", record.getMessage())


@contextmanager
def optuna_logs(level: int) -> Iterator[None]:
    """Optuna's own INFO line per trial off (the trials bar or progress line says the same)
    and its traceback of each failed trial hidden, unless Optuna's logger was at ``level``
    DEBUG where the sweep started (``molgraph -v``)."""
    logger, optimize = logging.getLogger("optuna"), logging.getLogger("optuna.study._optimize")
    before, verbose = logger.level, logging.NOTSET < level <= logging.DEBUG
    logger.setLevel(logging.WARNING if level == logging.INFO else level)
    hide = None if verbose else _HideTrialFailures()
    if hide is not None:
        optimize.addFilter(hide)
    try:
        yield
    finally:
        logger.setLevel(before)
        if hide is not None:
            optimize.removeFilter(hide)
