"""The setpoint kernels (``pilot_currents``, ``check_currents``) and ``deadline_threshold``: compiled
equals twin on random inputs, hand cases, and bad input named alike.

Marked ``core``: ``make test`` runs these once more with SIM_NO_EXT=1 (the comparisons are then
skipped, the twin-only checks still run).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from core_ext import _sched_py

pytestmark = pytest.mark.core

try:
    from core_ext import _sched
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _sched = None

needs_compiled = pytest.mark.skipif(
    _sched is None and os.environ.get("SIM_REQUIRE_EXT") != "1", reason="compiled core not built (SIM_NO_EXT)"
)
MODULES = [m for m in (_sched, _sched_py) if m is not None]
SET_VALUES_A = np.array([6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 24.0, 32.0])
SEEDS = {"seed": st.integers(0, 2**32 - 1), "n": st.integers(0, 60)}


# --------------------------------------------------------------------------------- random cases ----

def _chargers(rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
    """Per-charger arrays: continuous, stepped or finite-set chargers with random min/max."""
    max_a = rng.choice([10.0, 16.0, 32.0], m)
    min_a = rng.choice([0.0, 6.0, 6.0, 8.0], m)
    kind = rng.integers(0, 3, m)  # 0 continuous, 1 step, 2 set
    step_a = np.where(kind == 1, rng.choice([0.1, 1.0, 2.0], m), 0.0)
    sets = [np.sort(rng.choice(SET_VALUES_A, rng.integers(1, 5), replace=False)) if k == 2 else np.zeros(0)
            for k in kind]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=indptr[1:])
    return {"min_a": min_a, "max_a": max_a, "step_a": step_a, "allowed_indptr": indptr,
            "allowed_a": np.concatenate(sets) if m else np.zeros(0)}


def _sessions(rng: np.random.Generator, n: int, ch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sessions on distinct chargers; draws near the interesting edges (0, the minimum, the upper)."""
    m = len(ch["min_a"])
    ci = rng.permutation(m)[:n].astype(np.int64)
    upper = np.minimum(ch["max_a"][ci], rng.choice([3.0, 7.5, 16.0, 40.0], len(ci)) * rng.uniform(0.5, 1.0, len(ci)))
    edge = rng.integers(0, 5, len(ci))
    draw = np.select([edge == 0, edge == 1, edge == 2, edge == 3],
                     [np.zeros(len(ci)), upper, ch["min_a"][ci] * rng.uniform(0.2, 1.0, len(ci)), rng.uniform(0, 1e-8, len(ci))],
                     rng.uniform(0.0, 1.0, len(ci)) * upper)
    return {"draw_a": draw, "upper_a": upper, "charger_index": ci}


def _pilot(module: Any, s: dict[str, np.ndarray], ch: dict[str, np.ndarray]) -> np.ndarray:
    out = np.full(len(ch["min_a"]), np.nan)
    module.pilot_currents(s["draw_a"], s["upper_a"], s["charger_index"], ch["min_a"], ch["max_a"], ch["step_a"],
                          ch["allowed_indptr"], ch["allowed_a"], out)
    return out


