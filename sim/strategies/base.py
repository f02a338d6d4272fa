"""The strategy protocol: a pure, synchronous function of a frozen ``SiteView``.

A strategy is created from parameters (``from_params``) and computes ``Setpoints`` (current per
phase for every charger) from a ``SiteView``. It holds no reference to the simulator or to a live
connection, so the same object runs in the simpy engine and in the live OCPP server alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from sim.domain import Setpoints, SiteView
from sim.errors import StrategyError


@runtime_checkable
class Strategy(Protocol):
    """What the engine (and later the live controller) needs from a strategy.

    Optional attribute ``needs_grid_state``: a strategy that never reads ``view.grid`` sets it to
    False, and the engine may then solve the load flows of a run after the fact, in blocks (much
    faster, same results). Without it the engine assumes the strategy reads the grid state and runs
    the load flow at every tick.
    """

    name: str

    def compute(self, view: SiteView) -> Setpoints: ...


def reject_unknown_params(strategy_name: str, params: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Raise a StrategyError for any parameter the strategy does not take."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise StrategyError(
            f"strategy '{strategy_name}': unknown parameter(s) {', '.join(repr(u) for u in unknown)}; "
            f"valid parameters: {valid}",
            param=unknown[0],
        )
