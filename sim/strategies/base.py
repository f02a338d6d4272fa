"""The strategy protocol: a pure, synchronous function of a frozen ``SiteView``.

A strategy is created from parameters (``from_params``) and computes ``Setpoints`` (current per
phase for every charger) from a ``SiteView``. It holds no reference to the simulator or to a live
connection, so the same object runs in the simpy engine and in the live OCPP server alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

import core_ext
from sim.domain import ChargerTable, Setpoints, SiteView
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


def check_setpoints(strategy: Strategy, setpoints: Setpoints, chargers: ChargerTable, t_s: float) -> NDArray[np.float64]:
    """Setpoints must be one finite current per charger: 0, or within [min, max] of that charger.

    Returns them clipped into [min, max] where they were within the kernels' tolerance outside it.
    The engine and the live controller both check every decision with it.
    """
    name = getattr(strategy, "name", type(strategy).__name__)
    if not isinstance(setpoints, Setpoints):
        raise StrategyError(f"strategy '{name}' returned {type(setpoints).__name__}, not Setpoints (t = {t_s:g} s)")
    current_a = np.asarray(setpoints.current_a, dtype=float)
    if current_a.shape != (len(chargers),):
        raise StrategyError(
            f"strategy '{name}' returned {current_a.shape} setpoints at t = {t_s:g} s; expected one per charger ({len(chargers)})"
        )
    current_a = np.ascontiguousarray(current_a)
    clipped_a = np.empty(len(chargers))
    i = core_ext.check_currents(current_a, chargers.min_current_a, chargers.max_current_a, clipped_a)
    if i >= 0:
        raise StrategyError(
            f"strategy '{name}' set charger '{chargers.ids[i]}' to {float(current_a[i]):g} A at t = {t_s:g} s; "
            f"valid: 0 or between {chargers.min_current_a[i]:g} and {chargers.max_current_a[i]:g} A"
        )
    return clipped_a