def _check(module: Any, current_a: np.ndarray, ch: dict[str, np.ndarray]) -> tuple[int, np.ndarray]:
    out = np.zeros(len(current_a))
    return module.check_currents(current_a, ch["min_a"], ch["max_a"], out), out


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(**SEEDS)
def test_pilot_currents_compiled_equals_twin(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ch = _chargers(rng, n + int(rng.integers(0, 5)))
    s = _sessions(rng, n, ch)
    np.testing.assert_array_equal(_pilot(_sched, s, ch), _pilot(_sched_py, s, ch))


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(**SEEDS)
def test_check_currents_compiled_equals_twin(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ch = _chargers(rng, n)
    current = rng.uniform(-1.0, 40.0, n)
    current[rng.random(n) < 0.3] = 0.0
    for k in np.flatnonzero(rng.random(n) < 0.05):
        current[k] = rng.choice([np.nan, np.inf, -np.inf, -1e-12, 1e-10])
    bad_c, out_c = _check(_sched, current, ch)
    bad_p, out_p = _check(_sched_py, current, ch)
    assert bad_c == bad_p
    if bad_c < 0:
        np.testing.assert_array_equal(out_c, out_p)


@pytest.mark.parametrize("module", MODULES)
def test_pilot_currents_by_hand(module: Any) -> None:
    """Chargers: continuous 6..32 A, step 1 A 6..16 A, set {8, 16} A (max 16), continuous 0..32 A."""
    ch = {"min_a": np.array([6.0, 6.0, 8.0, 0.0]), "max_a": np.array([32.0, 16.0, 16.0, 32.0]),
          "step_a": np.array([0.0, 1.0, 0.0, 0.0]), "allowed_indptr": np.array([0, 0, 0, 2, 2]),
          "allowed_a": np.array([8.0, 16.0])}
    s = {"draw_a": np.array([4.0, 7.3, 9.0]), "upper_a": np.array([4.0, 7.3, 20.0]),
         "charger_index": np.array([0, 1, 2], dtype=np.int64)}
    # 4 A (all it takes) -> offered the minimum 6 A; 7.3 A (all it takes) -> next step 8 A;
    # 9 A (not all it takes, above the minimum, not an allowed value) stays (quantize's job); no session: 0
    np.testing.assert_allclose(_pilot(module, s, ch), [6.0, 8.0, 9.0, 0.0])
    s["draw_a"], s["upper_a"] = np.array([1e-12, 16.0, 12.0]), np.array([5.0, 16.0, 12.0])
    # ~0 -> 0; 16 A (all it takes, on a step) stays; 12 A (all it takes) -> the next allowed 16 A
    np.testing.assert_allclose(_pilot(module, s, ch), [0.0, 16.0, 16.0, 0.0])


@pytest.mark.parametrize("module", MODULES)
def test_check_currents_by_hand(module: Any) -> None:
    ch = {"min_a": np.array([6.0, 6.0, 6.0]), "max_a": np.array([16.0, 16.0, 16.0])}
    assert _check(module, np.array([0.0, 6.0, 16.0 + 1e-10]), ch) == (-1, pytest.approx([0.0, 6.0, 16.0]))
    assert _check(module, np.array([0.0, 3.0, 16.0]), ch)[0] == 1  # between 0 and the minimum
    assert _check(module, np.array([np.nan, 6.0, 16.0]), ch)[0] == 0
    assert _check(module, np.array([0.0, 6.0, 16.1]), ch)[0] == 2
    assert _check(module, np.array([-0.5, 6.0, 16.0]), ch)[0] == 0


def _pilot_args(**changes: Any) -> list[Any]:
    args: dict[str, Any] = {
        "draw_a": np.zeros(2), "upper_a": np.zeros(2), "charger_index": np.array([0, 1], dtype=np.int64),
        "min_a": np.zeros(3), "max_a": np.ones(3), "step_a": np.zeros(3),
        "allowed_indptr": np.zeros(4, dtype=np.int64), "allowed_a": np.zeros(0), "current_a": np.zeros(3),
    }
    args.update(changes)
    return list(args.values())


BAD_PILOTS: dict[str, dict[str, Any]] = {
    "upper_a and charger_index have 1 and 2 entries": {"upper_a": np.zeros(1)},
    "max_a has 2 entries; expected 3": {"max_a": np.ones(2)},
    "step_a has 4 entries": {"step_a": np.zeros(4)},
    "allowed_indptr has 3 entries; expected n_chargers . 1 = 4": {"allowed_indptr": np.zeros(3, dtype=np.int64)},
    "min_a.1. = nan is not a finite current": {"min_a": np.array([0.0, np.nan, 0.0])},
    "allowed_indptr must rise": {"allowed_indptr": np.array([0, 1, 1, 1], dtype=np.int64)},
    "current_a has 2 entries": {"current_a": np.zeros(2)},
    "charger_index.1. = 3 is not a charger .valid: 0..2.": {"charger_index": np.array([0, 3], dtype=np.int64)},
}


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("message", list(BAD_PILOTS))
def test_bad_pilot_input_is_named(module: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^pilot_currents: {message}"):
        module.pilot_currents(*_pilot_args(**BAD_PILOTS[message]))


@pytest.mark.parametrize("module", MODULES)
def test_bad_check_input_is_named(module: Any) -> None:
    with pytest.raises(ValueError, match=r"^check_currents: max_a\[0\] = inf is not a finite current"):
        module.check_currents(np.zeros(2), np.zeros(2), np.array([np.inf, 1.0]), np.zeros(2))
    with pytest.raises(ValueError, match="^check_currents: current_a and out_a have 2 and 1 entries; expected 2"):
        module.check_currents(np.zeros(2), np.zeros(2), np.ones(2), np.zeros(1))


# ------------------------------------------------------------------------------ deadline threshold -

def _threshold_case(seed: int, n: int, ordered_slots: bool) -> dict[str, Any]:
    """Slots as ``strategies.horizon`` makes them (from now on, one step each, a tail), or random ones."""
    rng = np.random.default_rng(seed)
    step_s, n_slots, now = 900.0, int(rng.integers(1, 40)), float(rng.uniform(0, 900))
    if ordered_slots:
        start = np.floor(now / step_s) * step_s + step_s * np.arange(n_slots)
        end = start + step_s
        start[0] = now
    else:
        start = rng.uniform(0, 30000, n_slots)
        end = start + rng.uniform(0, 3000, n_slots)
    return {
        "start_s": start, "end_s": end, "base_kw": rng.uniform(-20, 60, n_slots), "time_s": now,
        "departure_s": now + rng.choice([0.0, 1.0, rng.uniform(0, 40000)], n) * rng.uniform(0, 1, n),
        "need_kwh": rng.uniform(-1.0, 40.0, n), "max_kw": rng.choice([0.0, 3.7, 11.0, 22.0], n),
        "target_kw": float(rng.uniform(0, 80)),
    }


def _threshold(module: Any, case: dict[str, Any], tol_kw: float = 0.01) -> float:
    upper_kw = max(case["target_kw"], float(case["base_kw"].max())) + float(case["max_kw"].sum()) + 1.0
    return float(module.deadline_threshold(case["start_s"], case["end_s"], case["base_kw"], case["time_s"],
                                           case["departure_s"], case["need_kwh"], case["max_kw"], case["target_kw"],
                                           upper_kw, tol_kw))


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 50), ordered_slots=st.booleans())
def test_deadline_threshold_compiled_equals_twin(seed: int, n: int, ordered_slots: bool) -> None:
    case = _threshold_case(seed, n, ordered_slots)
    assert _threshold(_sched, case) == pytest.approx(_threshold(_sched_py, case), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("module", MODULES)
def test_deadline_threshold_by_hand(module: Any) -> None:
    """Base 10 kW; 40 kWh by 4 h at up to 22 kW: the threshold must reach 20 kW (10 kW x 4 h)."""
    case = {"start_s": np.arange(16) * 900.0, "end_s": np.arange(1, 17) * 900.0, "base_kw": np.full(16, 10.0),
            "time_s": 0.0, "departure_s": np.array([4 * 3600.0]), "need_kwh": np.array([40.0]),
            "max_kw": np.array([22.0]), "target_kw": 15.0}
    assert _threshold(module, case) == pytest.approx(20.0, abs=0.01)
    assert _threshold(module, {**case, "target_kw": 25.0}) == 25.0  # enough: kept
    assert _threshold(module, {**case, "need_kwh": np.array([0.0])}) == 15.0


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize(("changes", "message"), [
    ({"end_s": np.zeros(2)}, "end_s has 2 entries; expected 3 .like start_s."),
    ({"max_kw": np.zeros(2)}, "max_kw has 2 entries; expected 1 .like departure_s."),
    ({"base_kw": np.array([0.0, np.nan, 0.0])}, r"base_kw\[1\] = nan is not a finite number"),
    ({"max_kw": np.array([-1.0])}, r"max_kw\[0\] = -1.0 must be >= 0"),
    ({"tol_kw": 0.0}, "tol_kw = 0.0 must be a finite number > 0"),
    ({"target_kw": np.inf}, "target_kw = inf is not a finite number"),
])
def test_bad_threshold_input_is_named(module: Any, changes: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"start_s": np.zeros(3), "end_s": np.ones(3), "base_kw": np.zeros(3), "time_s": 0.0,
                            "departure_s": np.ones(1), "need_kwh": np.ones(1), "max_kw": np.ones(1),
                            "target_kw": 1.0, "upper_kw": 10.0, "tol_kw": 0.01}
    args.update(changes)
    with pytest.raises(ValueError, match=f"^deadline_threshold: {message}"):
        module.deadline_threshold(*args.values())


def test_backend_exports_the_new_kernels() -> None:
    names: list[str] = ["pilot_currents", "check_currents", "deadline_threshold"]
    for name in names:
        fn: Callable[..., Any] = getattr(core_ext, name)
        assert fn is getattr(_sched if core_ext.BACKEND == "cython" else _sched_py, name)
        assert name in core_ext.__all__
