"""FastLoadFlow equals pandapower's runpp (tight tolerance) on five kinds of feeder and a synthetic radial
network, one step at a time (warm-started, with the voltage angles) and in blocks, iterating on the
buses ``fast_reduce`` keeps and on every PQ bus; reverse flow; isolated buses; transformer taps;
fallback to pandapower counted; unsupported networks refused; ``make_loadflow``."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from sim.domain import ChargerTable
from sim.errors import LoadFlowError
from sim.grid import (
    BlockResult,
    FastLoadFlow,
    LoadFlow,
    PandapowerLoadFlow,
    UnsupportedNetworkError,
    make_loadflow,
)
from sim.grid.synthetic import radial_network
from sim.scenario.schema import PvSpec
from tests.grid.conftest import (
    FEEDERS,
    LOADING_ATOL_PERCENT,
    POWER_ATOL_KW,
    VM_ATOL_PU,
    _chargers,
    _injections,
    _named_feeder,
)
from tests.grid.conftest import _reference as conftest_reference

# the five feeders of issue 4, and a synthetic radial MV/LV network (sim.grid.synthetic, 700 buses)
CASES = [*FEEDERS, "synthetic_radial"]
# the fixed point on the buses fast_reduce keeps (the default) and on every PQ bus
PATHS = {"reduced": True, "all_buses": False}


@pytest.fixture(scope="module")
def feeders(make_feeder):
    """Each feeder of ``CASES`` built once, with its chargers, for both solver paths."""
    built = {}

    def get(name):
        if name not in built:
            if name == "synthetic_radial":
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr("sim.grid.feeder.load_network",
                                  lambda *a, **k: (radial_network(700, seed=11, n_stations=3), None))
                    feeder = make_feeder(seed=3, pv=PvSpec(share=0.6, kwp=8.0), file="synthetic.json")
            else:
                feeder = _named_feeder(name, make_feeder)
            built[name] = feeder, _chargers(feeder, 8, seed=5)
        return built[name]

    return get


@pytest.fixture(scope="module", params=[(f, p) for p in PATHS for f in CASES],
                ids=[f"{f}-{p}" for p in PATHS for f in CASES])
def case(request, feeders):
    name, path = request.param
    feeder, table = feeders(name)
    return name, feeder, table, FastLoadFlow(feeder, table, eliminate=PATHS[path])


def _reference(feeder, charger_buses, load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw):
    """The grid conftest's independent cold ``runpp`` at ``tolerance_mva=1e-10``: its default 1e-12
    MVA is more than Newton can reach on an MV grid's MW-sized flows in double precision."""
    return conftest_reference(feeder, charger_buses, load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw,
                              tolerance_mva=1e-10)


@pytest.fixture(scope="module")
def reference_solve():
    return _reference


def _assert_equal(state, net, lf) -> None:
    """The GridState equals the reference net's results within the tolerances of issue 4."""
    vm = net.res_bus["vm_pu"].reindex(list(lf.bus_ids)).to_numpy(dtype=float)
    np.testing.assert_allclose(state.vm_pu, vm, atol=VM_ATOL_PU, rtol=0, equal_nan=True)
    if state.va_degree is not None:  # one step: with the angles (1e-8 pu of |V| ~ 6e-7 degrees)
        va = net.res_bus["va_degree"].reindex(list(lf.bus_ids)).to_numpy(dtype=float)
        np.testing.assert_allclose(state.va_degree, va, atol=1e-6, rtol=0, equal_nan=True)
    for got, table, ids in (
        (state.line_loading_percent, net.res_line, lf.line_ids),
        (state.trafo_loading_percent, net.res_trafo, lf.trafo_ids),
    ):
        want = table["loading_percent"].reindex(list(ids)).to_numpy(dtype=float)
        np.testing.assert_allclose(got, want, atol=LOADING_ATOL_PERCENT, rtol=0, equal_nan=True)
    assert state.p_import_kw == pytest.approx(net.res_ext_grid["p_mw"].sum() * 1000.0, abs=POWER_ATOL_KW)
    assert state.q_import_kvar == pytest.approx(net.res_ext_grid["q_mvar"].sum() * 1000.0, abs=POWER_ATOL_KW)
    losses = (net.res_line["pl_mw"].sum() + net.res_trafo["pl_mw"].sum()) * 1000.0
    assert state.losses_kw == pytest.approx(losses, abs=POWER_ATOL_KW)


