"""The engine's per-event kernels (``session_limits``, ``session_power_kw``, ``advance_sessions``): the
compiled ones equal their pure-Python twin (``core_ext._engine_py``) to the last bit on random inputs,
the twin equals the numpy steps it replaced, and bad input names the array.

Marked ``core``: ``make test`` runs these once more with SIM_NO_EXT=1.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_ext import _engine_py, _sched_py

pytestmark = pytest.mark.core

try:
    from core_ext import _sched  # the compiled module, built by `make install`
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _sched = None

needs_compiled = pytest.mark.skipif(
    _sched is None and os.environ.get("SIM_REQUIRE_EXT") != "1", reason="compiled core not built (SIM_NO_EXT)"
)
MODULES = [m for m in (_sched, _sched_py) if m is not None]


def _sessions(seed: int, n: int) -> dict[str, np.ndarray]:
    """Random plugged-in sessions; some already full, some leaving before the next tick."""
    rng = np.random.default_rng(seed)
    requested = rng.uniform(0.0, 80.0, n)
    phases = rng.choice([1, 3], n)
    return {
        "max_power_kw": rng.choice([3.7, 7.4, 11.0, 22.0], n) * rng.uniform(0.5, 1.0, n),
        "efficiency": rng.uniform(0.85, 1.0, n),
        "energy_requested_kwh": requested,
        "energy_delivered_kwh": requested * rng.uniform(0.0, 1.05, n),
        "battery_kwh": rng.uniform(20.0, 100.0, n),
        "soc_arrival": rng.uniform(0.0, 0.5, n),
        "departure_s": rng.uniform(0.0, 2000.0, n),
        "w_per_a": phases * 230.0,
        "charger_max_a": rng.choice([16.0, 32.0], n),
    }


def _limits(module: ModuleType, s: dict[str, np.ndarray], taper: int, transition: float, t_s: float,
            next_tick_s: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(s["max_power_kw"])
    out_kw, out_max_a = np.full(n, np.nan), np.full(n, np.nan)
    module.session_limits(s["max_power_kw"], s["efficiency"], s["energy_requested_kwh"], s["energy_delivered_kwh"],
                          s["battery_kwh"], s["soc_arrival"], s["departure_s"], s["w_per_a"], s["charger_max_a"],
                          taper, transition, t_s, next_tick_s, out_kw, out_max_a)
    return out_kw, out_max_a


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), taper=st.sampled_from([0, 1]),
       transition=st.floats(0.0, 1.0), t_s=st.floats(0.0, 1800.0))
def test_session_limits_compiled_equals_twin(seed: int, n: int, taper: int, transition: float, t_s: float) -> None:
    s = _sessions(seed, n)
    for got, want in zip(_limits(_sched, s, taper, transition, t_s, 900.0 * (t_s // 900.0 + 1.0)),
                         _limits(_sched_py, s, taper, transition, t_s, 900.0 * (t_s // 900.0 + 1.0)), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("module", MODULES)
def test_session_limits_are_acceptance_over_each_interval(module: ModuleType) -> None:
    """The steps the engine took before the kernel: interval to the next tick or departure (at least
    1e-9 s), ``acceptance_kw`` over it, and that power as current per phase, at most the charger's."""
    s = _sessions(7, 40)
    t_s, next_tick_s = 1000.0, 1800.0
    dt_h = np.maximum(np.minimum(s["departure_s"], next_tick_s) - t_s, 1e-9) / 3600.0
    want_kw = np.empty(40)
    _sched_py.acceptance_kw(s["max_power_kw"], s["efficiency"], s["energy_requested_kwh"], s["energy_delivered_kwh"],
                            s["battery_kwh"], s["soc_arrival"], 1, 0.8, dt_h, want_kw)
    got_kw, got_a = _limits(module, s, 1, 0.8, t_s, next_tick_s)
    np.testing.assert_allclose(got_kw, want_kw, rtol=1e-15, atol=0.0)
    np.testing.assert_allclose(got_a, np.minimum(want_kw * 1000.0 / s["w_per_a"], s["charger_max_a"]), rtol=1e-15)
    assert np.all(got_a <= s["charger_max_a"])


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_chargers=st.integers(1, 60), data=st.data())
def test_session_power_compiled_equals_twin(seed: int, n_chargers: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(0, n_chargers))
    charger_index = rng.permutation(n_chargers)[:n].astype(np.int64)
    current_a = rng.choice([0.0, 6.0, 16.0, 32.0], n_chargers) * rng.uniform(0.5, 1.0, n_chargers)
    phases = rng.choice([1, 3], n).astype(np.int64)
    v_ln_v, accept_kw = rng.uniform(220.0, 240.0, n), rng.uniform(0.0, 22.0, n)
    got, want = np.full(n, np.nan), np.full(n, np.nan)
    _sched.session_power_kw(current_a, charger_index, phases, v_ln_v, accept_kw, got)
    _sched_py.session_power_kw(current_a, charger_index, phases, v_ln_v, accept_kw, want)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, np.minimum(current_a[charger_index] * phases * v_ln_v / 1000.0, accept_kw))


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_sessions=st.integers(1, 80), n_chargers=st.integers(1, 30),
       dt_h=st.floats(0.0, 2.0), data=st.data())
