"""A plain-text progress bar for long runs: simulated time done / total, elapsed and time left.

Silent for the first ``delay_s`` seconds so short runs print nothing. On a terminal it redraws one
line; elsewhere (logs, CI) it prints a line at each tenth.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total_s: float, label: str = "simulated", stream: TextIO | None = None, delay_s: float = 2.0,
                 width: int = 30) -> None:
        self.total_s = total_s
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay_s = delay_s
        self.width = width
        self.started = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_tenth = -1
        self._shown = False

    def __call__(self, fraction: float) -> None:
        elapsed = time.perf_counter() - self.started
        if elapsed < self.delay_s and fraction < 1.0:
            return
        tenth = int(fraction * 10)
        if not self.tty and tenth == self._last_tenth:
            return
        self._last_tenth = tenth
        self._shown = True
        filled = int(round(fraction * self.width))
        left = elapsed * (1.0 - fraction) / fraction if fraction > 0 else float("nan")
        done_days = fraction * self.total_s / 86400.0
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}%  "
            f"{self.label} {done_days:.2f} of {self.total_s / 86400.0:.2f} days, "
            f"{elapsed:.0f} s elapsed, ~{left:.0f} s left"
        )
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()
