"""The compiled allocation kernels equal their pure-Python twin (to 1e-9) and check inputs alike.

Marked ``core``: ``make test`` runs these once more with SIM_NO_EXT=1 (where the compiled module
may be absent: the comparisons are then skipped, the twin-only checks still run).
"""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from core_ext import _sched_py
from tests.core_ext.alloc_sites import Case, allocate, quantized, random_case

pytestmark = pytest.mark.core

try:
    from core_ext import _sched
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _sched = None

needs_compiled = pytest.mark.skipif(
    _sched is None and os.environ.get("SIM_REQUIRE_EXT") != "1", reason="compiled core not built (SIM_NO_EXT)"
)
MODULES = [m for m in (_sched, _sched_py) if m is not None]
CASES = {"seed": st.integers(0, 2**32 - 1), "n": st.integers(0, 40)}


def _close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=0.0, atol=1e-9)


@needs_compiled
@settings(max_examples=250, deadline=None)
@given(**CASES)
def test_priority_compiled_equals_twin(seed: int, n: int) -> None:
    case = random_case(seed, n)
    _close(allocate(_sched.priority_allocate, case), allocate(_sched_py.priority_allocate, case))


@needs_compiled
@settings(max_examples=250, deadline=None)
@given(**CASES)
def test_waterfill_compiled_equals_twin(seed: int, n: int) -> None:
    case = random_case(seed, n)
    _close(allocate(_sched.waterfill, case), allocate(_sched_py.waterfill, case))


@needs_compiled
@settings(max_examples=250, deadline=None)
@given(**CASES, source=st.sampled_from(["waterfill", "priority", "random"]))
def test_quantize_compiled_equals_twin(seed: int, n: int, source: str) -> None:
    case = random_case(seed, n)
    if source == "random":  # any input, even infeasible or off the bounds: the same answer
        io = np.random.default_rng(seed).uniform(-2.0, 40.0, case.n)
    else:
        io = allocate(_sched.waterfill if source == "waterfill" else _sched.priority_allocate, case)
    _close(quantized(_sched, case, io), quantized(_sched_py, case, io))


@needs_compiled
@pytest.mark.parametrize("seed", [1, 2])
def test_large_sites_compiled_equals_twin(seed: int) -> None:
    case = random_case(seed, 1500)
    for name in ("priority_allocate", "waterfill"):
        _close(allocate(getattr(_sched, name), case), allocate(getattr(_sched_py, name), case))
    io = allocate(_sched.waterfill, case)
    _close(quantized(_sched, case, io), quantized(_sched_py, case, io))


def test_backend_exports_the_allocation_kernels() -> None:
    for name in ("priority_allocate", "waterfill", "quantize"):
        assert getattr(core_ext, name) is getattr(_sched if core_ext.BACKEND == "cython" else _sched_py, name)
        assert name in core_ext.__all__


def test_stale_compiled_module_counts_as_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = types.ModuleType("core_ext._sched")
    stale.acceptance_kw = stale.advance_energy = lambda *a: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "core_ext._sched", stale)
    monkeypatch.setattr(core_ext, "_sched", stale, raising=False)
    monkeypatch.setenv("SIM_REQUIRE_EXT", "1")
    monkeypatch.delenv("SIM_NO_EXT", raising=False)
    from core_ext._select import pick

    with pytest.raises(ImportError, match="stale build without priority_allocate, waterfill, quantize"):
        pick("core_ext._sched", "core_ext._sched_py", core_ext._KERNELS)
    monkeypatch.delenv("SIM_REQUIRE_EXT")
    module, backend = pick("core_ext._sched", "core_ext._sched_py", core_ext._KERNELS)
    assert backend == "python" and module.__name__ == "core_ext._sched_py"


# ---------------------------------------------------------------- bad input: the same clear errors ----

def _base() -> Case:
    case = random_case(7, 6, session_share=1.0)
    assert case.n == 6 and len(case.indices) > 0
    return case


