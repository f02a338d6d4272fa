"""Pure-Python/numpy twin of ``core_ext._sched``: the executable specification of every kernel.

Conventions (shared with the Cython module): arrays are contiguous float64 (int64 for indices);
inputs are marked IN, outputs OUT; the caller allocates every output; nothing is returned.
The allocation kernels (``priority_allocate``, ``waterfill``, ``quantize``) live in ``_alloc_py``, the
setpoint kernels (``pilot_currents``, ``check_currents``) in ``_setpoints_py``, ``peak_shaving``'s
threshold search (``deadline_threshold``) in ``_threshold_py``, the engine's per-event steps
(``session_limits``, ``session_power_kw``, ``advance_sessions``) in ``_engine_py``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from core_ext._alloc_py import priority_allocate, quantize, waterfill
from core_ext._engine_py import advance_sessions, session_limits, session_power_kw
from core_ext._setpoints_py import check_currents, pilot_currents
from core_ext._threshold_py import deadline_threshold

__all__ = ["acceptance_kw", "advance_energy", "advance_sessions", "check_currents", "deadline_threshold",
           "pilot_currents", "priority_allocate", "quantize", "session_limits", "session_power_kw", "waterfill"]

F64 = NDArray[np.float64]


def acceptance_kw(
    max_power_kw: F64,  # IN  grid-side AC limit per session (charger and vehicle), kW
    efficiency: F64,  # IN  charger efficiency per session (0..1]
    energy_requested_kwh: F64,  # IN  energy the vehicle asks for (vehicle side)
    energy_delivered_kwh: F64,  # IN  energy already in the vehicle
    battery_kwh: F64,  # IN  battery capacity
    soc_arrival: F64,  # IN  state of charge at plug-in (0..1)
    taper: int,  # IN  1: two-stage taper battery, 0: ideal battery
    transition_soc: float,  # IN  where the taper starts
    dt_h: F64,  # IN  per session: the coming interval (h), up to the next tick or its departure
    out_kw: F64,  # OUT grid-side power each session can draw for the interval, kW
) -> None:
    """The most grid-side power each session accepts for its next ``dt_h`` hours.

    ``dt_h`` is per session because a session leaving before the next tick may take its remaining
    demand over the shorter time it has left.

    Battery-side acceptance is the AC limit times efficiency, reduced linearly above
    ``transition_soc`` when ``taper`` is set, and never more than the remaining demand spread
    over the interval. The result is converted back to the grid side (divided by efficiency).
    """
    remaining_kwh = np.maximum(energy_requested_kwh - energy_delivered_kwh, 0.0)
    p_batt_kw = max_power_kw * efficiency
    if taper:
        soc = soc_arrival + energy_delivered_kwh / battery_kwh
        span = 1.0 - transition_soc
        if span > 0.0:
            frac = np.clip((1.0 - soc) / span, 0.0, 1.0)
        else:
            frac = (soc < 1.0).astype(float)
        p_batt_kw = p_batt_kw * frac
    p_batt_kw = np.minimum(p_batt_kw, remaining_kwh / dt_h)
    out_kw[:] = p_batt_kw / efficiency


def advance_energy(
    p_kw: F64,  # IN  grid-side power per session over the interval, kW
    efficiency: F64,  # IN  charger efficiency per session
    dt_h: float,  # IN  interval length, h
    energy_delivered_kwh: F64,  # IN/OUT energy in the vehicle, advanced in place
) -> None:
    """Advance every session's delivered energy by ``p_kw * efficiency * dt_h``."""
    energy_delivered_kwh += p_kw * efficiency * dt_h
