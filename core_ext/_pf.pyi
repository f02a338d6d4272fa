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

def spmv(indptr: I64, indices: I64, data: F64, v: F64, out: F64) -> None: ...
def branch_flows(
    from_bus: I64, to_bus: I64, y: F64, scale_from: F64, scale_to: F64, v: F64, loading: F64, losses: F64
) -> None: ...
def magnitude(v: F64, bus_pos: I64, out: F64) -> None: ...
