"""Property tests on random sites: every managed strategy is feasible, and the allocations are efficient.

Random limit trees (``build_constraints``), single- and three-phase chargers, steps and allowed sets,
random sessions and forecasts. Marked ``core``: the suite runs again on the pure-Python kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from sim.domain import SiteView
from sim.strategies import BUILTIN, create
from sim.strategies.allocate import kw_per_a
from sim.strategies.peak_shaving import PeakShaving
from sim.strategies.pv_surplus import PvSurplus
from tests.strategies._sites import TOL, check_feasible, drawn_a, site_views, slack

pytestmark = pytest.mark.core

PARAMS = {"peak_shaving": {"target_kw": 10.0}, "pv_surplus": {"min_current_a": 6.0}}
# grid_aware needs a grid state with sensitivities: tests/strategies/test_grid_aware.py
MANAGED = sorted(name for name in BUILTIN if name not in ("uncontrolled", "mpc", "grid_aware"))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", MANAGED)
@FAST
@given(view=site_views())
def test_limits_hold_and_setpoints_are_valid(name: str, view: SiteView) -> None:
    check_feasible(view, create(name, PARAMS.get(name)).compute(view))


@FAST
@given(view=site_views())
def test_uncontrolled_respects_bounds_only(view: SiteView) -> None:
    check_feasible(view, create("uncontrolled").compute(view), limits=False)


@FAST
@given(view=site_views())
def test_peak_shaving_keeps_charging_under_its_threshold(view: SiteView) -> None:
    strategy = PeakShaving(10.0)
    current = drawn_a(view, strategy.compute(view))
    charging_kw = float(view.chargers.power_kw(current).sum())
    assert charging_kw <= max(strategy.threshold_kw(view) - view.base_load_kw, 0.0) + 1e-6
    assert strategy.threshold_kw(view) >= 10.0


@FAST
@given(view=site_views())
def test_pv_surplus_without_guarantee_charges_only_from_surplus(view: SiteView) -> None:
    current = drawn_a(view, PvSurplus(0.0).compute(view))
    assert float(view.chargers.power_kw(current).sum()) <= max(-view.base_load_kw, 0.0) + 1e-6


def _pareto_violations(view: SiteView, current: np.ndarray) -> list[str]:
    """Sessions that could take more without breaking a limit (continuous chargers)."""
    cons = view.constraints
    assert cons is not None
    free = slack(cons, current)
    dense = cons.dense()
    found = []
    for k, c in enumerate(view.sessions.charger_index):
        upper = float(view.sessions.max_current_a[k])
        x = current[c]
        if x >= upper - 1e-6:
            continue
        rows = dense[:, c] > 0
        room = float(np.min(free[rows] / dense[rows, c])) if rows.any() else np.inf
        if x > TOL and room > 1e-6:
            found.append(f"session {k} at {x} A could take {room} A more")
        if x <= TOL and room > min(upper, float(view.chargers.min_current_a[c])) + 1e-6:
            found.append(f"paused session {k} would fit its minimum ({room} A free)")
    return found


@pytest.mark.parametrize("name", ["fcfs", "edf", "llf", "equal_share"])
@FAST
@given(view=site_views(quantised=False))
def test_allocations_are_pareto_efficient(name: str, view: SiteView) -> None:
    current = check_feasible(view, create(name).compute(view))
    assert not _pareto_violations(view, current)


@FAST
@given(view=site_views(quantised=False))
def test_equal_share_is_max_min_fair(view: SiteView) -> None:
    """A session below another one's current is held by a full limit or by what its vehicle takes."""
    current = check_feasible(view, create("equal_share").compute(view))
    cons = view.constraints
    assert cons is not None
    full = slack(cons, current) <= 1e-6
    dense = cons.dense()
    for k, c in enumerate(view.sessions.charger_index):
        x = current[c]
        if x <= TOL or x >= view.sessions.max_current_a[k] - 1e-6:
            continue
        assert np.any(full & (dense[:, c] > 0)), f"session {k} at {x} A is held by nothing"


@FAST
@given(view=site_views(quantised=False))
def test_charging_power_matches_kw_per_ampere(view: SiteView) -> None:
    current = drawn_a(view, create("edf").compute(view))
    ci = view.sessions.charger_index
    expected = float(kw_per_a(view) @ current[ci]) if len(ci) else 0.0
    assert np.isclose(float(view.chargers.power_kw(current).sum()), expected)
