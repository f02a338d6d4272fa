"""What the allocation kernels promise, checked on random sites (both backends, in every run).

- feasibility: ``A @ out <= limit`` (+1e-7) for every row with a non-negative limit, and every session
  touching a row with a negative limit gets 0; ``0 <= out <= upper``; ``out`` is 0 or >= the effective
  minimum ``min(lower, upper)``;
- Pareto efficiency (continuous): a session below its upper touches a row with no room left (slack
  <= 1e-7 per unit of its coefficient), or it is paused because its minimum does not fit a row;
- priority (the property ``priority_allocate`` guarantees, proven by its loop): a session below its
  upper either (out > 0) is stopped by a row that it and the sessions *ahead* of it fill, and then no
  session *behind* it on that row gets current; or (out = 0) its minimum does not fit a row given only
  the sessions ahead of it. So a lower-priority session never takes current a higher one could use;
- waterfill: the served set is the greedy one in ``order`` (by minimums), and max-min fairness in its
  bottleneck form: every served session below its upper has a saturated row on which every session has
  at most its current, or sits at its own minimum (a minimum can lift a session above the level);
- quantize: every current on its grid (set or step multiples, 0 allowed), never below the rounded-down
  input, still feasible, and after top-up no discrete session can go one grid value up without
  breaking a row or its upper.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_ext import _sched_py
from tests.core_ext.alloc_sites import Case, allocate, quantized, random_case

try:
    from core_ext import _sched
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _sched = None

pytestmark = pytest.mark.core
MODULES = [m for m in (_sched, _sched_py) if m is not None]
CASES = {"seed": st.integers(0, 2**32 - 1), "n": st.integers(0, 30)}
EPS = 1e-7


def assert_feasible(case: Case, out: np.ndarray) -> None:
    up, emin = case.bounds()
    assert np.all(out >= 0.0) and np.all(out <= up + 1e-9)
    assert np.all((out == 0.0) | (out >= emin - EPS)), "a current between 0 and the minimum"
    load, ok = case.load(out), case.limit >= 0.0
    assert np.all(load[ok] <= case.limit[ok] + EPS), "a limit is broken"
    on_negative = (case.limit < 0.0)[case.indices]
    assert np.all(np.repeat(out, np.diff(case.indptr))[on_negative] == 0.0), "current on a row that is already over"


def assert_pareto(case: Case, out: np.ndarray) -> None:
    up, emin = case.bounds()
    slack = case.limit - case.load(out)
    for k in np.flatnonzero(out < up - EPS):
        rows, c = case.rows(int(k))
        assert len(rows), f"session {k} has no limit but stays below its upper"
        room = np.min(slack[rows] / c)
        assert room <= EPS or (out[k] == 0.0 and room < emin[k] + EPS), f"session {k} could take more"


def assert_priority(case: Case, out: np.ndarray) -> None:
    up, emin = case.bounds()
    position = np.empty(case.n, dtype=np.int64)
    position[case.order] = np.arange(case.n)
    col = np.repeat(np.arange(case.n), np.diff(case.indptr))
    prefix = np.zeros(len(case.limit))
    for k in case.order:
        rows, c = case.rows(int(k))
        before = (case.limit[rows] - prefix[rows]) / c
        prefix[rows] += c * out[k]
        if out[k] >= up[k] - EPS:
            continue
        if out[k] == 0.0:
            assert np.min(before) < emin[k] + EPS, f"session {k} paused though its minimum fits"
            continue
        after = (case.limit[rows] - prefix[rows]) / c
        r = rows[np.argmin(after)]
        assert np.min(after) <= EPS, f"session {k} stopped below its upper with room left"
        behind = col[(case.indices == r) & (position[col] > position[k])]
        assert np.all(out[behind] <= 1e-6), f"sessions behind {k} take current on its binding row {r}"


def assert_served_greedily(case: Case, out: np.ndarray) -> None:
    up, emin = case.bounds()
    used = np.zeros(len(case.limit))
    for k in case.order:
        rows, c = case.rows(int(k))
        fits = not len(rows) or bool(np.min((case.limit[rows] - used[rows]) / c) >= emin[k] - 1e-9)
        if emin[k] > 0.0:
            assert (out[k] > 0.0) == fits, f"session {k}: served {out[k] > 0.0}, minimum fits {fits}"
        if fits:
            used[rows] += c * emin[k]


def assert_max_min_fair(case: Case, out: np.ndarray) -> None:
    up, emin = case.bounds()
    slack = case.limit - case.load(out)
    col = np.repeat(np.arange(case.n), np.diff(case.indptr))
    for i in np.flatnonzero((out < up - EPS) & ((out > 0.0) | (emin == 0.0))):
        rows, c = case.rows(int(i))
        bottleneck = False
        for r, c_r in zip(rows, c, strict=True):
            members = col[case.indices == r]
            if slack[r] / c_r <= EPS and np.all((out[members] <= out[i] + EPS) | (out[members] <= emin[members] + EPS)):
                bottleneck = True
        assert bottleneck, f"session {i} at {out[i]} has no bottleneck row"


def _next_grid_value(case: Case, k: int, v: float, emin: float) -> float:
    grid, step = case.allowed(k), case.step_a[k]
    if len(grid):
        above = grid[(grid > v + 1e-9) & (grid >= emin - 1e-9)]
        return float(above[0]) if len(above) else np.inf
    nxt = (np.floor(v / step + 1e-6) + 1.0) * step
    return float(nxt if nxt >= emin - 1e-9 else np.ceil(emin / step - 1e-6) * step)


def _rounded_down(case: Case, k: int, x: float, up: float, emin: float) -> float:
    grid, step, x = case.allowed(k), case.step_a[k], min(max(x, 0.0), up)
    if len(grid):
        below = grid[grid <= x + 1e-9]
        value = float(below[-1]) if len(below) else 0.0
    else:
        value = float(np.floor((x + 1e-9) / step) * step) if step > 0 else x  # within 1e-9 A counts as on it
    return value if value >= emin - 1e-9 else 0.0


def assert_quantized(case: Case, before: np.ndarray, after: np.ndarray) -> None:
    up, emin = case.bounds()
    assert_feasible(case, after)
    slack = case.limit - case.load(after)
    for k in range(case.n):
        grid, step, v = case.allowed(k), case.step_a[k], after[k]
        if len(grid):
            assert v == 0.0 or np.min(np.abs(grid - v)) <= 1e-9, f"session {k}: {v} not in {grid}"
        elif step > 0.0:
            assert abs(v / step - round(v / step)) * step <= 1e-9, f"session {k}: {v} not a multiple of {step}"
        else:
            assert v == before[k], f"continuous session {k} changed"
            continue
        assert v >= _rounded_down(case, k, float(before[k]), up[k], emin[k]) - 1e-9, f"session {k} rounded too far"
        nxt = _next_grid_value(case, k, float(v), float(emin[k]))
        rows, c = case.rows(k)
        blocked = nxt > up[k] - EPS or (len(rows) and np.min(slack[rows] / c) < nxt - v + EPS)
        assert blocked, f"session {k} could still go up from {v} to {nxt}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(**CASES)
def test_priority_is_feasible_pareto_and_respects_the_order(module: object, seed: int, n: int) -> None:
    case = random_case(seed, n)
    out = allocate(module.priority_allocate, case)  # type: ignore[attr-defined]
    assert_feasible(case, out)
    assert_pareto(case, out)
    assert_priority(case, out)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(**CASES)
def test_waterfill_is_feasible_pareto_and_max_min_fair(module: object, seed: int, n: int) -> None:
    case = random_case(seed, n)
    out = allocate(module.waterfill, case)  # type: ignore[attr-defined]
    assert_feasible(case, out)
    assert_pareto(case, out)
    assert_served_greedily(case, out)
    assert_max_min_fair(case, out)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(**CASES, kernel=st.sampled_from(["waterfill", "priority_allocate"]))
def test_quantize_stays_on_grid_feasible_and_topped_up(module: object, seed: int, n: int, kernel: str) -> None:
    case = random_case(seed, n)
    before = allocate(getattr(module, kernel), case)
    assert_quantized(case, before, quantized(module, case, before))


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_properties_hold_on_a_large_site(module: object) -> None:
    case = random_case(11, 400)
    for kernel in ("priority_allocate", "waterfill"):
        out = allocate(getattr(module, kernel), case)
        assert_feasible(case, out)
        assert_pareto(case, out)
        assert_quantized(case, out, quantized(module, case, out))
    assert_max_min_fair(case, allocate(module.waterfill, case))  # type: ignore[attr-defined]
