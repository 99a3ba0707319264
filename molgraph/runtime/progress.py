"""Progress of long jobs: a tqdm bar (rate and ETA) on a terminal or in Jupyter, sparse log
lines elsewhere.

In logs and CI a bar redrawn many times a second is noise, so when stderr is not a terminal (and
this is no Jupyter kernel) the same numbers go to the log at most once every ``log_every``
seconds. Bars come from ``tqdm.auto``: widgets in Jupyter when ipywidgets is installed, a text
bar otherwise. :func:`step` names a stretch of work that shows no bar of its own, so a silent
minute is never a mystery.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: Molecules above which a step (featurizing, canonical SMILES, a split) is worth announcing:
#: below it each takes about a second.
MANY_MOLECULES = 10_000
#: tqdm's layout with exact counts (its rate still scaled: 3.2kmol/s)
COUNTS_FORMAT = ("{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,} "
                 "[{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]")


def duration(seconds: float) -> str:
    """``H:MM:SS``, e.g. ``0:01:05``."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def in_jupyter() -> bool:
    """Whether this process is a Jupyter (IPython) kernel, whose stderr is no terminal but
    shows bars."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def wants_bar(enabled: bool | None = None) -> bool:
    """``enabled`` itself, or with ``None`` whether stderr is a terminal or this is a Jupyter
    kernel: a tqdm bar there, plain log lines in logs and CI."""
    return sys.stderr.isatty() or in_jupyter() if enabled is None else bool(enabled)


def bar_class() -> Any:
    """``tqdm.auto.tqdm``: a widget in Jupyter with ipywidgets, else a text bar; without
    ipywidgets tqdm's "IProgress not found" warning would print red under the cell."""
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


@contextmanager
def step(what: str, logger: logging.Logger = log, announce: bool = True,
         report_above: float = 0.0) -> Iterator[None]:
    """Log ``"<what> …"`` as a step with no bar of its own starts (when ``announce``) and
    ``"<what>: done in 0:00:16"`` as it ends, when it took ``report_above`` seconds or more."""
    started = time.perf_counter()
    if announce:
        logger.info("%s …", what)
    yield
    seconds = time.perf_counter() - started
    if seconds >= report_above:
        logger.info("%s: done in %s", what, duration(seconds))


class Progress:
    """Counts items done out of an optional total.

    Args:
        total: expected number of items (``None`` when unknown: no ETA).
        desc: what is being done, e.g. ``"screening"``.
        enabled: ``True`` for a tqdm bar, ``False`` for log lines; ``None`` picks the bar when
            stderr is a terminal or in Jupyter.
        log_every: seconds between log lines when there is no bar.
        unit: name of one item.
    """

    def __init__(self, total: int | None, desc: str, enabled: bool | None = None,
                 log_every: float = 30.0, unit: str = "mol") -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.log_every = log_every
        self.done = 0
        self.started = time.perf_counter()
        self._last_log = self.started
        self.resumed = 0  # items done by an earlier run, excluded from the rate
        self._bar = None
        if wants_bar(enabled):
            counts = None if total is None else COUNTS_FORMAT  # 20,000/41,127, not 0.00/41.1k
            self._bar = bar_class()(total=total, desc=desc, unit=unit, unit_scale=True,
                                    dynamic_ncols=True, smoothing=0.1, bar_format=counts)

    def skip(self, n: int) -> None:
        """Count ``n`` items already done by an earlier run (not in the rate)."""
        self.done += n
        self.resumed += n
        if self._bar is not None:
            self._bar.update(n)

    def update(self, n: int) -> None:
        """Count ``n`` items just done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last_log >= self.log_every:
            self._last_log = now
            log.info("%s", self.line())

    @property
    def rate(self) -> float:
        """Items per second in this run."""
        elapsed = time.perf_counter() - self.started
        return (self.done - self.resumed) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        text = f"{self.desc}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,} ({100 * self.done / self.total:.1f}%)"
        text += f" {self.unit}, {rate:,.0f} {self.unit}/s"
        if self.total and rate > 0:
            text += f", ETA {duration(max(0, self.total - self.done) / rate)}"
        return text

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
