"""``grid_aware``: parameters checked through the registry, and the feeder rows it adds, on a fake
``GridSensitivity`` with fixed matrices (no load flow here: ``tests/engine/test_grid_aware_run.py``
runs it on a real feeder).

For every bus, line and transformer the rows say, with ``s`` the sensitivity row scaled by
``SENSITIVITY_FACTOR`` (1.1) and ``room`` the distance to the limit minus the margin:

    coef = max(s, 0) * kw_per_a,   limit = max(room + s @ p0, 0),

(for a bus, ``s`` is the voltage *drop* per kW), and only for the elements the chargers could push
past their limit. The wrapped strategy's setpoints then keep every row, hence the linearised limits.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.domain import (
    Charger,
    ChargerTable,
    GridState,
    LimitNode,
    SiteView,
    build_constraints,
    no_constraints,
)
from sim.errors import StrategyError
from sim.strategies import create
from sim.strategies.grid_aware import SENSITIVITY_FACTOR, GridAware
from tests.strategies._sites import drawn_a, make_sessions

FAST = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
INNER = ("edf", "equal_share")
TOL = 1e-9


class FakeSensitivity:
    """``GridSensitivity`` with fixed matrices (rows: buses / lines / trafos, columns: chargers).

    ``change_bounds`` is the tightest valid bound, ``|S| @ |dp|``; ``loose`` makes it infinite so
    that only the strategy's own "can this row bind" test decides which rows are added.
    """

    def __init__(self, dvm: np.ndarray, dline: np.ndarray, dtrafo: np.ndarray, loose: bool = False) -> None:
        self.matrices = {"vm": np.asarray(dvm, float), "line": np.asarray(dline, float),
                         "trafo": np.asarray(dtrafo, float)}
        self.loose = loose

    def dvm_dp_pu_per_kw(self, bus_positions: np.ndarray) -> np.ndarray:
        return self.matrices["vm"][np.asarray(bus_positions, dtype=np.int64)]

    def dloading_dp_percent_per_kw(self, kind: str, positions: np.ndarray) -> np.ndarray:
        return self.matrices[kind][np.asarray(positions, dtype=np.int64)]

    def change_bounds(self, dp_kw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = [np.abs(m) @ np.abs(dp_kw) for m in self.matrices.values()]
        if self.loose:
            out = [np.full_like(b, np.inf) for b in out]
        return out[0], out[1], out[2]


def grid_state(vm_pu, line, trafo, p0_kw, sens: FakeSensitivity | None) -> GridState:
    return GridState(0.0, np.asarray(vm_pu, float), np.asarray(line, float), np.asarray(trafo, float), 0.0, 0.0, 0.0,
                     charger_p_kw=None if p0_kw is None else np.asarray(p0_kw, float), sensitivity=sens)


# --- parameters ---------------------------------------------------------------------------------
def test_defaults_wrap_edf_and_read_the_grid() -> None:
    strategy = create("grid_aware")
    assert isinstance(strategy, GridAware) and strategy.inner.name == "edf"
    assert strategy.needs_grid_state is True
    assert strategy.vm_min_pu == 0.9 and strategy.max_loading_percent == {"line": 100.0, "trafo": 100.0}
    custom = create("grid_aware", {"inner": "equal_share", "vm_min_pu": 0.95, "max_line_loading_percent": 80,
                                   "max_trafo_loading_percent": 90, "margin_pu": 0.0, "margin_percent": 0.0})
    assert custom.inner.name == "equal_share" and custom.vm_min_pu == 0.95
    assert custom.max_loading_percent == {"line": 80.0, "trafo": 90.0} and custom.margin_pu == 0.0
    inner = create("grid_aware", {"inner": "peak_shaving", "inner_params": {"target_kw": 40}}).inner
    assert inner.name == "peak_shaving" and inner.target_kw == 40.0


@pytest.mark.parametrize("params, param, fragments", [
    ({"vm_min": 0.9}, "vm_min", ["'vm_min'", "valid parameters", "inner_params"]),
    ({"inner": "uncontrolled"}, "inner", ["'uncontrolled'", "honours the site's limits", "edf"]),
    ({"inner": "grid_aware"}, "inner", ["'grid_aware'", "equal_share"]),
    ({"inner": "edff"}, "inner", ["'edff'", "edf"]),
    ({"inner": 3}, "inner", ["3"]),
    ({"inner_params": "target_kw = 5"}, "inner_params", ["'target_kw = 5'", "not a table"]),
    ({"inner_params": [1, 2]}, "inner_params", ["[1, 2]", "not a table"]),
    ({"inner": "edf", "inner_params": {"target_kw": 5}}, "inner_params.target_kw", ["inner strategy", "'target_kw'"]),
    ({"inner": "peak_shaving", "inner_params": {"target_kw": -5}}, "inner_params.target_kw", ["inner strategy", "-5"]),
    ({"inner": "peak_shaving"}, "inner_params.target_kw", ["inner strategy", "'target_kw' is required"]),
    ({"vm_min_pu": 0.3}, "vm_min_pu", ["0.3", "between 0.5 and 1.1"]),
    ({"vm_min_pu": 1.2}, "vm_min_pu", ["1.2", "between 0.5 and 1.1"]),
    ({"vm_min_pu": "0.95"}, "vm_min_pu", ["'0.95'", "not a number"]),
    ({"vm_min_pu": True}, "vm_min_pu", ["not a number"]),
    ({"max_line_loading_percent": 0.5}, "max_line_loading_percent", ["0.5", ">= 1"]),
    ({"margin_pu": -0.01}, "margin_pu", ["-0.01"]),
    ({"margin_percent": 60}, "margin_percent", ["60", "between 0 and 50"]),
])
def test_bad_parameters_name_the_parameter(params: dict, param: str, fragments: list[str]) -> None:
    with pytest.raises(StrategyError) as info:
        create("grid_aware", params)
    assert info.value.param == param
    message = str(info.value)
    assert "grid_aware" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


# --- a small site by hand -----------------------------------------------------------------------
KW_PER_A = 3 * 230.0 / 1000.0  # three-phase at 230 V: 0.69 kW per A


@pytest.fixture
def table() -> ChargerTable:
    return ChargerTable(tuple(Charger(f"c{k}", 1, max_current_a=16.0, min_current_a=6.0) for k in range(3)))


def hand_view(table: ChargerTable, sens: FakeSensitivity | None, *, trafo_loading: float = 97.0,
              p0_kw=(3.0, 0.0, 5.0), constraints=None) -> SiteView:
    """Three 16 A chargers, all plugged in (departures 1, 2, 3 h), present power ``p0_kw``.

    Buses (vm_min 0.9 + margin 0.005): slack; bus 1 far from its limit; bus 2 near it; bus 3 near it
    but charger 0 raises its voltage. Lines (100 % - 2 %): 0 far, 1 near, 2 relieved by charging.
    """
    sessions = make_sessions([0, 1, 2], [0.0] * 3, [3600.0, 7200.0, 10800.0], [20.0] * 3, [16.0] * 3)
    grid = grid_state([1.0, 0.97, 0.93, 0.92], [50.0, 97.0, 30.0], [trafo_loading], p0_kw, sens)
    return SiteView(0.0, 900.0, table, sessions, grid, 0.0, constraints)


def hand_sensitivity(loose: bool = False) -> FakeSensitivity:
    dvm = [[0.0, 0.0, 0.0], [-0.0002, -0.0001, 0.0], [-0.002, -0.001, -0.0015], [0.0005, -0.003, 0.0]]
    dline = [[0.5, 0.5, 0.5], [0.2, 0.0, 0.3], [-0.4, 0.0, 0.0]]
    return FakeSensitivity(dvm, dline, [[0.1, 0.1, 0.1]], loose=loose)


@pytest.mark.parametrize("loose", [False, True], ids=["tight-bounds", "no-bounds"])
def test_rows_are_the_hand_computed_linearisation(table: ChargerTable, loose: bool) -> None:
    sens = hand_sensitivity(loose)
    view = hand_view(table, sens)
    cons = GridAware(create("edf")).constraints(view)
    # bus 1, line 0 cannot reach their limits with at most 16 A each; line 2 only gains room
    assert cons.row_names == ("grid:bus#2:vm_min", "grid:bus#3:vm_min", "grid:line#1:loading",
                              "grid:trafo#0:loading")
    p0 = np.array([3.0, 0.0, 5.0])
    room = np.array([0.93 - 0.905, 0.92 - 0.905, 100.0 - 2.0 - 97.0, 100.0 - 2.0 - 97.0])
    per_kw = SENSITIVITY_FACTOR * np.array([-np.array(sens.matrices["vm"][2]), -np.array(sens.matrices["vm"][3]),
                                            sens.matrices["line"][1], sens.matrices["trafo"][0]])
    np.testing.assert_allclose(cons.dense(), np.maximum(per_kw, 0.0) * KW_PER_A, rtol=1e-12)
    np.testing.assert_allclose(cons.limit, np.maximum(room + per_kw @ p0, 0.0), rtol=1e-12)
    # the same numbers written out: bus 2 = 0.025 + 1.1 (0.002 * 3 + 0.0015 * 5); bus 3 loses charger 0's help
    np.testing.assert_allclose(cons.limit, [0.03985, 0.015 - 0.00165, 1.0 + 1.1 * (0.6 + 1.5), 1.0 + 0.88])
    np.testing.assert_allclose(cons.dense()[1], [0.0, 0.0033 * KW_PER_A, 0.0])  # a relieving charger: 0


def test_site_rows_come_first_and_are_kept(table: ChargerTable) -> None:
    site = build_constraints(table, [LimitNode("main", None, max_current_a=40.0)])
    view = hand_view(table, hand_sensitivity(), constraints=site)
    cons = GridAware(create("edf")).constraints(view)
    assert cons.row_names[:3] == site.row_names and len(cons.row_names) == 3 + 4
    np.testing.assert_array_equal(cons.dense()[:3], site.dense())
    np.testing.assert_array_equal(cons.limit[:3], site.limit)


def test_a_limit_broken_without_charging_pauses_the_chargers_that_add_to_it(table: ChargerTable) -> None:
    view = hand_view(table, hand_sensitivity(), trafo_loading=101.0)  # every charger loads the transformer
    cons = GridAware(create("edf")).constraints(view)
    assert cons.limit[cons.row_index["grid:trafo#0:loading"]] == 0.0  # -3 + 1.1 * 0.8 < 0: clipped
    for inner in INNER:
        np.testing.assert_array_equal(GridAware(create(inner)).compute(view).current_a, 0.0)


@pytest.mark.parametrize("inner", INNER)
def test_setpoints_keep_every_row_and_the_rows_bind(table: ChargerTable, inner: str) -> None:
    view = hand_view(table, hand_sensitivity())
    strategy = GridAware(create(inner))
    cons = strategy.constraints(view)
    current = drawn_a(view, strategy.compute(view))
    assert np.all(cons.load(current) <= cons.limit + TOL), (cons.load(current), cons.limit)
    alone = drawn_a(view, create(inner).compute(view))
    np.testing.assert_array_equal(alone, 16.0)  # without the feeder rows every session gets all it takes
    assert current.sum() < alone.sum() - 1.0  # the feeder limits do bind here


@pytest.mark.parametrize("inner", INNER)
def test_without_binding_rows_the_inner_strategy_decides_alone(table: ChargerTable, inner: str) -> None:
    sens = FakeSensitivity(np.full((4, 3), -1e-5), np.full((3, 3), 0.01), np.full((1, 3), 0.01))
    view = hand_view(table, sens, trafo_loading=40.0)
    view = replace(view, grid=replace(view.grid, vm_pu=np.array([1.0, 0.99, 0.98, 0.97]),
                                      line_loading_percent=np.array([10.0, 20.0, 30.0])))
    strategy = GridAware(create(inner))
    assert strategy.constraints(view).n_rows == 0
    np.testing.assert_array_equal(strategy.compute(view).current_a, create(inner).compute(view).current_a)


def test_compute_without_grid_state_is_a_clear_error(table: ChargerTable) -> None:
    strategy = GridAware(create("edf"))
    view = hand_view(table, hand_sensitivity())
    for grid in (None, replace(view.grid, sensitivity=None), replace(view.grid, charger_p_kw=None)):
        with pytest.raises(StrategyError, match="grid_aware.*needs the grid state"):
            strategy.compute(replace(view, grid=grid))
    idle = replace(view, grid=None, sessions=make_sessions([], [], [], [], []))
    np.testing.assert_array_equal(strategy.compute(idle).current_a, 0.0)  # nobody plugged in: nothing to ask


# --- random small cases -------------------------------------------------------------------------
@st.composite
def grid_cases(draw: st.DrawFn) -> tuple[SiteView, FakeSensitivity, float]:
    """A few continuous chargers, some plugged in, a random fake feeder near (or past) its limits."""
    n = draw(st.integers(1, 4))
    chargers = []
    for k in range(n):
        phases = draw(st.sampled_from([1, 3]))
        chargers.append(Charger(f"c{k}", 1, phases, "L1" if phases == 1 else "L1L2L3",
                                max_current_a=float(draw(st.sampled_from([16, 32]))),
                                min_current_a=float(draw(st.sampled_from([0, 6])))))
    table = ChargerTable(tuple(chargers))
    plugged = draw(st.lists(st.integers(0, n - 1), unique=True, min_size=1, max_size=n))
    max_a = [draw(st.one_of(st.just(float(table.max_current_a[c])), st.floats(0.0, float(table.max_current_a[c]))))
             for c in plugged]
    sessions = make_sessions(plugged, [0.0] * len(plugged), [draw(st.floats(600.0, 36000.0)) for _ in plugged],
                             [30.0] * len(plugged), max_a)
    kw_per_a = table.phases * table.v_ln_v / 1000.0
    p0 = np.zeros(n)
    for c, a in zip(plugged, max_a, strict=True):  # present power: up to a little above what it takes now
        p0[c] = draw(st.floats(0.0, 1.2)) * a * kw_per_a[c]
    n_bus, n_line, n_trafo = draw(st.integers(1, 5)), draw(st.integers(0, 3)), draw(st.integers(0, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dvm = rng.uniform(-0.006, 0.0005, (n_bus, n)) * (rng.random((n_bus, n)) < 0.8)
    dline = rng.uniform(-0.5, 1.0, (n_line, n)) * (rng.random((n_line, n)) < 0.8)
    dtrafo = rng.uniform(-0.1, 0.5, (n_trafo, n))
    sens = FakeSensitivity(dvm, dline, dtrafo, loose=draw(st.booleans()))
    vm = rng.uniform(0.9, 0.98, n_bus)  # a few below vm_min + margin already
    grid = grid_state(vm, rng.uniform(60.0, 100.0, n_line), rng.uniform(60.0, 100.0, n_trafo), p0, sens)
    fuse = draw(st.one_of(st.none(), st.floats(5.0, 80.0)))
    site = build_constraints(table, [LimitNode("main", None, max_current_a=fuse)]) if fuse else None
    view = SiteView(0.0, 900.0, table, sessions, grid, 0.0, site)
    return view, sens, draw(st.sampled_from([0.9, 0.92, 0.95]))


@FAST
@given(case=grid_cases(), inner=st.sampled_from(INNER))
def test_random_cases_keep_every_row_and_every_linearised_limit(case, inner: str) -> None:
    view, sens, vm_min_pu = case
    strategy = GridAware(create(inner), vm_min_pu=vm_min_pu)
    cons = strategy.constraints(view)
    site = view.constraints if view.constraints is not None else no_constraints(len(view.chargers))
    assert cons.row_names[: site.n_rows] == site.row_names
    assert all(name.startswith("grid:") for name in cons.row_names[site.n_rows :])
    feeder = slice(site.n_rows, None)
    assert np.all(cons.limit[feeder] >= 0.0)
    setpoints = strategy.compute(view)
    current = drawn_a(view, setpoints)
    load = cons.load(current)
    assert np.all(load <= cons.limit + TOL), (load, cons.limit)
    # what the cases cover (--hypothesis-show-statistics): ~2/5 need no row, ~1/6 have a row that binds
    event(f"feeder rows: {'none' if cons.n_rows == site.n_rows else 'some'}")
    if np.any(cons.limit[feeder] == 0.0):
        event("a feeder limit broken without charging")
    if np.any((load[feeder] > cons.limit[feeder] - 1e-6) & (cons.limit[feeder] > 0.0)):
        event("a feeder row binds")

    # every element's linearised limit holds at the new charging power, or - if it is broken even
    # without charging - every charger that would add to it is paused
    grid = view.grid
    kw_per_a = view.chargers.phases * view.chargers.v_ln_v / 1000.0
    p_kw, p0_kw = current * kw_per_a, grid.charger_p_kw
    elements = [(-SENSITIVITY_FACTOR * sens.matrices["vm"], grid.vm_pu - vm_min_pu - strategy.margin_pu)]
    for kind, loading in (("line", grid.line_loading_percent), ("trafo", grid.trafo_loading_percent)):
        room = strategy.max_loading_percent[kind] - strategy.margin_percent - loading
        elements.append((SENSITIVITY_FACTOR * sens.matrices[kind], room))
    for per_kw, room in elements:
        for row, r in zip(per_kw, room, strict=True):
            if r + row @ p0_kw >= 0.0:
                assert row @ (p_kw - p0_kw) <= r + 1e-7, (row, r, p_kw, p0_kw)
            else:
                assert np.all(p_kw[row > 0.0] == 0.0), (row, r, p_kw, p0_kw)

    # where no feeder row was needed, the inner strategy decided alone
    if cons.n_rows == site.n_rows:
        np.testing.assert_array_equal(setpoints.current_a, create(inner).compute(view).current_a)