def test_single_steps_equal_runpp_with_reverse_flow(case, reference_solve) -> None:
    name, feeder, table, lf = case
    rng = np.random.default_rng(17)
    imports = []
    for step in range(8):
        args = _injections(feeder, table, rng, reverse=step % 3 == 2)
        state = lf.solve(step, 900.0 * step, *args)
        assert state.time_s == 900.0 * step
        _assert_equal(state, reference_solve(feeder, table.bus, *args), lf)
        imports.append(state.p_import_kw)
    assert min(imports) < 0.0 < max(imports), name  # reverse flow (PV export) was exercised
    assert lf.n_fallbacks == 0
    assert isinstance(lf, LoadFlow)


def test_block_equals_runpp_and_the_single_step_path(case, reference_solve) -> None:
    _, feeder, table, lf = case
    rng = np.random.default_rng(23)
    steps = [_injections(feeder, table, rng, reverse=k % 4 == 1) for k in range(6)]
    load_p, load_q, sgen_p, charging = (np.array(col) for col in zip(*steps, strict=True))
    block = lf.solve_block(load_p, load_q, sgen_p, charging, t_s=np.arange(6) * 60.0)
    assert isinstance(block, BlockResult) and len(block) == 6 and block.n_fallbacks == 0
    assert block.vm_pu.shape == (6, len(lf.bus_ids)) and block.line_loading_percent.shape == (6, len(lf.line_ids))
    assert block.vm_pu.flags.c_contiguous and block.line_loading_percent.flags.c_contiguous  # a row per step
    assert (block.iterations > 0).all()
    for k in (0, 1, 5):
        state = block.state(k)
        assert state.time_s == 60.0 * k
        _assert_equal(state, reference_solve(feeder, table.bus, *steps[k]), lf)
        single = lf.solve(k, 60.0 * k, *steps[k])
        np.testing.assert_allclose(state.vm_pu, single.vm_pu, atol=1e-9, rtol=0, equal_nan=True)


def test_block_results_do_not_depend_on_the_block_size(case) -> None:
    """Blocks of 1, 4 and the default size give the same results (each block starts from the last
    solution of the one before, so the iterates differ, below the tolerance)."""
    _, feeder, table, lf = case
    rng = np.random.default_rng(31)
    steps = [_injections(feeder, table, rng, reverse=k % 5 == 3) for k in range(9)]
    inputs = [np.array(col) for col in zip(*steps, strict=True)]
    default = lf.solve_block(*inputs)
    for size in (1, 4):
        eliminate = lf.model.n_kept < lf.model.pq.size
        block = FastLoadFlow(feeder, table, block_steps=size, eliminate=eliminate).solve_block(*inputs)
        # both within the tolerance (1e-9 pu) of the same solution
        np.testing.assert_allclose(block.vm_pu, default.vm_pu, atol=2e-9, rtol=0, equal_nan=True)
        np.testing.assert_allclose(block.line_loading_percent, default.line_loading_percent,
                                   atol=LOADING_ATOL_PERCENT, rtol=0, equal_nan=True)
        np.testing.assert_allclose(block.p_import_kw, default.p_import_kw, atol=POWER_ATOL_KW, rtol=1e-8)


def test_results_are_aligned_and_read_only(case) -> None:
    _, feeder, table, lf = case
    args = _injections(feeder, table, np.random.default_rng(0), reverse=False)
    state = lf.solve(0, 0.0, *args)
    assert state.vm_pu.shape == (len(feeder.bus_ids),)
    assert state.trafo_loading_percent.shape == (len(feeder.trafo_ids),)
    with pytest.raises(ValueError):
        state.vm_pu[0] = 2.0
    assert len(feeder.net.load) == len(feeder.load_ids)  # the feeder's net is untouched


