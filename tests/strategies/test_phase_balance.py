"""``phase_balance``: the phase imbalance at the connection point stays within ``max_phase_imbalance_a``.

A site of single-phase chargers spread unevenly over the phases (four on L1, three on L2, one on L3)
runs in a closed loop (``run_ticks``) with each allocating strategy, with and without the option;
every decision of the balanced runs is compared with a linear program (the most the imbalance limit
allows); a three-phase site must not notice the option; a scenario file reaches it; bad values fail
clearly. All deterministic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from scipy.optimize import linprog

import sim
from sim.domain import Charger, ChargerTable, LimitNode, Setpoints, SiteView, build_constraints
from sim.errors import StrategyError
from sim.strategies import EarliestDeadlineFirst, PhaseBalance, create
from sim.strategies.allocate import kw_per_a
from sim.strategies.phase_balance import phase_imbalance_a
from sim.units import V_LN_DEFAULT_V
from tests.strategies._sites import check_feasible, drawn_a, run_ticks, site_views

pytestmark = pytest.mark.core

LIMIT_A = 20.0
PERIOD_S = 900.0
N_TICKS = 32  # 8 h
STRATEGIES: dict[str, dict[str, Any]] = {
    "equal_share": {}, "fcfs": {}, "edf": {}, "llf": {},
    "peak_shaving": {"target_kw": 20.0}, "price_aware": {"rate_factor": 1.0},
}
PHASES = ("L1",) * 4 + ("L2",) * 3 + ("L3",)
# (charger, departure_s, requested_kwh, vehicle_max_a): heavy demand on L1, the L3 car nearly full
PLAN = [(0, 8 * 3600.0, 30.0, 32.0), (1, 7 * 3600.0, 25.0, 32.0), (2, 8 * 3600.0, 20.0, 16.0),
        (3, 6 * 3600.0, 30.0, 32.0), (4, 8 * 3600.0, 12.0, 32.0), (5, 5 * 3600.0, 15.0, 16.0),
        (6, 8 * 3600.0, 10.0, 32.0), (7, 8 * 3600.0, 6.0, 32.0)]
PRICE = np.where(np.arange(N_TICKS) < 16, 0.35, 0.15)


def uneven_site(min_current_a: float = 6.0, three_phase: bool = False) -> tuple[ChargerTable, Any]:
    """Eight 32 A chargers, single-phase as ``PHASES`` (or all three-phase), behind a 63 A fuse per phase."""
    chargers = tuple(Charger(f"cp{k}", 1, 3 if three_phase else 1, "L1L2L3" if three_phase else phase, 32.0,
                             min_current_a, efficiency=1.0) for k, phase in enumerate(PHASES))
    table = ChargerTable(chargers)
    return table, build_constraints(table, [LimitNode("fuse", max_current_a=63.0)])


class Recording:
    """Wraps a strategy and keeps every view it saw and what the vehicles drew."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.views: list[SiteView] = []
        self.drawn_a: list[np.ndarray] = []

    def compute(self, view: SiteView) -> Setpoints:
        setpoints = self.inner.compute(view)
        self.views.append(view)
        self.drawn_a.append(drawn_a(view, setpoints))
        return setpoints


def closed_loop(name: str, on: bool, min_current_a: float = 6.0, three_phase: bool = False,
                limit_a: float = LIMIT_A) -> tuple[Recording, dict[str, np.ndarray]]:
    params = dict(STRATEGIES[name], **({"phase_balance": True, "max_phase_imbalance_a": limit_a} if on else {}))
    table, cons = uneven_site(min_current_a, three_phase)
    strategy = Recording(create(name, params))
    run = run_ticks(strategy, table, cons, PLAN, np.zeros(N_TICKS), price=PRICE, period_s=PERIOD_S)
    return strategy, run


def imbalance_per_tick(run: Recording) -> np.ndarray:
    return np.array([phase_imbalance_a(view.chargers, a) for view, a in zip(run.views, run.drawn_a, strict=True)])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_imbalance_stays_within_the_limit_with_the_option_and_not_without(name: str) -> None:
    off, _ = closed_loop(name, on=False)
    on, run = closed_loop(name, on=True)
    assert imbalance_per_tick(off).max() > LIMIT_A + 1.0
    assert imbalance_per_tick(on).max() <= LIMIT_A + 1e-6
    assert run["delivered_kwh"].sum() > 0.0


