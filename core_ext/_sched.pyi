"""Typed signatures shared by the compiled kernels and their pure-Python twin."""

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

def acceptance_kw(
    max_power_kw: F64,
    efficiency: F64,
    energy_requested_kwh: F64,
    energy_delivered_kwh: F64,
    battery_kwh: F64,
    soc_arrival: F64,
    taper: int,
    transition_soc: float,
    dt_h: F64,
    out_kw: F64,
) -> None: ...
def advance_energy(p_kw: F64, efficiency: F64, dt_h: float, energy_delivered_kwh: F64) -> None: ...
def priority_allocate(
    order: NDArray[np.int64],
    upper_a: F64,
    lower_a: F64,
    indptr: NDArray[np.int64],
    indices: NDArray[np.int64],
    coef: F64,
    limit: F64,
    out_a: F64,
) -> None: ...
def waterfill(
    order: NDArray[np.int64],
    upper_a: F64,
    lower_a: F64,
    indptr: NDArray[np.int64],
    indices: NDArray[np.int64],
    coef: F64,
    limit: F64,
    out_a: F64,
) -> None: ...
def quantize(
    order: NDArray[np.int64],
    upper_a: F64,
    lower_a: F64,
    step_a: F64,
    allowed_indptr: NDArray[np.int64],
    allowed_a: F64,
    indptr: NDArray[np.int64],
    indices: NDArray[np.int64],
    coef: F64,
    limit: F64,
    io_a: F64,
) -> None: ...
def pilot_currents(
    draw_a: F64,
    upper_a: F64,
    charger_index: NDArray[np.int64],
    min_a: F64,
    max_a: F64,
    step_a: F64,
    allowed_indptr: NDArray[np.int64],
    allowed_a: F64,
    current_a: F64,
) -> None: ...
def check_currents(current_a: F64, min_a: F64, max_a: F64, out_a: F64) -> int: ...
def deadline_threshold(
    start_s: F64,
    end_s: F64,
    base_kw: F64,
    time_s: float,
    departure_s: F64,
    need_kwh: F64,
    max_kw: F64,
    target_kw: float,
    upper_kw: float,
    tol_kw: float,
) -> float: ...
def session_limits(
    max_power_kw: F64,
    efficiency: F64,
    energy_requested_kwh: F64,
    energy_delivered_kwh: F64,
    battery_kwh: F64,
    soc_arrival: F64,
    departure_s: F64,
    w_per_a: F64,
    charger_max_a: F64,
    taper: int,
    transition_soc: float,
    t_s: float,
    next_tick_s: float,
    out_kw: F64,
    out_max_a: F64,
) -> None: ...
def session_power_kw(
    current_a: F64,
    charger_index: NDArray[np.int64],
    phases: NDArray[np.int64],
    v_ln_v: F64,
    accept_kw: F64,
    out_kw: F64,
) -> None: ...
def advance_sessions(
    p_kw: F64,
    efficiency: F64,
    dt_h: float,
    delivered_kwh: F64,
    out_delivered_kwh: F64,
    session_index: NDArray[np.int64],
    all_delivered_kwh: F64,
    charger_index: NDArray[np.int64],
    tick_energy_kwh: F64,
) -> None: ...