@pytest.fixture(scope="module")
def kerber(make_feeder):
    feeder = make_feeder(network="kerber_landnetz_kabel_1", pv=PvSpec(share=0.5, kwp=8.0))
    return feeder, _chargers(feeder, 4, seed=2)


@pytest.mark.core  # also run with the numpy/scipy twin of the kernels (SIM_NO_EXT=1)
def test_isolated_buses_and_out_of_service_lines_match_runpp(kerber, reference_solve) -> None:
    feeder, table = kerber
    feeder = copy.copy(feeder)
    feeder.net = copy.deepcopy(feeder.net)
    cut = feeder.net.line.index[-3]
    feeder.net.line.loc[cut, "in_service"] = False
    lf = FastLoadFlow(feeder, table)
    rng = np.random.default_rng(1)
    for step in range(3):
        args = _injections(feeder, table, rng, reverse=False)
        state = lf.solve(step, 0.0, *args)
        _assert_equal(state, reference_solve(feeder, table.bus, *args), lf)
    isolated = feeder.bus_ids.index(int(feeder.net.line.at[cut, "to_bus"]))
    assert np.isnan(state.vm_pu[isolated]) and np.isnan(state.line_loading_percent[feeder.line_ids.index(cut)])


def test_transformer_tap_and_shunt_come_from_pandapower(kerber, reference_solve) -> None:
    feeder, table = kerber
    feeder = copy.copy(feeder)
    feeder.net = copy.deepcopy(feeder.net)
    trafo = feeder.net.trafo.index[0]
    tap = {"tap_changer_type": "Ratio", "tap_side": "hv", "tap_neutral": 0, "tap_min": -2, "tap_max": 2,
           "tap_step_percent": 2.5, "tap_step_degree": 0.0, "tap_pos": -2}
    for column, value in tap.items():
        if isinstance(value, str):
            feeder.net.trafo[column] = feeder.net.trafo[column].astype(object)
        feeder.net.trafo.at[trafo, column] = value
    pp.create_shunt(feeder.net, bus=feeder.load_bus_ids()[0], q_mvar=-0.005, p_mw=0.0)
    lf = FastLoadFlow(feeder, table)
    args = _injections(feeder, table, np.random.default_rng(2), reverse=False)
    state = lf.solve(0, 0.0, *args)
    _assert_equal(state, reference_solve(feeder, table.bus, *args), lf)
    untapped = FastLoadFlow(kerber[0], table).solve(0, 0.0, *args)
    assert np.nanmin(state.vm_pu[1:] - untapped.vm_pu[1:]) > 0.02  # the tap moved every LV voltage


def test_a_step_that_does_not_converge_falls_back_and_is_counted(kerber, reference_solve) -> None:
    feeder, table = kerber
    lf = FastLoadFlow(feeder, table, max_iter=2)
    rng = np.random.default_rng(4)
    args = _injections(feeder, table, rng, reverse=False)
    state = lf.solve(0, 0.0, *args)  # two iterations are not enough: pandapower solves it
    assert lf.n_fallbacks == 1
    _assert_equal(state, reference_solve(feeder, table.bus, *args), lf)
    zero = (np.zeros(len(feeder.load_ids)), np.zeros(len(feeder.load_ids)), np.zeros(len(feeder.sgen_ids)),
            np.zeros(len(table)))
    lf.solve(1, 0.0, *zero)  # no load: the no-load voltage is the solution at once
    assert lf.n_fallbacks == 1


@pytest.mark.core
def test_block_fallback_marks_its_steps(kerber, reference_solve) -> None:
    feeder, table = kerber
    lf = FastLoadFlow(feeder, table, max_iter=3)
    rng = np.random.default_rng(6)
    steps = [_injections(feeder, table, rng, reverse=False) for _ in range(4)]
    steps[2] = tuple(0.0 * a for a in steps[2])
    block = lf.solve_block(*(np.array(col) for col in zip(*steps, strict=True)))
    assert block.fallback.tolist() == [True, True, False, True] and block.n_fallbacks == lf.n_fallbacks == 3
    assert block.iterations.tolist()[2] >= 1 and block.iterations[block.fallback].tolist() == [0, 0, 0]
    for k in range(4):
        _assert_equal(block.state(k), reference_solve(feeder, table.bus, *steps[k]), lf)


