"""The progress line of a sweep: runs done / failed / left, the rate and an estimate of time left.

On a terminal it redraws one line after every run; elsewhere (logs, CI) it prints a line at each
tenth of the runs and at least every ``log_every_s`` seconds. The estimate is the time per finished
run of this call (all workers together) times the runs left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from sim.study.runs import STATUS_FAILED


def format_duration_s(seconds: float) -> str:
    """``"45 s"``, ``"9.0 min"``, ``"2.5 h"``."""
    if seconds != seconds:  # nan: nothing finished yet
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class SweepProgress:
    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24, log_every_s: float = 30.0) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.log_every_s = log_every_s
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.done = 0
        self.failed = 0
        self._last_tenth = -1
        self._last_line_s = self.started
        self._width_shown = 0

    def update(self, row: Mapping[str, Any]) -> None:
        """Count one finished run (``row['status']``) and show the line when it is due."""
        self.done += 1
        self.failed += row.get("status") == STATUS_FAILED
        now = time.perf_counter()
        tenth = (10 * self.done) // max(self.total, 1)
        if self.tty or tenth != self._last_tenth or now - self._last_line_s >= self.log_every_s or self.done == self.total:
            self._last_tenth = tenth
            self._last_line_s = now
            self._show(now - self.started)

    def line(self, elapsed_s: float) -> str:
        left = self.total - self.done
        filled = int(round(self.width * self.done / max(self.total, 1)))
        per_run_s = elapsed_s / self.done if self.done else float("nan")
        rate = f"{60.0 / per_run_s:.1f} runs/min" if self.done and per_run_s > 0 else "- runs/min"
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} runs done, "
                f"{self.failed} failed, {left} left; {rate}, ~{format_duration_s(per_run_s * left)} left")

    def _show(self, elapsed_s: float) -> None:
        text = self.line(elapsed_s)
        if self.tty:  # pad over the end of a longer previous line
            text, self._width_shown = text.ljust(self._width_shown), max(self._width_shown, len(text))
        self.stream.write(("\r" + text) if self.tty else (text + "\n"))
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        """End a redrawn line that did not reach the total (an interruption)."""
        if self.tty and 0 < self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()
