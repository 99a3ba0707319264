"""Progress of long jobs: a tqdm bar (rate and ETA) on a terminal, sparse log lines elsewhere.

In logs and CI a bar redrawn many times a second is noise, so when stderr is not a terminal the
same numbers go to the log at most once every ``log_every`` seconds.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """``H:MM:SS``, e.g. ``0:01:05``."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


_duration = duration  # its earlier name


def wants_bar(enabled: bool | None = None) -> bool:
    """``enabled`` itself, or with ``None`` whether stderr is a terminal: a tqdm bar there,
    plain log lines in logs and CI."""
    return sys.stderr.isatty() if enabled is None else bool(enabled)


class Progress:
    """Counts items done out of an optional total.

    Args:
        total: expected number of items (``None`` when unknown: no ETA).
        desc: what is being done, e.g. ``"screening"``.
        enabled: ``True`` for a tqdm bar, ``False`` for log lines; ``None`` picks the bar when
            stderr is a terminal.
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
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True,
                             dynamic_ncols=True, smoothing=0.1)

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
            text += f", ETA {_duration(max(0, self.total - self.done) / rate)}"
        return text

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