def max_total_kw(view: SiteView, limit_a: float | None) -> float:
    """The most charging power any allocation of ``view`` can have within its limits (and an imbalance
    limit between every two phases' single-phase currents, if given): a linear program."""
    ci = view.sessions.charger_index
    assert view.constraints is not None
    a_ub, b_ub = view.constraints.dense()[:, ci], np.array(view.constraints.limit)
    if limit_a is not None:
        rows = PhaseBalance(limit_a).session_rows(view)
        diffs = [rows[p] - rows[q] for p in range(3) for q in range(3) if p != q]
        a_ub, b_ub = np.vstack([a_ub, *diffs]), np.concatenate([b_ub, np.full(len(diffs), limit_a)])
    weights = kw_per_a(view)
    result = linprog(-weights, A_ub=a_ub, b_ub=b_ub, bounds=list(zip(np.zeros(len(ci)), view.sessions.max_current_a,
                                                                           strict=True)), method="highs")
    assert result.status == 0
    return float(-result.fun)


@pytest.mark.parametrize("name", ["equal_share", "fcfs", "edf", "llf"])
def test_every_decision_delivers_the_most_the_limit_allows(name: str) -> None:
    """Continuous chargers without a minimum, per-phase fuses: each balanced decision charges exactly as
    much as the best allocation within the imbalance limit (a linear program), and each decision without
    the option as much as the best without it. So the power given up is what the limit forces."""
    on, run_on = closed_loop(name, on=True, min_current_a=0.0)
    off_strategy = create(name, STRATEGIES[name])
    forced_kwh = 0.0
    for view, current_a in zip(on.views, on.drawn_a, strict=True):
        ci = view.sessions.charger_index
        total_kw = float(kw_per_a(view) @ current_a[ci])
        best_on_kw, best_off_kw = max_total_kw(view, LIMIT_A), max_total_kw(view, None)
        assert total_kw == pytest.approx(best_on_kw, abs=1e-6)
        off_kw = float(kw_per_a(view) @ drawn_a(view, off_strategy.compute(view))[ci])
        assert off_kw == pytest.approx(best_off_kw, abs=1e-6)
        forced_kwh += (best_off_kw - best_on_kw) * PERIOD_S / 3600.0
    _, run_off = closed_loop(name, on=False, min_current_a=0.0)
    energy_on, energy_off = run_on["delivered_kwh"].sum(), run_off["delivered_kwh"].sum()
    print(f"{name}: delivered {energy_off:.2f} kWh without, {energy_on:.2f} kWh with phase_balance; "
          f"the limit forces {forced_kwh:.2f} kWh away along the balanced run")
    assert forced_kwh > 0.0  # the limit binds on this site
    assert energy_on <= energy_off + 1e-6


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_site_of_three_phase_chargers_is_unaffected(name: str) -> None:
    off, run_off = closed_loop(name, on=False, three_phase=True)
    on, run_on = closed_loop(name, on=True, three_phase=True, limit_a=0.0)
    np.testing.assert_array_equal(np.array(on.drawn_a), np.array(off.drawn_a))
    np.testing.assert_array_equal(run_on["delivered_kwh"], run_off["delivered_kwh"])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_where_the_limit_does_not_bind_nothing_changes(name: str) -> None:
    off, _ = closed_loop(name, on=False)
    on, _ = closed_loop(name, on=True, limit_a=63.0)  # no two phases can differ by more than the fuse
    np.testing.assert_array_equal(np.array(on.drawn_a), np.array(off.drawn_a))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(view=site_views())
def test_random_sites_keep_every_limit_and_the_imbalance(name: str, view: SiteView) -> None:
    """Random limit trees (kVA, import and sub-circuit rows shared by several phases), minimum
    currents, steps and allowed sets: the site's limits hold and so does a tight imbalance limit."""
    strategy = create(name, dict(STRATEGIES[name], phase_balance=True, max_phase_imbalance_a=3.0))
    current_a = check_feasible(view, strategy.compute(view))
    assert phase_imbalance_a(view.chargers, current_a) <= 3.0 + 1e-6


