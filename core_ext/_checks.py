"""Input checks of the allocation kernels' twin (the compiled module makes the same checks in C).

The kernels run with bounds checking off, so a bad index would read or write outside an array: every
shape, index and value the loops rely on is checked first, and a ``ValueError`` names the kernel, the
array, the position and the bad value, and says what is valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

MIN_STEP_A = 1e-6  # a current step below this is no step: use 0 (continuous)


def _first(bad: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(bad)[0])


def _fail(kernel: str, message: str) -> None:
    raise ValueError(f"{kernel}: {message}")


def _check_lengths(kernel: str, n: int, arrays: dict[str, Any]) -> None:
    for name, arr in arrays.items():
        if len(arr) != n:
            _fail(kernel, f"{name} has {len(arr)} entries; expected {n} (one per session, like upper_a)")


def check_problem(kernel: str, order: NDArray[np.int64], upper_a: NDArray[np.float64], lower_a: NDArray[np.float64],
                  indptr: NDArray[np.int64], indices: NDArray[np.int64], coef: NDArray[np.float64],
                  limit: NDArray[np.float64], out_name: str, out: NDArray[np.float64]) -> None:
    """Shapes, CSC structure (rows in range and distinct within a column), coefficients > 0, finite
    bounds, limits not NaN, ``order`` a permutation of 0..n-1."""
    n, m = len(upper_a), len(limit)
    _check_lengths(kernel, n, {"lower_a": lower_a, "order": order, out_name: out})
    if len(indptr) != n + 1:
        _fail(kernel, f"indptr has {len(indptr)} entries; expected n + 1 = {n + 1}")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices) or len(coef) != len(indices):
        _fail(kernel, f"indptr must rise from 0 to len(indices) = {len(indices)} (= len(coef) = {len(coef)}); "
                      f"got indptr[0] = {indptr[0]}, indptr[-1] = {indptr[-1]}")
    if np.any((indices < 0) | (indices >= m)):
        j = _first((indices < 0) | (indices >= m))
        _fail(kernel, f"indices[{j}] = {indices[j]} is not a row (limit has {m} rows: 0..{m - 1})")
    if not np.all(coef > 0.0) or not np.all(np.isfinite(coef)):
        j = _first(~((coef > 0.0) & np.isfinite(coef)))
        _fail(kernel, f"coef[{j}] = {coef[j]} must be a finite number > 0")
    col = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    keys = np.sort(col * max(m, 1) + indices)
    if np.any(keys[1:] == keys[:-1]):
        dup = int(keys[1:][keys[1:] == keys[:-1]][0])
        _fail(kernel, f"column {dup // max(m, 1)} lists row {dup % max(m, 1)} twice (rows of a column must be distinct)")
    for name, arr in (("upper_a", upper_a), ("lower_a", lower_a)):
        if not np.all(np.isfinite(arr)):
            j = _first(~np.isfinite(arr))
            _fail(kernel, f"{name}[{j}] = {arr[j]} is not a finite current")
    if np.any(np.isnan(limit)):
        _fail(kernel, f"limit[{_first(np.isnan(limit))}] is NaN (a limit must be a number; +inf means none)")
    if out_name == "io_a" and np.any(np.isnan(out)):  # an IN/OUT array; a pure OUT array may hold anything
        _fail(kernel, f"io_a[{_first(np.isnan(out))}] is NaN (a current must be a number)")
    _check_permutation(kernel, order, n)


def _check_permutation(kernel: str, order: NDArray[np.int64], n: int) -> None:
    if np.any((order < 0) | (order >= n)):
        j = _first((order < 0) | (order >= n))
        _fail(kernel, f"order[{j}] = {order[j]} is not a session (valid: 0..{n - 1})")
    counts = np.bincount(order, minlength=n)
    if np.any(counts != 1):
        _fail(kernel, f"order lists session {_first(counts > 1)} twice (it must be a permutation of 0..{n - 1})")


def check_grid(kernel: str, n: int, step_a: NDArray[np.float64], allowed_indptr: NDArray[np.int64],
               allowed_a: NDArray[np.float64]) -> None:
    """Steps 0 or >= MIN_STEP_A (finite); allowed sets: finite, >= 0, ascending, ``allowed_indptr`` rising."""
    _check_lengths(kernel, n, {"step_a": step_a})
    if len(allowed_indptr) != n + 1:
        _fail(kernel, f"allowed_indptr has {len(allowed_indptr)} entries; expected n + 1 = {n + 1}")
    bad = ~np.isfinite(step_a) | ((step_a != 0.0) & ~(step_a >= MIN_STEP_A))
    if np.any(bad):
        j = _first(bad)
        _fail(kernel, f"step_a[{j}] = {step_a[j]} must be 0 (continuous) or a finite step >= {MIN_STEP_A} A")
    if (allowed_indptr[0] != 0 or np.any(np.diff(allowed_indptr) < 0)
            or allowed_indptr[-1] != len(allowed_a)):
        _fail(kernel, f"allowed_indptr must rise from 0 to len(allowed_a) = {len(allowed_a)}")
    bad = ~np.isfinite(allowed_a) | (allowed_a < 0.0)
    if np.any(bad):
        j = _first(bad)
        _fail(kernel, f"allowed_a[{j}] = {allowed_a[j]} must be a finite current >= 0")
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(allowed_indptr))
    bad = (np.diff(allowed_a) < 0.0) & (owner[1:] == owner[:-1])
    if np.any(bad):
        k = int(owner[_first(bad)])
        grid = allowed_a[allowed_indptr[k] : allowed_indptr[k + 1]]
        _fail(kernel, f"the allowed currents of session {k} are not ascending: {grid.tolist()}")
