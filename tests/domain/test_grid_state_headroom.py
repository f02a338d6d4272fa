"""``GridState`` headroom: how far each bus, line and transformer is from its limit."""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import GridState


def _state(vm_pu: list[float], line: list[float], trafo: list[float]) -> GridState:
    return GridState(time_s=0.0, vm_pu=np.array(vm_pu), line_loading_percent=np.array(line),
                     trafo_loading_percent=np.array(trafo), p_import_kw=0.0, q_import_kvar=0.0, losses_kw=0.0)


def test_voltage_headroom_per_bus_with_isolated_bus() -> None:
    state = _state([1.0, 0.93, np.nan, 1.12], [], [])
    below, above = state.vm_headroom_pu(0.95, 1.1)
    np.testing.assert_allclose(below, [0.05, -0.02, np.nan, 0.17], equal_nan=True)  # negative: limit broken
    np.testing.assert_allclose(above, [0.1, 0.17, np.nan, -0.02], equal_nan=True)
    assert below.shape == above.shape == (4,)


def test_loading_headroom_default_and_custom_limit() -> None:
    state = _state([1.0], [20.0, 99.5, 130.0, np.nan], [75.0])
    np.testing.assert_allclose(state.line_headroom_percent(), [80.0, 0.5, -30.0, np.nan], equal_nan=True)
    np.testing.assert_allclose(state.line_headroom_percent(80.0), [60.0, -19.5, -50.0, np.nan], equal_nan=True)
    np.testing.assert_allclose(state.trafo_headroom_percent(), [25.0])
    np.testing.assert_allclose(state.trafo_headroom_percent(max_loading_percent=60.0), [-15.0])


def test_headroom_of_a_feeder_without_lines_or_transformers() -> None:
    state = _state([1.0, 0.98], [], [])
    assert state.line_headroom_percent().shape == (0,)
    assert state.trafo_headroom_percent().shape == (0,)


def test_headroom_agrees_with_the_extremes() -> None:
    rng = np.random.default_rng(4)
    state = _state(list(rng.uniform(0.9, 1.05, 30)), list(rng.uniform(0, 120, 20)), list(rng.uniform(0, 90, 2)))
    below, above = state.vm_headroom_pu(0.92, 1.04)
    assert below.min() == pytest.approx(state.vm_min_pu - 0.92)
    assert above.min() == pytest.approx(1.04 - state.vm_max_pu)
    assert state.line_headroom_percent().min() == pytest.approx(100.0 - state.max_line_loading_percent)
    assert state.trafo_headroom_percent(95.0).min() == pytest.approx(95.0 - state.max_trafo_loading_percent)


def test_optional_fields_default_to_none() -> None:
    state = _state([1.0], [], [])
    assert state.va_degree is None and state.charger_p_kw is None and state.sensitivity is None
