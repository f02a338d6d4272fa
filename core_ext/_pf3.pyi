"""Typed signatures shared by the compiled unbalanced load-flow kernels and their pure numpy twin.

Layouts: sequence voltages (3, 2, n, T), per-phase injections (2, 3 n, T), split complex (real first)."""

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

class Sequences:
    n: int
    def __init__(self, rhs_row: I64, sol_row: I64, v0: F64) -> None: ...
    def currents(self, v: F64, s: F64, rhs: F64) -> None: ...
    def update(
        self, y: F64, s: F64, v: F64, rhs: F64, last: F64, iterations: I64, k: int, tolerance_pu: float
    ) -> int: ...

def phase_voltages(v: F64, bus_pos: I64, vm: F64, vuf: F64, v0m: F64) -> None: ...
def branch_phase_flows(
    from_bus: I64,
    to_bus: I64,
    y: F64,
    scale_from: F64,
    scale_to: F64,
    peak_scale: F64,
    v: F64,
    value: F64,
    peak: F64,
    losses: F64,
    rows: I64,
) -> None: ...
def slack_phase_power(v: F64, current: F64, ref_bus: I64, out: F64) -> None: ...