def test_advance_sessions_compiled_equals_twin(seed: int, n_sessions: int, n_chargers: int, dt_h: float,
                                                data: st.DataObject) -> None:
    """Chargers may repeat (each adds its power, in session order), sessions may not."""
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(0, n_sessions))
    session_index = rng.permutation(n_sessions)[:n].astype(np.int64)
    charger_index = rng.integers(0, n_chargers, n).astype(np.int64)
    p_kw, eff, delivered = rng.uniform(0, 22, n), rng.uniform(0.8, 1, n), rng.uniform(0, 50, n)
    all0, tick0 = rng.uniform(0, 50, n_sessions), rng.uniform(0, 5, n_chargers)
    results = []
    for module in (_sched, _sched_py):
        out, all_kwh, tick_kwh = np.full(n, np.nan), all0.copy(), tick0.copy()
        module.advance_sessions(p_kw, eff, dt_h, delivered, out, session_index, all_kwh, charger_index, tick_kwh)
        results.append((out, all_kwh, tick_kwh))
    for got, want in zip(*results, strict=True):
        np.testing.assert_array_equal(got, want)
    out, all_kwh, _ = results[1]
    want_out = delivered.copy()
    _sched_py.advance_energy(p_kw, eff, dt_h, want_out)  # the kernel the engine called before
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(all_kwh[session_index], out)


@pytest.mark.parametrize("module", MODULES)
def test_engine_kernels_name_bad_input(module: ModuleType) -> None:
    s = _sessions(3, 4)
    bad = dict(s, departure_s=np.zeros(3))
    with pytest.raises(ValueError, match=r"session_limits: departure_s has 3 entries; expected 4"):
        _limits(module, bad, 1, 0.8, 0.0, 900.0)
    out = np.empty(2)
    with pytest.raises(ValueError, match=r"session_power_kw: charger_index\[1\] = 5 is not a charger of current_a"):
        module.session_power_kw(np.zeros(3), np.array([0, 5]), np.array([3, 3]), np.full(2, 230.0), np.ones(2), out)
    with pytest.raises(ValueError, match=r"advance_sessions: charger_index\[0\] = -1 is not a charger"):
        module.advance_sessions(np.ones(1), np.ones(1), 0.1, np.zeros(1), np.empty(1), np.array([0]), np.zeros(2),
                                np.array([-1]), np.zeros(2))
    with pytest.raises(ValueError, match=r"advance_sessions: session_index\[0\] = 2 is not a session"):
        module.advance_sessions(np.ones(1), np.ones(1), 0.1, np.zeros(1), np.empty(1), np.array([2]), np.zeros(2),
                                np.array([0]), np.zeros(2))


def test_twin_module_is_the_specification() -> None:
    """``_sched_py`` exports the engine kernels of ``_engine_py`` (what ``core_ext`` picks without the build)."""
    for name in ("session_limits", "session_power_kw", "advance_sessions"):
        assert getattr(_sched_py, name) is getattr(_engine_py, name)


@needs_compiled
def test_compiled_engine_kernels_name_a_bad_array() -> None:
    """The compiled kernels take their arrays by pointer: type, dtype, layout and writability are checked."""
    n, i64 = np.zeros(0), np.zeros(0, dtype=np.int64)
    with pytest.raises(ValueError, match="session_power_kw: current_a is a list; expected a numpy array"):
        _sched.session_power_kw([1.0], i64, i64, n, n, np.zeros(0))
    with pytest.raises(ValueError, match="session_power_kw: charger_index has dtype int32; expected int64"):
        _sched.session_power_kw(np.zeros(2), np.zeros(1, dtype=np.int32), np.ones(1, dtype=np.int64), np.zeros(1),
                                np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="session_power_kw: v_ln_v must be a 1-D contiguous array"):
        _sched.session_power_kw(np.zeros(2), np.zeros(2, dtype=np.int64), np.ones(2, dtype=np.int64),
                                np.full(4, 230.0)[::2], np.zeros(2), np.zeros(2))
    frozen = np.zeros(1)
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match="session_power_kw: out_kw is read-only; it is an output"):
        _sched.session_power_kw(np.zeros(2), np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64), np.zeros(1),
                                np.zeros(1), frozen)
