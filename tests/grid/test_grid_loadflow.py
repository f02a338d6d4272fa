"""PandapowerLoadFlow: equal to an independent cold runpp at random injections (warm starts and
recycling included), reverse flow, isolated buses, failures mapped to LoadFlowError, recovery."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.domain import Charger, ChargerTable
from sim.errors import LoadFlowError
from sim.grid import LoadFlow, PandapowerLoadFlow
from sim.scenario.schema import PvSpec


def _table(feeder, n: int, seed: int) -> ChargerTable:
    """``n`` chargers on load buses, several sharing a bus, mixed 1- and 3-phase."""
    rng = np.random.default_rng(seed)
    buses = rng.choice(feeder.load_bus_ids(), size=n, replace=True)
    buses[1] = buses[0]
    return ChargerTable(
        tuple(
            Charger(f"c{k}", int(b), phases=1 if k % 3 == 0 else 3, phase="L1" if k % 3 == 0 else "L1L2L3")
            for k, b in enumerate(buses)
        )
    )


def _random_injections(feeder, table, rng, *, reverse: bool = False):
    rated_p = feeder.net.load.p_mw.to_numpy() * 1000.0
    rated_q = feeder.net.load.q_mvar.to_numpy() * 1000.0
    level = rng.uniform(0.0, 0.1 if reverse else 1.5, size=rated_p.size)
    sgen = (
        feeder.net.sgen.p_mw.to_numpy()
        * 1000.0
        * rng.uniform(0.9 if reverse else 0.0, 1.0, len(feeder.sgen_ids))
    )
    charging = (
        np.zeros(len(table))
        if reverse
        else rng.uniform(0.0, 1.0, len(table)) * np.where(table.phases == 1, 7.4, 22.0)
    )
    return level * rated_p, level * rated_q, sgen, charging


@pytest.fixture(scope="module", params=[("cigre_lv", 30.0), ("kerber_dorfnetz", 10.0)], ids=lambda p: p[0])
def case(request, make_feeder):
    name, kwp = request.param
    feeder = make_feeder(seed=2, network=name, pv=PvSpec(share=0.6, kwp=kwp))
    table = _table(feeder, 10, seed=4)
    return feeder, table, PandapowerLoadFlow(feeder, table)


def test_equals_independent_runpp_at_random_injections(case, reference_solve, assert_matches) -> None:
    feeder, table, lf = case
    rng = np.random.default_rng(11)
    imports = []
    for step in range(12):
        args = _random_injections(feeder, table, rng, reverse=step % 4 == 3)
        state = lf.solve(step, 300.0 * step, *args)
        assert state.time_s == 300.0 * step
        assert_matches(state, reference_solve(feeder, table.bus, *args), lf)
        imports.append(state.p_import_kw)
    assert min(imports) < 0.0 < max(imports)  # reverse flow (PV export) was exercised


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    level=st.floats(0.0, 3.0), pv=st.floats(0.0, 1.0), charge_kw=st.floats(0.0, 22.0), where=st.integers(0, 9)
)
def test_property_any_sequence_matches_runpp(
    case, reference_solve, assert_matches, level, pv, charge_kw, where
) -> None:
    feeder, table, lf = case
    charging = np.zeros(len(table))
    charging[where] = charge_kw
    args = (
        level * feeder.net.load.p_mw.to_numpy() * 1000.0,
        level * feeder.net.load.q_mvar.to_numpy() * 1000.0,
        pv * feeder.net.sgen.p_mw.to_numpy() * 1000.0,
        charging,
    )
    assert_matches(lf.solve(0, 0.0, *args), reference_solve(feeder, table.bus, *args), lf)


def test_one_ev_load_per_charger_bus_and_feeder_untouched(case) -> None:
    feeder, table, lf = case
    buses = sorted(set(table.bus.tolist()))
    assert lf.ev_buses == tuple(buses) and len(buses) < len(table)
    names = lf.net.load.loc[list(lf.ev_load_ids), "name"].tolist()
    assert names == [f"ev_charging@{b}" for b in buses]
    assert len(feeder.net.load) == len(feeder.load_ids)
    assert not feeder.net.load.name.astype(str).str.startswith("ev_charging").any()
    assert isinstance(lf, LoadFlow)


def test_state_arrays_are_aligned_and_read_only(case) -> None:
    feeder, table, lf = case
    base = feeder.base_injections(np.array([0.0]))
    state = lf.solve(0, 0.0, base.load_p_kw[0], base.load_q_kvar[0], base.sgen_p_kw[0], np.zeros(len(table)))
    assert state.vm_pu.shape == (len(lf.bus_ids),) and state.line_loading_percent.shape == (len(lf.line_ids),)
    assert state.trafo_loading_percent.shape == (len(lf.trafo_ids),)
    with pytest.raises(ValueError):
        state.vm_pu[0] = 2.0


def test_isolated_buses_are_nan_in_a_fixed_order(make_feeder, reference_solve, assert_matches) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    cut = feeder.net.line.index[-3]
    feeder.net.line.loc[cut, "in_service"] = False
    table = _table(feeder, 3, seed=1)
    lf = PandapowerLoadFlow(feeder, table)
    rng = np.random.default_rng(0)
    for step in range(3):
        args = _random_injections(feeder, table, rng)
        state = lf.solve(step, 0.0, *args)
        assert_matches(state, reference_solve(feeder, table.bus, *args), lf)
    isolated = feeder.bus_ids.index(int(feeder.net.line.at[cut, "to_bus"]))
    assert np.isnan(state.vm_pu[isolated]) and np.isfinite(np.delete(state.vm_pu, isolated)).all()


def test_divergence_raises_loadflow_error_and_the_solver_recovers(
    make_feeder, reference_solve, assert_matches
) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    table = _table(feeder, 4, seed=2)
    lf = PandapowerLoadFlow(feeder, table)
    rng = np.random.default_rng(5)
    for step in range(3):  # get into the warm-start / recycle mode first
        lf.solve(step, 0.0, *_random_injections(feeder, table, rng))
    load_p, load_q, sgen_p, charging = _random_injections(feeder, table, rng)
    charging[2] = 50_000.0  # 50 MW at one LV bus
    with pytest.raises(LoadFlowError) as info:
        lf.solve(7, 2100.0, load_p, load_q, sgen_p, charging)
    err = info.value
    assert err.step == 7 and err.time_s == 2100.0
    assert "step 7" in str(err) and "t = 2100 s" in str(err)
    assert f"largest charging bus {table.bus[2]}" in str(err) and "charging" in err.state
    assert err.__cause__ is None and err.__suppress_context__  # no pandapower traceback attached
    for step in (8, 9):  # first call after the failure is a cold start, the next a warm one again
        args = _random_injections(feeder, table, rng)
        assert_matches(lf.solve(step, 0.0, *args), reference_solve(feeder, table.bus, *args), lf)


def test_non_finite_injection_is_a_loadflow_error(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    lf = PandapowerLoadFlow(feeder, ChargerTable(()))
    load_p = np.zeros(len(feeder.load_ids))
    load_p[0] = np.nan
    with pytest.raises(LoadFlowError, match="step 3.*non-finite"):
        lf.solve(3, 0.0, load_p, load_p * 0, [], [])


def test_wrong_lengths_are_programming_errors(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    lf = PandapowerLoadFlow(feeder, ChargerTable(()))
    n = len(feeder.load_ids)
    with pytest.raises(ValueError, match="load_p_kw has 2 values"):
        lf.solve(0, 0.0, np.zeros(2), np.zeros(n), [], [])
    with pytest.raises(ValueError, match="charger_p_kw"):
        lf.solve(0, 0.0, np.zeros(n), np.zeros(n), [], [1.0])
