"""Pure-Python/numpy twin of the engine kernels of ``core_ext._sched``: their executable specification.

The engine runs three steps at every allocation or event, on the arrays of the plugged-in sessions
(a handful to a few dozen entries, where the fixed cost of each numpy call dominates, hence one
compiled kernel per step):

- ``session_limits``: what each session accepts until the next tick (``acceptance_kw`` over the
  interval up to the next tick or its departure, at least 1e-9 s) and, from it, the most current per
  phase it takes now (``min(accept_kw * 1000 / w_per_a, charger_max_a)``: ``SiteView``'s
  ``max_current_a``);
- ``session_power_kw``: the power each session draws from its charger's setpoint: the offer
  (``current_a * phases * v_ln_v / 1000``) clipped to what the vehicle accepts;
- ``advance_sessions``: ``advance_energy`` into a new array, written back to every session's total
  and each charger's energy of the tick (``p_kw * dt_h``).

Same arithmetic, same order of operations as the compiled kernels (``np.minimum`` / ``np.maximum``
semantics: a NaN wins). Inputs are checked where a bad value would index outside an array; a
``ValueError`` names the kernel, the array, the position and the bad value.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def _check_lengths(kernel: str, n: int, arrays: dict[str, NDArray[np.generic]]) -> None:
    for name, arr in arrays.items():
        if len(arr) != n:
            raise ValueError(f"{kernel}: {name} has {len(arr)} entries; expected {n} (one per session)")


def _check_index(kernel: str, name: str, index: I64, size: int, what: str) -> None:
    bad = np.flatnonzero((index < 0) | (index >= size))
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"{kernel}: {name}[{j}] = {index[j]} is not {what} (valid: 0..{size - 1})")


def session_limits(
    max_power_kw: F64,  # IN  grid-side AC limit per session (charger and vehicle), kW
    efficiency: F64,  # IN  charger efficiency per session (0..1]
    energy_requested_kwh: F64,  # IN  energy the vehicle asks for (vehicle side)
    energy_delivered_kwh: F64,  # IN  energy already in the vehicle
    battery_kwh: F64,  # IN  battery capacity
    soc_arrival: F64,  # IN  state of charge at plug-in (0..1)
    departure_s: F64,  # IN  departure time, s
    w_per_a: F64,  # IN  grid-side W per A per phase of the session's charger (phases * v_ln_v)
    charger_max_a: F64,  # IN  the session's charger's maximum current per phase, A
    taper: int,  # IN  1: two-stage taper battery, 0: ideal battery
    transition_soc: float,  # IN  where the taper starts
    t_s: float,  # IN  now, s
    next_tick_s: float,  # IN  the start of the next control tick, s
    out_kw: F64,  # OUT grid-side power each session accepts until the next tick (or departure), kW
    out_max_a: F64,  # OUT the most current per phase each session takes now, A
) -> None:
    """``acceptance_kw`` over each session's interval, and the current per phase that power is."""
    from core_ext._sched_py import acceptance_kw

    n = len(max_power_kw)
    _check_lengths("session_limits", n, {
        "efficiency": efficiency, "energy_requested_kwh": energy_requested_kwh,
        "energy_delivered_kwh": energy_delivered_kwh, "battery_kwh": battery_kwh, "soc_arrival": soc_arrival,
        "departure_s": departure_s, "w_per_a": w_per_a, "charger_max_a": charger_max_a, "out_kw": out_kw,
        "out_max_a": out_max_a})
    until_s = np.minimum(departure_s, next_tick_s)
    dt_h = np.maximum(until_s - t_s, 1e-9) / 3600.0
    acceptance_kw(max_power_kw, efficiency, energy_requested_kwh, energy_delivered_kwh, battery_kwh, soc_arrival,
                  taper, transition_soc, dt_h, out_kw)
    out_max_a[:] = np.minimum(out_kw * 1000.0 / w_per_a, charger_max_a)


def session_power_kw(
    current_a: F64,  # IN  setpoint per charger (all chargers of the site), A
    charger_index: I64,  # IN  each session's charger (position in current_a)
    phases: I64,  # IN  each session's charger's phases
    v_ln_v: F64,  # IN  each session's charger's line-to-neutral voltage, V
    accept_kw: F64,  # IN  what each session accepts, kW
    out_kw: F64,  # OUT grid-side power each session draws, kW
) -> None:
    """The offer of each session's charger, ``current_a * phases * v_ln_v / 1000``, clipped to ``accept_kw``."""
    n = len(charger_index)
    _check_lengths("session_power_kw", n, {"phases": phases, "v_ln_v": v_ln_v, "accept_kw": accept_kw,
                                           "out_kw": out_kw})
    _check_index("session_power_kw", "charger_index", charger_index, len(current_a), "a charger of current_a")
    out_kw[:] = np.minimum(current_a[charger_index] * phases * v_ln_v / 1000.0, accept_kw)


def advance_sessions(
    p_kw: F64,  # IN  grid-side power per session over the interval, kW
    efficiency: F64,  # IN  charger efficiency per session
    dt_h: float,  # IN  interval length, h
    delivered_kwh: F64,  # IN  energy in each vehicle before the interval
    out_delivered_kwh: F64,  # OUT energy in each vehicle after it (a new array: views keep the old one)
    session_index: I64,  # IN  each session's position in all_delivered_kwh
    all_delivered_kwh: F64,  # IN/OUT every session's energy: the plugged-in ones' entries are set
    charger_index: I64,  # IN  each session's charger (position in tick_energy_kwh)
    tick_energy_kwh: F64,  # IN/OUT grid-side energy per charger this tick: p_kw * dt_h added
) -> None:
    """``out = delivered + p_kw * efficiency * dt_h`` (``advance_energy``), copied to ``all_delivered_kwh``,
    and each charger's grid-side energy advanced by ``p_kw * dt_h``."""
    n = len(p_kw)
    _check_lengths("advance_sessions", n, {"efficiency": efficiency, "delivered_kwh": delivered_kwh,
                                           "out_delivered_kwh": out_delivered_kwh, "session_index": session_index,
                                           "charger_index": charger_index})
    _check_index("advance_sessions", "session_index", session_index, len(all_delivered_kwh),
                 "a session of all_delivered_kwh")
    _check_index("advance_sessions", "charger_index", charger_index, len(tick_energy_kwh),
                 "a charger of tick_energy_kwh")
    out_delivered_kwh[:] = delivered_kwh + p_kw * efficiency * dt_h
    all_delivered_kwh[session_index] = out_delivered_kwh
    np.add.at(tick_energy_kwh, charger_index, p_kw * dt_h)  # in session order, as the loop adds
