"""GridState with per-phase results (an unbalanced load flow): every voltage band check sees every phase."""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import GridState


def _state(vm_phase: np.ndarray | None) -> GridState:
    vm = np.array([1.0, 0.97, np.nan]) if vm_phase is None else np.min(vm_phase, axis=1)
    return GridState(time_s=0.0, vm_pu=vm, line_loading_percent=np.zeros(1), trafo_loading_percent=np.zeros(1),
                     p_import_kw=0.0, q_import_kvar=0.0, losses_kw=0.0, vm_phase_pu=vm_phase)


def test_balanced_state_is_unchanged() -> None:
    state = _state(None)
    assert state.vm_min_pu == pytest.approx(0.97) and state.vm_max_pu == pytest.approx(1.0)
    low, high = state.vm_headroom_pu(0.95, 1.05)
    np.testing.assert_allclose(low, [0.05, 0.02, np.nan])
    np.testing.assert_allclose(high, [0.05, 0.08, np.nan])


def test_phase_values_drive_the_extremes_and_headroom() -> None:
    phases = np.array([[1.0, 1.0, 1.0], [0.93, 1.08, 1.01], [np.nan, np.nan, np.nan]])
    state = _state(phases)
    assert state.vm_pu[1] == pytest.approx(0.93)  # the lowest phase of each bus
    assert state.vm_min_pu == pytest.approx(0.93)
    assert state.vm_max_pu == pytest.approx(1.08)  # a phase the lowest-phase vm_pu does not show
    low, high = state.vm_headroom_pu(0.95, 1.05)
    np.testing.assert_allclose(low, [0.05, -0.02, np.nan])
    np.testing.assert_allclose(high, [0.05, -0.03, np.nan])


def test_all_isolated_buses_give_nan_extremes() -> None:
    state = _state(np.full((2, 3), np.nan))
    assert np.isnan(state.vm_min_pu) and np.isnan(state.vm_max_pu)
