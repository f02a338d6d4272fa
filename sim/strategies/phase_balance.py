"""``phase_balance``: an option of the allocating strategies that keeps the phases of the site even.

**The rule.** At the site's connection point phase ``p`` carries ``I_p = S_p + T + B_p``: ``S_p`` the
current drawn by the single-phase sessions wired to ``p``, ``T`` the current per phase of the
three-phase chargers (the same on all three), ``B_p`` the base load. The view knows the base load as a
total only, so it is taken as balanced; the phase imbalance ``max_p I_p - min_p I_p`` is then
``max_p S_p - min_p S_p``, and with ``phase_balance = true`` every allocation keeps it at most
``max_phase_imbalance_a``. The default, 20 A, is the 4.6 kVA at 230 V that the German connection rules
(VDE-AR-N 4100) allow between the phases of one connection. Three-phase chargers never change it, so a
site of three-phase chargers only allocates exactly as without the option.

**How.** The limit becomes three more rows of ``A @ current_a <= b``, one per phase, coefficient 1 for
each single-phase session on it, all with the same limit ``cap_a`` ("no phase's single-phase current
above ``cap_a``"); every kernel honours them like a fuse. ``cap_a`` is found per decision
(``PhaseBalance.search``):

1. allocate without the rows; within the limit, that is the result (where the limit does not bind,
   nothing changes, so no energy is lost);
2. else ``cap_a`` = the least-loaded phase's current + the limit: the heavier phases give up what is
   above it. Headroom this frees in limits shared by several phases (kVA rows, the import limit,
   sub-circuits) goes to the sessions on the lighter phases, so the least-loaded phase may rise; the
   cap is raised after it while the result stays within the limit (at most ``MAX_ROUNDS`` rounds).
   If the least-loaded phase fell instead (shared limits, minimum currents), the cap is lowered after it;
3. if no round kept the limit, ``cap_a`` = the limit itself, which always keeps it (every phase's
   single-phase current between 0 and the limit).

On a site whose limits are per phase (fuses) with continuous currents, step 2 gives each heavier phase
the least of its demand, its fuse and the least-loaded phase + the limit: the most the imbalance limit
allows in total (the tests compare it with a linear program). Within a phase the strategy's own order
(arrival, deadline, laxity) still decides who is served.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.domain import ChargerTable, SiteView
from sim.domain.constraints import phase_matrix
from sim.errors import StrategyError
from sim.strategies import params as p

F64 = NDArray[np.float64]

PARAMS = ("phase_balance", "max_phase_imbalance_a")
DEFAULT_MAX_IMBALANCE_A = 20.0  # VDE-AR-N 4100: 4.6 kVA between phases, / 230 V
MAX_ROUNDS = 4
_TOL_A = 1e-6


@dataclass(frozen=True)
class PhaseBalance:
    """The phase-imbalance limit of one strategy (module docstring): ``max_imbalance_a`` in A, >= 0."""

    max_imbalance_a: float = DEFAULT_MAX_IMBALANCE_A

    def __post_init__(self) -> None:
        value = self.max_imbalance_a
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise StrategyError(f"phase balance: max_phase_imbalance_a = {value!r} is not valid; "
                                "expected a number >= 0 (A)", param="max_phase_imbalance_a")

    @classmethod
    def from_params(cls, strategy: str, params: Mapping[str, Any]) -> PhaseBalance | None:
        """The option from a strategy's parameters: None unless ``phase_balance = true``."""
        on = p.flag(strategy, params, "phase_balance", False)
        if not on:
            if "max_phase_imbalance_a" in params:
                raise StrategyError(f"strategy '{strategy}': parameter 'max_phase_imbalance_a' = "
                                    f"{params['max_phase_imbalance_a']!r} applies only with phase_balance = true",
                                    param="max_phase_imbalance_a")
            return None
        return cls(p.number(strategy, params, "max_phase_imbalance_a", DEFAULT_MAX_IMBALANCE_A, minimum=0.0))

    def session_rows(self, view: SiteView) -> F64:
        """3 x sessions: 1 where a session's charger is single-phase on that phase (rows L1, L2, L3)."""
        return _single_phase.of(view.chargers)[:, view.sessions.charger_index]

    def search(self, rows: F64, run: Callable[[float | None], F64]) -> F64:
        """What each session draws, within the imbalance limit: ``run(cap_a)`` allocates with every phase's
        ``rows @ current_a <= cap_a`` (``None``: without those rows); the search is the module docstring's."""
        limit_a = self.max_imbalance_a
        out_a = run(None)
        loads_a = rows @ out_a
        if not rows.any() or _spread(loads_a) <= limit_a + _TOL_A:
            return out_a
        best_a: F64 | None = None
        cap_a = float(loads_a.min()) + limit_a
        for _ in range(MAX_ROUNDS):
            out_a = run(cap_a)
            loads_a = rows @ out_a
            if _spread(loads_a) <= limit_a + _TOL_A:
                best_a = out_a
                raised_a = float(loads_a.min()) + limit_a
                if raised_a <= cap_a + _TOL_A:
                    return out_a  # the least-loaded phase did not rise: the cap can go no higher
                cap_a = raised_a
            elif best_a is not None:
                return best_a  # raising the cap went too far: keep the last result within the limit
            else:
                cap_a = float(loads_a.min()) + limit_a  # lower than before: the least-loaded phase fell
        return best_a if best_a is not None else run(limit_a)


def phase_imbalance_a(chargers: ChargerTable, current_a: F64) -> float:
    """The phase imbalance (A) of a current per charger: most minus least loaded phase at the connection
    point, three-phase chargers included (they cancel), base load balanced (module docstring)."""
    return _spread(phase_matrix(chargers) @ np.asarray(current_a, dtype=float))


def _spread(loads_a: F64) -> float:
    return float(loads_a.max() - loads_a.min())


class _LastSinglePhase:
    """The single-phase part of ``phase_matrix`` for the last charger table (tables are frozen)."""

    def __init__(self) -> None:
        self._last: tuple[ChargerTable, F64] | None = None

    def of(self, chargers: ChargerTable) -> F64:
        last = self._last
        if last is None or last[0] is not chargers:
            rows = phase_matrix(chargers) * (chargers.phases == 1)[None, :]
            rows.setflags(write=False)
            last = (chargers, rows)
            self._last = last
        return last[1]


_single_phase = _LastSinglePhase()
