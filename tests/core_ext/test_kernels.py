"""The compiled kernels equal their pure-Python twin on random inputs, and the twin is right.

Marked ``core``: ``make test`` runs these once more with SIM_NO_EXT=1.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_ext
from core_ext import _sched_py

pytestmark = pytest.mark.core

try:
    from core_ext import _sched  # the compiled module, built by `make install`
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _sched = None

needs_compiled = pytest.mark.skipif(
    _sched is None and os.environ.get("SIM_REQUIRE_EXT") != "1", reason="compiled core not built (SIM_NO_EXT)"
)


def test_backend_follows_environment() -> None:
    if os.environ.get("SIM_NO_EXT") == "1":
        assert core_ext.BACKEND == "python"
    if os.environ.get("SIM_REQUIRE_EXT") == "1":
        assert core_ext.BACKEND == "cython"
    assert core_ext.BACKEND in ("cython", "python")


def _sessions(seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    requested = rng.uniform(0.0, 80.0, n)
    return {
        "max_power_kw": rng.choice([3.7, 7.4, 11.0, 22.0], n) * rng.uniform(0.5, 1.0, n),
        "efficiency": rng.uniform(0.85, 1.0, n),
        "energy_requested_kwh": requested,
        "energy_delivered_kwh": requested * rng.uniform(0.0, 1.05, n),
        "battery_kwh": rng.uniform(20.0, 100.0, n),
        "soc_arrival": rng.uniform(0.0, 0.5, n),
    }


def _acceptance(module, s: dict[str, np.ndarray], taper: int, transition: float, dt_h: float) -> np.ndarray:
    out = np.full(len(s["max_power_kw"]), np.nan)
    module.acceptance_kw(s["max_power_kw"], s["efficiency"], s["energy_requested_kwh"], s["energy_delivered_kwh"],
                         s["battery_kwh"], s["soc_arrival"], taper, transition,
                         np.full(len(out), dt_h), out)
    return out


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), taper=st.sampled_from([0, 1]),
       transition=st.floats(0.0, 0.99), dt_h=st.floats(1e-4, 2.0))
def test_acceptance_compiled_equals_twin(seed: int, n: int, taper: int, transition: float, dt_h: float) -> None:
    s = _sessions(seed, n)
    np.testing.assert_allclose(_acceptance(_sched, s, taper, transition, dt_h),
                               _acceptance(_sched_py, s, taper, transition, dt_h), rtol=1e-12, atol=1e-9)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), dt_h=st.floats(0.0, 2.0))
def test_advance_compiled_equals_twin(seed: int, n: int, dt_h: float) -> None:
    rng = np.random.default_rng(seed)
    p_kw, eff, e0 = rng.uniform(0, 22, n), rng.uniform(0.8, 1, n), rng.uniform(0, 50, n)
    a, b = e0.copy(), e0.copy()
    _sched.advance_energy(p_kw, eff, dt_h, a)
    _sched_py.advance_energy(p_kw, eff, dt_h, b)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module", [m for m in (_sched, _sched_py) if m is not None])
def test_acceptance_by_hand(module) -> None:
    s = {
        "max_power_kw": np.array([11.0, 11.0, 11.0, 11.0]),
        "efficiency": np.array([1.0, 0.9, 1.0, 1.0]),
        "energy_requested_kwh": np.array([20.0, 20.0, 1.0, 20.0]),
        "energy_delivered_kwh": np.array([0.0, 0.0, 0.0, 0.0]),
        "battery_kwh": np.array([50.0, 50.0, 50.0, 50.0]),
        "soc_arrival": np.array([0.2, 0.2, 0.2, 0.9]),
    }
    ideal = _acceptance(module, s, taper=0, transition=0.8, dt_h=0.25)
    # full AC power; efficiency does not change the grid-side limit; 1 kWh over 15 min caps at 4 kW grid side
    np.testing.assert_allclose(ideal, [11.0, 11.0, 4.0, 11.0])
    taper = _acceptance(module, s, taper=1, transition=0.8, dt_h=0.25)
    # soc 0.9 is half way from the transition (0.8) to full: half the battery-side power
    np.testing.assert_allclose(taper, [11.0, 11.0, 4.0, 5.5])