@pytest.mark.parametrize(("params", "words"), [
    ({"phase_balance": "yes"}, ["'phase_balance'", "'yes'", "true or false"]),
    ({"phase_balance": 1}, ["'phase_balance'", "1", "true or false"]),
    ({"phase_balance": True, "max_phase_imbalance_a": -5}, ["'max_phase_imbalance_a'", "-5", ">= 0"]),
    ({"phase_balance": True, "max_phase_imbalance_a": "16 A"}, ["'max_phase_imbalance_a'", "'16 A'", ">= 0"]),
    ({"phase_balance": True, "max_phase_imbalance_a": math.inf}, ["'max_phase_imbalance_a'", "inf", ">= 0"]),
    ({"max_phase_imbalance_a": 16}, ["'max_phase_imbalance_a'", "16", "phase_balance = true"]),
    ({"phase_balanse": True}, ["'phase_balanse'", "phase_balance", "max_phase_imbalance_a"]),
])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_bad_values_fail_naming_the_parameter_the_value_and_what_is_valid(name: str, params: dict[str, Any],
                                                                         words: list[str]) -> None:
    with pytest.raises(StrategyError) as error:
        create(name, dict(STRATEGIES[name], **params))
    assert error.value.param in ("phase_balance", "max_phase_imbalance_a", "phase_balanse")
    for word in words:
        assert word in str(error.value)


def test_the_python_object_checks_its_limit_too() -> None:
    with pytest.raises(StrategyError, match=r"max_phase_imbalance_a = -1.0 .*>= 0"):
        PhaseBalance(-1.0)
    assert EarliestDeadlineFirst(PhaseBalance(10.0)).phase_balance == PhaseBalance(10.0)
    assert create("edf", {"phase_balance": True}).phase_balance == PhaseBalance(20.0)  # the default
    assert create("edf", {"phase_balance": False}).phase_balance is None


SCENARIO = """
name = "uneven-phases"
[simulation]
start = "2026-04-13T00:00:00+02:00"
duration = "1d"
control_period_s = 300
seed = 3
[grid]
network = "cigre_lv"
[fleet]
source = "generate"
[fleet.kinds.work]
sessions_per_day = 1.5
arrival_h_mean = 8.0
[[site.limits]]
id = "fuse"
max_current_a = 63
[strategy]
name = "edf"
"""
SCENARIO_CHARGERS = {"a1": "L1", "a2": "L1", "a3": "L1", "b1": "L2", "c1": "L3"}


def scenario_imbalance_a(results: Any) -> np.ndarray:
    """Per recorded tick, the imbalance of the chargers' mean currents (single-phase: A = kW / V)."""
    current = {c: results.timeseries[f"p_kw:{c}"].to_numpy() * 1000.0 / V_LN_DEFAULT_V for c in SCENARIO_CHARGERS}
    phases = np.array([sum(current[c] for c, p in SCENARIO_CHARGERS.items() if p == ph) for ph in ("L1", "L2", "L3")])
    return np.asarray(phases.max(axis=0) - phases.min(axis=0))


def test_a_scenario_file_reaches_the_option(tmp_path: Path) -> None:
    chargers = "".join(f'[[chargers]]\nid = "{c}"\nbus = 40\nphases = 1\nphase = "{p}"\nmax_current_a = 32\n'
                       f'kind = "work"\n' for c, p in SCENARIO_CHARGERS.items())
    path = tmp_path / "uneven.toml"
    path.write_text(SCENARIO + chargers, encoding="utf-8")
    off = sim.simulate(path)
    on = sim.simulate(path, overrides=["strategy.phase_balance=true", "strategy.max_phase_imbalance_a=10"])
    assert scenario_imbalance_a(off).max() > 10.0 + 1.0
    assert scenario_imbalance_a(on).max() <= 10.0 + 1e-6
    by_object = sim.simulate(path, strategy=EarliestDeadlineFirst(PhaseBalance(10.0)))
    np.testing.assert_array_equal(scenario_imbalance_a(by_object), scenario_imbalance_a(on))
