"""The search for the largest EV count that passes, for one strategy and one seed (no runs here).

Assumption: *monotonicity*. If the feeder passes with ``n`` EVs it passes with fewer (the EVs of a
smaller count are a subset of a larger count's, with the same sessions: see ``sim.study.hosting``).
Then the passing counts are ``0 .. c`` and the hosting capacity is ``c``: the count just below the
first failing one. The search brackets it without a grid:

1. *exponential*: counts 1, 2, 4, 8, ... (the last capped at ``max_count``) until one fails;
2. *bisection*: between the largest passing and the smallest failing count, until they are adjacent.

Count 0 (no EVs) is run only when count 1 fails; if it fails too the capacity is 0 and the feeder
breaks its limits without any EV (``fails_without_evs``). When several counts can run at once
(idle workers), ``next_counts(n)`` proposes ``n`` counts that split the bracket evenly (or the next
``n`` doublings); the answer is the same for a monotone feeder, found in fewer rounds.

Evaluated counts that contradict the assumption (a pass above a fail) are kept: the capacity is then
the largest passing count below the smallest failing one, and ``monotone`` is false.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CountSearch:
    """The bracket of one (strategy, seed): every evaluated count -> passes, within 0..``max_count``."""

    max_count: int
    passed: dict[int, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_count < 1:
            raise ValueError(f"max_count must be at least 1; got {self.max_count}")

    def record(self, count: int, passes: bool) -> None:
        if not 0 <= count <= self.max_count:
            raise ValueError(f"count {count} outside 0..{self.max_count}")
        self.passed[int(count)] = bool(passes)

    @property
    def first_fail(self) -> int:
        """The smallest failing count (``max_count + 1`` while none failed)."""
        return min((c for c, ok in self.passed.items() if not ok), default=self.max_count + 1)

    @property
    def last_pass(self) -> int:
        """The largest passing count below ``first_fail`` (-1 while none is known)."""
        hi = self.first_fail
        return max((c for c, ok in self.passed.items() if ok and c < hi), default=-1)

    @property
    def done(self) -> bool:
        return self.first_fail - self.last_pass == 1

    @property
    def capacity(self) -> int:
        """The hosting capacity once ``done``: the largest count that passes (0 if none does)."""
        if not self.done:
            raise ValueError("the search is not finished")
        return max(self.last_pass, 0)

    @property
    def fails_without_evs(self) -> bool:
        return self.passed.get(0) is False

    @property
    def monotone(self) -> bool:
        """False when a count above the first failing one passed (the assumption does not hold)."""
        return not any(ok and c > self.first_fail for c, ok in self.passed.items())

    def next_counts(self, n: int = 1) -> list[int]:
        """Up to ``n`` counts not yet evaluated that narrow the bracket (empty when ``done``)."""
        if self.done:
            return []
        lo, hi = self.last_pass, self.first_fail
        if hi > self.max_count:  # no failure yet: double from the largest pass
            counts: list[int] = []
            c = max(lo, 0)
            while len(counts) < n and c < self.max_count:
                c = min(max(2 * c, 1), self.max_count)
                counts.append(c)
        else:  # split the open interval (lo, hi) into n + 1 even parts
            counts = [lo + round((hi - lo) * j / (n + 1)) for j in range(1, n + 1)]
        fresh = sorted({c for c in counts if lo < c < hi and c not in self.passed})
        return fresh or [lo + (hi - lo) // 2]
