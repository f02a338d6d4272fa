"""Typed signatures shared by the compiled fast load-flow kernels and their pure numpy/scipy twin.

Split complex: shape (2, n, T) (or (2, n) for per-bus constants), real parts in ``[0]``."""

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

class FixedPoint:
    n: int
    def __init__(
        self,
        l_indptr: I64,
        l_indices: I64,
        l_data: F64,
        u_indptr: I64,
        u_indices: I64,
        u_data: F64,
        u_diag_inv: F64,
        rhs_row: I64,
        sol_row: I64,
        v0: F64,
    ) -> None: ...
    def lu_solve(self, x: F64) -> None: ...
    def injection(self, v: F64, s: F64, rhs: F64) -> None: ...
    def update(self, y: F64, s: F64, v: F64, rhs: F64, dv2: F64) -> None: ...
    def iterate(
        self,
        v: F64,
        s: F64,
        last: F64,
        iterations: I64,
        first: int,
        max_iter: int,
        tolerance_pu: float,
        stop_left: int = 0,
    ) -> int: ...

class Injector:
    n_rows: int
    n_p: int
    n_q: int
    def __init__(self, const: F64, p_rows: I64, p_coef: F64, q_rows: I64, q_coef: F64) -> None: ...
    def fill(self, p: F64, q: F64, out: F64, finite: NDArray[np.uint8] | None = None) -> None: ...

def spmv(indptr: I64, indices: I64, data: F64, v: F64, out: F64, offset: F64 | None = None) -> None: ...
def slack_power(indptr: I64, indices: I64, data: F64, ref_bus: I64, v: F64, own: F64, out: F64) -> None: ...
def branch_flows(
    from_bus: I64,
    to_bus: I64,
    y: F64,
    scale_from: F64,
    scale_to: F64,
    v: F64,
    loading: F64,
    losses: F64,
    rows: I64 | None = None,
) -> None: ...
def magnitude(v: F64, bus_pos: I64, out: F64) -> None: ...
