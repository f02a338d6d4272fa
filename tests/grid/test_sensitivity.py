"""``GridLinearisation``: voltage and loading sensitivities to charging power against finite
differences of pandapower's own Newton-Raphson, on CIGRE LV, the IEEE European LV feeder and a
Kerber network, with chargers on load buses at random (seeded) charging power.

The model holds the other loads' currents while one charger's power changes (``sim.grid.sensitivity``),
so it misses how they grow as the voltage sags: about the feeder's relative voltage drop, a few per
cent of a column. The tolerances below say so; with nothing else drawing power the voltage sensitivity is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable, GridState
from sim.grid import FastLoadFlow, Feeder, PandapowerLoadFlow
from sim.grid.sensitivity import GridLinearisation, Sensitivity

NETWORK_NAMES = ("cigre_lv", "ieee_european_lv", "kerber_landnetz_kabel_1")
N_DISTINCT = 6  # chargers on distinct load buses; one more charger shares the first one's bus
FD_CHARGERS = (0, 2, 4)  # columns checked by finite differences (two runpp calls each)
FD_STEP_KW = 1.0  # central difference; the model error dwarfs the O(h^2) difference error
MODEL_TOLERANCE = 0.06  # of the column's largest entry. Measured here: 0.5-5.2 %, about the feeder's
# relative voltage drop (CIGRE 5.3 % drop: up to 5.2 %; Kerber 3.2 %: up to 5.1 %; IEEE 1.7 %: up to 1.8 %)
KINDS = ("vm", "line", "trafo")


@dataclass
class Case:
    """One feeder at one random operating point, solved by both solvers."""

    name: str
    feeder: Feeder
    table: ChargerTable
    injections: tuple[np.ndarray, np.ndarray, np.ndarray]  # loads p, q (kW, kvar), sgens p (kW)
    p0_kw: np.ndarray
    fast_state: GridState
    reference: PandapowerLoadFlow  # numba off, tight tolerance: the independent runpp
    reference_state: GridState
    sensitivity: Sensitivity  # from the FastLoadFlow state

    def solve_reference(self, charger_p_kw: np.ndarray) -> GridState:
        return self.reference.solve(0, 0.0, *self.injections, charger_p_kw)


def all_rows(sens: Sensitivity, lf: FastLoadFlow | PandapowerLoadFlow) -> dict[str, np.ndarray]:
    """Every bus, line and transformer row of the sensitivities."""
    return {
        "vm": sens.dvm_dp_pu_per_kw(np.arange(len(lf.bus_ids))),
        "line": sens.dloading_dp_percent_per_kw("line", np.arange(len(lf.line_ids))),
        "trafo": sens.dloading_dp_percent_per_kw("trafo", np.arange(len(lf.trafo_ids))),
    }


def values(state: GridState) -> dict[str, np.ndarray]:
    return {"vm": state.vm_pu, "line": state.line_loading_percent, "trafo": state.trafo_loading_percent}


@pytest.fixture(scope="module", params=NETWORK_NAMES)
def case(request: pytest.FixtureRequest, make_feeder) -> Case:
    feeder = make_feeder(seed=0, network=request.param)
    rng = np.random.default_rng(7)
    buses = rng.choice(feeder.load_bus_ids(), size=N_DISTINCT, replace=False)
    buses = np.append(buses, buses[0])  # the last charger shares the first one's bus
    table = ChargerTable(tuple(Charger(f"c{k}", int(b)) for k, b in enumerate(buses)))
    level = rng.uniform(0.0, 0.6, len(feeder.load_ids))  # an evening's base load, 0-60 % of rated
    injections = (level * feeder.net.load.p_mw.to_numpy() * 1000.0, level * feeder.net.load.q_mvar.to_numpy() * 1000.0,
                  np.zeros(len(feeder.sgen_ids)))
    p0_kw = rng.uniform(FD_STEP_KW, 11.0, len(table))
    fast = FastLoadFlow(feeder, table)
    fast_state = fast.solve(0, 0.0, *injections, p0_kw)
    reference = PandapowerLoadFlow(feeder, table, numba=False, tolerance_mva=1e-12)
    reference_state = reference.solve(0, 0.0, *injections, p0_kw)
    sens = GridLinearisation.for_loadflow(fast, table).at(fast_state)
    return Case(request.param, feeder, table, injections, p0_kw, fast_state, reference, reference_state, sens)


@pytest.fixture(scope="module")
def finite_differences(case: Case) -> dict[str, np.ndarray]:
    """Central differences of the reference runpp for the ``FD_CHARGERS`` columns."""
    columns: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
    for c in FD_CHARGERS:
        step = np.zeros(len(case.table))
        step[c] = FD_STEP_KW
        up, down = values(case.solve_reference(case.p0_kw + step)), values(case.solve_reference(case.p0_kw - step))
        for kind in KINDS:
            columns[kind].append((up[kind] - down[kind]) / (2.0 * FD_STEP_KW))
    return {kind: np.column_stack(columns[kind]) for kind in KINDS}


def test_the_reference_agrees_with_the_fast_state(case: Case) -> None:
    np.testing.assert_allclose(case.fast_state.vm_pu, case.reference_state.vm_pu, atol=1e-8, equal_nan=True)
    assert case.fast_state.va_degree is not None and case.reference_state.va_degree is not None
    assert case.fast_state.vm_max_pu - case.fast_state.vm_min_pu > 0.005  # a loaded feeder: voltages drop


@pytest.mark.parametrize("kind", KINDS)
def test_sensitivities_match_finite_differences_of_runpp(case: Case, finite_differences, kind: str) -> None:
    lf = case.reference
    model = all_rows(case.sensitivity, lf)[kind][:, list(FD_CHARGERS)]
    fd = finite_differences[kind]
    finite = np.isfinite(fd).all(axis=1)  # isolated buses / out-of-service branches: NaN in runpp
    np.testing.assert_array_equal(model[~finite], 0.0)
    for k, c in enumerate(FD_CHARGERS):
        scale = np.abs(fd[finite, k]).max()
        assert scale > 0.0, (case.name, kind, c)
        error = np.abs(model[finite, k] - fd[finite, k]).max() / scale
        assert error <= MODEL_TOLERANCE, f"{case.name} {kind} charger {c}: {error:.3%} of the column's largest"
    if kind == "vm":
        assert np.all(model[finite] <= 1e-12), "charging never raises a voltage on these (radial) feeders"


def test_voltage_sensitivity_is_exact_with_nothing_else_drawing_power(case: Case) -> None:
    # No base load and no other charging: the only current is the one the derivative is taken of,
    # so the model's one approximation (other loads' currents held) is no approximation at all.
    zero = tuple(np.zeros_like(a) for a in case.injections)
    lf = FastLoadFlow(case.feeder, case.table)
    idle = np.zeros(len(case.table))
    state = lf.solve(0, 0.0, *zero, idle)
    sens = GridLinearisation.for_loadflow(lf, case.table).at(state)
    c = FD_CHARGERS[0]
    step = np.zeros(len(case.table))
    step[c] = 0.1
    up, down = (case.reference.solve(1, 0.0, *zero, s).vm_pu for s in (step, -step))
    fd = (up - down) / 0.2
    model = sens.dvm_dp_pu_per_kw(np.arange(len(lf.bus_ids)))[:, c]
    ok = np.isfinite(fd)
    np.testing.assert_allclose(model[ok], fd[ok], rtol=0, atol=1e-4 * np.abs(fd[ok]).max())


def test_fast_and_pandapower_states_give_the_same_sensitivities(case: Case) -> None:
    reference_sens = GridLinearisation.for_loadflow(case.reference, case.table).at(case.reference_state)
    fast, ref = all_rows(case.sensitivity, case.reference), all_rows(reference_sens, case.reference)
    for kind in KINDS:
        scale = np.abs(fast[kind]).max()
        np.testing.assert_allclose(ref[kind], fast[kind], rtol=0, atol=1e-6 * scale, err_msg=kind)
    dp = np.random.default_rng(3).uniform(0.0, 5.0, len(case.table))
    for got, want in zip(reference_sens.change_bounds(dp), case.sensitivity.change_bounds(dp), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


def test_chargers_sharing_a_bus_get_identical_columns(case: Case) -> None:
    rows = all_rows(case.sensitivity, case.reference)
    last = len(case.table) - 1
    assert case.table.bus[last] == case.table.bus[0]
    for kind in KINDS:
        np.testing.assert_array_equal(rows[kind][:, last], rows[kind][:, 0])
        assert rows[kind].shape[1] == len(case.table)


def test_change_bounds_bound_the_first_order_change(case: Case) -> None:
    rng = np.random.default_rng(11)
    rows = all_rows(case.sensitivity, case.reference)
    for _ in range(5):
        dp = rng.uniform(0.0, 5.0, len(case.table)) * (rng.random(len(case.table)) < 0.7)
        bounds = case.sensitivity.change_bounds(dp)
        for kind, bound in zip(KINDS, bounds, strict=True):
            assert bound.shape == (rows[kind].shape[0],)
            assert np.all(bound >= np.abs(rows[kind] @ dp)), kind
    for bound in case.sensitivity.change_bounds(np.zeros(len(case.table))):
        np.testing.assert_array_equal(bound, 0.0)


def test_change_bounds_bound_the_actual_runpp_change(case: Case) -> None:
    """The bounds hold the real change within 10 %, up to what the model leaves out by design: a
    branch no charger feeds has a bound of ~0, yet its load's current grows as the chargers pull its
    voltage down (Kerber: 4.09 % -> 4.11 %). That growth is at most the branch's loading times the
    largest relative voltage drop, so it is allowed for on top (plus the solver's round-off)."""
    dp = np.random.default_rng(5).uniform(0.0, 5.0, len(case.table))  # up to 5 kW more per charger
    before, after = values(case.reference_state), values(case.solve_reference(case.p0_kw + dp))
    bounds = dict(zip(KINDS, case.sensitivity.change_bounds(dp), strict=True))
    relative_drop = bounds["vm"].max() / np.nanmin(after["vm"])  # how much any load's current can grow
    round_off = {"vm": 1e-9, "line": 1e-8, "trafo": 1e-8}
    for kind in KINDS:
        change = np.abs(after[kind] - before[kind])
        ok = np.isfinite(change)
        neglected = 0.0 if kind == "vm" else before[kind][ok] * relative_drop
        excess = change[ok] / 1.1 - bounds[kind][ok] - neglected - round_off[kind]
        assert np.all(excess <= 0.0), f"{case.name} {kind} row {np.flatnonzero(ok)[np.argmax(excess)]}"
    changed = np.isfinite(after["vm"])  # and the bound is a useful filter, not just any large number
    assert bounds["vm"].max() <= 1.5 * np.abs(after["vm"] - before["vm"])[changed].max()


def test_at_needs_the_voltage_angles(case: Case) -> None:
    lin = GridLinearisation.for_loadflow(case.reference, case.table)
    with pytest.raises(ValueError, match="va_degree"):
        lin.at(replace(case.fast_state, va_degree=None))


def test_a_charger_at_the_slack_bus_has_no_effect(case: Case) -> None:
    slack_bus = int(case.feeder.net.ext_grid.bus.iloc[0])
    table = ChargerTable((Charger("at-slack", slack_bus), Charger("feeder", int(case.table.bus[0]))))
    sens = GridLinearisation.for_loadflow(case.reference, table).at(case.fast_state)
    vm = sens.dvm_dp_pu_per_kw(np.arange(len(case.reference.bus_ids)))
    np.testing.assert_array_equal(vm[:, 0], 0.0)
    assert np.abs(vm[:, 1]).max() > 0.0
    np.testing.assert_allclose(vm[:, 1], case.sensitivity.dvm_dp_pu_per_kw(np.arange(vm.shape[0]))[:, 0], rtol=1e-12)
    for bound in sens.change_bounds(np.array([100.0, 0.0])):
        np.testing.assert_array_equal(bound, 0.0)


def test_vm_drop_bounds_bound_the_first_order_drop_of_any_change(case: Case) -> None:
    """Charging only lowers voltages here (every entry <= 0), so the drop of any change, up or down, is
    bounded by the increases alone; the loading part equals ``change_bounds``' own."""
    assert case.sensitivity._lin.vm_drop_angle_spread_deg > 0.0
    rng = np.random.default_rng(13)
    vm = all_rows(case.sensitivity, case.reference)["vm"]
    assert np.all(vm <= 0.0)
    for _ in range(5):
        dp = rng.uniform(-5.0, 5.0, len(case.table))
        bound = case.sensitivity.vm_drop_bounds(np.maximum(dp, 0.0))
        assert bound is not None and bound.shape == (vm.shape[0],)
        assert np.all(bound >= -(vm @ dp))
        assert np.all(bound <= case.sensitivity.change_bounds(dp)[0])
        for got, want in zip(case.sensitivity.loading_change_bounds(dp), case.sensitivity.change_bounds(dp)[1:],
                             strict=True):
            np.testing.assert_array_equal(got, want)
        largest = case.sensitivity.largest_changes(np.maximum(dp, 0.0), dp)  # one number per kind, >= every row
        assert largest[0] is not None and np.all(bound <= largest[0])
        for bound_of_kind, most in zip(case.sensitivity.loading_change_bounds(dp), largest[1:], strict=True):
            assert np.all(bound_of_kind <= most)
    np.testing.assert_array_equal(case.sensitivity.vm_drop_bounds(np.zeros(len(case.table))), 0.0)


def test_vm_drop_bounds_refuse_a_state_with_angles_too_far_apart(case: Case) -> None:
    """Where a bus's angle differs from a charger's by more than the proof allows, no bound (None):
    ``grid_aware`` then filters with ``change_bounds``."""
    lin = case.sensitivity._lin
    va = np.array(case.fast_state.va_degree)
    va[lin.pq_feeder_pos[-1]] += lin.vm_drop_angle_spread_deg + 1.0
    far = lin.at(replace(case.fast_state, va_degree=va))
    assert far.vm_drop_bounds(np.ones(len(case.table))) is None
    assert far.largest_changes(np.ones(len(case.table)), np.ones(len(case.table)))[0] is None
    va[lin.pq_feeder_pos[-1]] = np.nan
    assert lin.at(replace(case.fast_state, va_degree=va)).vm_drop_bounds(np.ones(len(case.table))) is None