def _with(case: Case, **changes: object) -> Case:
    fields = dict(case.__dict__)
    fields.update(changes)
    return Case(**fields)  # type: ignore[arg-type]


BAD_PROBLEMS = {
    "lower_a has 5 entries": lambda c: _with(c, lower_a=c.lower_a[:5].copy()),
    "indptr has 6 entries": lambda c: _with(c, indptr=c.indptr[:6].copy()),
    "indptr must rise": lambda c: _with(c, indptr=np.r_[c.indptr[:-1], c.indptr[-1] + 1]),
    "indices[0] = 99 is not a row": lambda c: _with(c, indices=np.r_[99, c.indices[1:]].astype(np.int64)),
    "coef[0] = -1.0 must be a finite number > 0": lambda c: _with(c, coef=np.r_[-1.0, c.coef[1:]]),
    "upper_a[2] = nan is not a finite current": lambda c: _with(c, upper_a=np.r_[c.upper_a[:2], np.nan, c.upper_a[3:]]),
    "limit[0] is NaN": lambda c: _with(c, limit=np.r_[np.nan, c.limit[1:]]),
    "order[0] = 6 is not a session": lambda c: _with(c, order=np.r_[6, c.order[1:]].astype(np.int64)),
    "order lists session": lambda c: _with(c, order=np.r_[c.order[1], c.order[1:]].astype(np.int64)),
}


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("message", list(BAD_PROBLEMS))
def test_bad_problem_is_named(module: object, message: str) -> None:
    case = BAD_PROBLEMS[message](_base())
    for name in ("priority_allocate", "waterfill"):
        with pytest.raises(ValueError, match=f"^{name}: .*{message.replace('[', '.').replace(']', '.')}"):
            allocate(getattr(module, name), case)
    with pytest.raises(ValueError, match=f"^quantize: .*{message.replace('[', '.').replace(']', '.')}"):
        quantized(module, case, np.zeros(case.n))


@pytest.mark.parametrize("module", MODULES)
def test_duplicate_row_in_a_column_is_named(module: object) -> None:
    case = _with(_base(), indptr=np.array([0, 2, 2, 2, 2, 2, 2]), indices=np.array([0, 0]), coef=np.ones(2))
    with pytest.raises(ValueError, match="column 0 lists row 0 twice"):
        allocate(module.waterfill, case)  # type: ignore[attr-defined]


BAD_GRIDS = {
    "step_a.3. = 1e-09 must be 0": lambda c: _with(c, step_a=np.r_[c.step_a[:3], 1e-9, c.step_a[4:]]),
    "step_a has 5 entries": lambda c: _with(c, step_a=c.step_a[:5].copy()),
    "allowed_a.0. = -8.0 must be a finite current": lambda c: _with(
        c, allowed_indptr=np.array([0, 2, 2, 2, 2, 2, 2]), allowed_a=np.array([-8.0, 16.0])),
    "allowed currents of session 0 are not ascending: .16.0, 8.0.": lambda c: _with(
        c, allowed_indptr=np.array([0, 2, 2, 2, 2, 2, 2]), allowed_a=np.array([16.0, 8.0])),
    "allowed_indptr must rise": lambda c: _with(c, allowed_indptr=np.array([0, 2, 2, 2, 2, 2, 2]),
                                                allowed_a=np.array([8.0])),
}


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("message", list(BAD_GRIDS))
def test_bad_grid_is_named(module: object, message: str) -> None:
    case = BAD_GRIDS[message](_base())
    with pytest.raises(ValueError, match=f"^quantize: .*{message}"):
        quantized(module, case, np.zeros(case.n))


@pytest.mark.parametrize("module", MODULES)
def test_nan_current_to_quantize_is_named(module: object) -> None:
    case = _base()
    with pytest.raises(ValueError, match=r"io_a\[1\] is NaN"):
        quantized(module, case, np.array([0.0, np.nan, 0, 0, 0, 0]))