def test_diverging_step_raises_loadflow_error_naming_it(kerber) -> None:
    feeder, table = kerber
    lf = FastLoadFlow(feeder, table)
    rng = np.random.default_rng(8)
    steps = [_injections(feeder, table, rng, reverse=False) for _ in range(3)]
    steps[1][3][2] = 50_000.0  # 50 MW at one LV bus: neither the fixed point nor Newton converges
    with pytest.raises(LoadFlowError) as info:
        lf.solve_block(*(np.array(col) for col in zip(*steps, strict=True)), t_s=[0.0, 900.0, 1800.0],
                       first_step=40)
    assert info.value.step == 41 and info.value.time_s == 900.0
    assert lf.n_fallbacks == 0  # the block raised before it counted
    with pytest.raises(LoadFlowError, match="step 7"):
        lf.solve(7, 0.0, *steps[1])
    assert lf.n_fallbacks == 1
    state = lf.solve(8, 0.0, *steps[0])  # and it recovers
    assert np.isfinite(state.vm_pu).all()


def test_non_finite_injection_is_a_loadflow_error(kerber) -> None:
    feeder, table = kerber
    lf = FastLoadFlow(feeder, table)
    args = list(_injections(feeder, table, np.random.default_rng(9), reverse=False))
    args[0] = args[0].copy()
    args[0][1] = np.nan
    with pytest.raises(LoadFlowError, match="non-finite"):
        lf.solve(3, 0.0, *args)
    with pytest.raises(LoadFlowError, match="non-finite"):
        lf.solve_block(*(a[None, :] for a in args))


def test_wrong_shapes_are_programming_errors(kerber) -> None:
    feeder, table = kerber
    lf = FastLoadFlow(feeder, table)
    n, m = len(feeder.load_ids), len(feeder.sgen_ids)
    with pytest.raises(ValueError, match="load_p_kw has 2 values"):
        lf.solve(0, 0.0, np.zeros(2), np.zeros(n), np.zeros(m), np.zeros(len(table)))
    with pytest.raises(ValueError, match=r"charger_p_kw has shape \(3, 1\), expected \(3, 4\)"):
        lf.solve_block(np.zeros((3, n)), np.zeros((3, n)), np.zeros((3, m)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="t_s has 2 values for 3 steps"):
        lf.solve_block(np.zeros((3, n)), np.zeros((3, n)), np.zeros((3, m)), np.zeros((3, 4)), t_s=[0.0, 1.0])


def test_unsupported_networks_are_refused_with_the_reason(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    pp.create_gen(feeder.net, bus=feeder.load_bus_ids()[0], p_mw=0.01, vm_pu=1.0)
    with pytest.raises(UnsupportedNetworkError, match="voltage-controlled"):
        FastLoadFlow(feeder, ChargerTable(()))
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    feeder.net.load.loc[feeder.net.load.index[2], "const_z_p_percent"] = 50.0
    with pytest.raises(UnsupportedNetworkError, match=r"voltage dependent.*pandapower"):
        FastLoadFlow(feeder, ChargerTable(()))


def test_make_loadflow_by_name(kerber) -> None:
    feeder, table = kerber
    assert isinstance(make_loadflow(feeder, table, "pandapower"), PandapowerLoadFlow)
    fast = make_loadflow(feeder, table, "fast")
    assert isinstance(fast, FastLoadFlow) and isinstance(fast, LoadFlow)
    assert fast.backend in ("cython", "python")
    with pytest.raises(ValueError, match="unknown load-flow solver 'newton'; expected one of pandapower, fast"):
        make_loadflow(feeder, table, "newton")
