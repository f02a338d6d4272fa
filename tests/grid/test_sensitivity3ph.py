"""Per-phase sensitivities of the unbalanced load flow (``sim.grid.sensitivity3ph``) against finite
differences of two ``FastUnbalancedLoadFlow`` solves, on the IEEE European LV feeder and CIGRE LV with
single-phase chargers on every phase and one three-phase charger.

The model holds the other loads' currents (as the balanced ``sim.grid.sensitivity``): with nothing else
drawing power it is exact to first order, so a central difference of +-0.5 kW agrees to 1e-4 of the
column (measured: 4.7e-6 on IEEE, 3.1e-5 on CIGRE LV). At a loaded operating point it misses how the
other constant-power loads' currents grow as the voltage sags: about the feeder's relative voltage drop
(measured: up to 4.8 % of a column on IEEE with a 4.8 % drop, up to 15 % on CIGRE LV with 6.8 %).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable
from sim.grid.sensitivity import GridLinearisation
from sim.grid.sensitivity3ph import PhaseLinearisation, PhaseSensitivity
from sim.grid.unbalanced import FastUnbalancedLoadFlow, Pandapower3phLoadFlow

PHASES = ("L1", "L2", "L3")
STEP_KW = 0.5  # central difference: +-0.5 kW (a 1 kW step)
EXACT_TOLERANCE = 1e-4  # of the column's largest entry, nothing else drawing power
LOADED_TOLERANCE = 0.15  # of the column's largest entry at an evening load (the neglected load response)


def _chargers(feeder, seed: int) -> ChargerTable:
    """Six single-phase chargers (two per phase; c0 on L1 and c1 on L2 share a bus) and one three-phase
    charger, on load buses."""
    buses = np.random.default_rng(seed).choice(feeder.load_bus_ids(), size=7, replace=False)
    buses[1] = buses[0]
    single = [Charger(f"c{k}", int(b), phases=1, phase=PHASES[k % 3], max_current_a=32.0)
              for k, b in enumerate(buses[:6])]
    return ChargerTable((*single, Charger("t", int(buses[6]))))


@pytest.fixture(scope="module", params=[("ieee_european_lv", 1.0), ("cigre_lv", 0.5)], ids=["ieee", "cigre"])
def case(request, make_feeder):
    network, level_max = request.param
    feeder = make_feeder(seed=3, network=network)
    table = _chargers(feeder, seed=5)
    lf = FastUnbalancedLoadFlow(feeder, table)
    rng = np.random.default_rng(5)
    level = rng.uniform(0.0, level_max, len(feeder.load_ids))
    loads = (level * feeder.net.load.p_mw.to_numpy() * 1000.0, level * feeder.net.load.q_mvar.to_numpy() * 1000.0)
    return feeder, table, lf, loads, rng.uniform(1.0, 7.0, len(table))


def _finite_differences(lf, loads, sgen, p0):
    """(rows, chargers) central differences of every bus-phase voltage and line loading per kW."""
    vm, line = [], []
    for c in range(p0.size):
        up, down = p0.copy(), p0.copy()
        up[c] += STEP_KW
        down[c] -= STEP_KW
        a, b = lf.solve(0, 0.0, *loads, sgen, up), lf.solve(0, 0.0, *loads, sgen, down)
        vm.append((a.vm_phase_pu - b.vm_phase_pu).reshape(-1) / (2 * STEP_KW))
        line.append((a.line_loading_percent - b.line_loading_percent) / (2 * STEP_KW))
    return np.array(vm).T, np.array(line).T


def _column_errors(model, fd):
    """Per column: largest |model - fd| over its largest |fd|."""
    return np.nanmax(np.abs(model - fd), axis=0) / np.nanmax(np.abs(fd), axis=0)


def _sensitivity(lf, table, state) -> PhaseSensitivity:
    lin = GridLinearisation.for_loadflow(lf, table)
    assert isinstance(lin, PhaseLinearisation)
    return lin.at(state)


def test_exact_to_first_order_with_nothing_else_drawing_power(case) -> None:
    feeder, table, lf, loads, _ = case
    zero = (np.zeros_like(loads[0]), np.zeros_like(loads[1]))
    sgen, p0 = np.zeros(len(feeder.sgen_ids)), np.zeros(len(table))
    sens = _sensitivity(lf, table, lf.solve(0, 0.0, *zero, sgen, p0))
    fd, _ = _finite_differences(lf, zero, sgen, p0)
    model = sens.dvm_dp_pu_per_kw(np.arange(3 * len(lf.bus_ids)))
    assert model.shape == (3 * len(lf.bus_ids), len(table))
    assert _column_errors(model, fd).max() <= EXACT_TOLERANCE
    # a single-phase charger lowers its own phase most at its bus
    for c, charger in enumerate(table.chargers[:6]):
        b = lf.bus_ids.index(charger.bus)
        own = model[3 * b:3 * b + 3, c]
        assert own.argmin() == PHASES.index(charger.phase) and own.min() < 0


def test_loaded_point_within_the_neglected_load_response(case) -> None:
    feeder, table, lf, loads, p0 = case
    sgen = np.zeros(len(feeder.sgen_ids))
    state = lf.solve(0, 0.0, *loads, sgen, p0)
    sens = _sensitivity(lf, table, state)
    fd_vm, fd_line = _finite_differences(lf, loads, sgen, p0)
    model_vm = sens.dvm_dp_pu_per_kw(np.arange(3 * len(lf.bus_ids)))
    assert _column_errors(model_vm, fd_vm).max() <= LOADED_TOLERANCE
    model_line = sens.dloading_dp_percent_per_kw("line", np.arange(len(lf.line_ids)))
    # lines that carry current and whose largest phase stays the largest over the difference (the
    # loading is the max of three phases: where two are within 5 %, a +-0.5 kW step may swap them)
    i_sorted = np.sort(state.line_i_phase_ka, axis=1)
    loaded = (state.line_loading_percent > 1.0) & (i_sorted[:, 1] < 0.95 * i_sorted[:, 2])
    # columns that move them (a charger on another phase than a line's largest leaves that phase's current
    # unchanged in the model, held currents; only the other loads' response moves it, by ~1 % of a column)
    column_max = np.nanmax(np.abs(fd_line[loaded]), axis=0)
    felt = column_max > 0.05 * column_max.max()
    err = _column_errors(model_line[loaded][:, felt], fd_line[loaded][:, felt])
    assert err.max() <= LOADED_TOLERANCE


def test_change_bounds_bound_the_first_order_change(case) -> None:
    feeder, table, lf, loads, p0 = case
    state = lf.solve(0, 0.0, *loads, np.zeros(len(feeder.sgen_ids)), p0)
    sens = _sensitivity(lf, table, state)
    vm_bound, line_bound, trafo_bound = sens.change_bounds(np.full(len(table), 3.0))
    rng = np.random.default_rng(1)
    for _ in range(5):
        dp = rng.uniform(-3.0, 3.0, len(table))
        assert np.all(np.abs(sens.dvm_dp_pu_per_kw(np.arange(vm_bound.size)) @ dp) <= vm_bound + 1e-12)
        assert np.all(np.abs(sens.dloading_dp_percent_per_kw("line", np.arange(line_bound.size)) @ dp)
                      <= line_bound + 1e-9)
        assert np.all(np.abs(sens.dloading_dp_percent_per_kw("trafo", np.arange(trafo_bound.size)) @ dp)
                      <= trafo_bound + 1e-9)


def test_the_runpp_3ph_state_gives_the_same_sensitivities(case) -> None:
    """The reference solver's state (its own phase angles) linearises to the same rows: the angle
    reference of ``va_phase_degree`` is pandapower's."""
    feeder, table, lf, loads, p0 = case
    sgen = np.zeros(len(feeder.sgen_ids))
    fast = _sensitivity(lf, table, lf.solve(0, 0.0, *loads, sgen, p0))
    reference = Pandapower3phLoadFlow(feeder, table, numba=False)
    ref_lin = GridLinearisation.for_loadflow(reference, table)
    ref = ref_lin.at(reference.solve(0, 0.0, *loads, sgen, p0))
    rows = np.arange(3 * len(lf.bus_ids))
    a, b = fast.dvm_dp_pu_per_kw(rows), ref.dvm_dp_pu_per_kw(rows)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6 * np.abs(a).max())


def test_at_needs_the_phase_angles(case) -> None:
    feeder, table, lf, loads, p0 = case
    state = lf.solve(0, 0.0, *loads, np.zeros(len(feeder.sgen_ids)), p0)
    assert state.va_phase_degree is not None and state.va_phase_degree.shape == (len(lf.bus_ids), 3)
    with pytest.raises(ValueError, match="va_phase_degree"):
        GridLinearisation.for_loadflow(lf, table).at(replace(state, va_phase_degree=None))
