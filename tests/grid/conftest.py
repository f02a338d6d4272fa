"""Shared fixtures of the grid-room tests: a time base and stand-in profiles (no data files), the five
feeders of issue 4 with their seeded chargers and random injections, and the independent runpp reference."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable, Timebase
from sim.grid import NETWORKS, build_feeder
from sim.scenario.schema import GridSpec, PvSpec

# Issue 4: the fast load flow equals pandapower's runpp within these, on every bus and branch.
VM_ATOL_PU = 1e-8
LOADING_ATOL_PERCENT = 1e-6
POWER_ATOL_KW = 1e-5

FEEDERS = {  # name: (GridSpec fields, PV kWp per PV bus); the five feeder kinds of issue 4
    "cigre_lv": ({"network": "cigre_lv"}, 30.0),
    "ieee_european_lv": ({"network": "ieee_european_lv"}, 8.0),
    "kerber_dorfnetz": ({"network": "kerber_dorfnetz"}, 10.0),
    "simbench_lv": ({"simbench": "1-LV-rural1--0-sw"}, 10.0),
    "simbench_mv": ({"simbench": "1-MV-rural--0-sw"}, 100.0),
}


class StubProfile:
    """A deterministic profile: ``level + amplitude * sin(2 pi t / 1 day)`` (sampled like ``Profile``)."""

    def __init__(self, level: float, amplitude: float = 0.0) -> None:
        self.level = level
        self.amplitude = amplitude

    def sample(self, timebase: Timebase, t_s) -> np.ndarray:
        t = np.asarray(t_s, dtype=float)
        return self.level + self.amplitude * np.sin(2 * np.pi * t / 86400.0)


@pytest.fixture(scope="session", autouse=True)
def original_networks():
    """Build each named network once per test session and hand out deep copies.

    A Kerber build takes up to 2 s (pandapower creates it element by element) and the builders
    are deterministic (``networks._fixed_draws``), so a copy is the same net. Yields the real
    builders for the tests that check the builders themselves.
    """
    originals = dict(NETWORKS)
    built: dict = {}

    def cached(name):
        def build():
            if name not in built:
                built[name] = originals[name]()
            return copy.deepcopy(built[name])

        return build

    with pytest.MonkeyPatch.context() as patch:
        for name in originals:
            patch.setitem(NETWORKS, name, cached(name))
        yield originals


@pytest.fixture(scope="session")
def stub_profile():
    """The ``StubProfile`` class (test modules cannot import conftest)."""
    return StubProfile


def _timebase() -> Timebase:
    return Timebase(datetime(2026, 1, 12, tzinfo=timezone(timedelta(hours=1))))


@pytest.fixture(scope="session")
def timebase() -> Timebase:
    return _timebase()


@pytest.fixture(scope="session")
def make_feeder(timebase):
    """``make_feeder(seed=0, household_profile=..., pv_profile=..., **GridSpec fields)``; the
    profiles default to stubs (household 0.6 +- 0.3, PV 0.4 +- 0.4 kW/kWp)."""
    return _feeder_maker(timebase)


def _feeder_maker(timebase: Timebase):
    """The ``make_feeder`` function on ``timebase`` (also for scripts, outside pytest)."""

    def make(seed: int = 0, household_profile=None, pv_profile=None, base_dir: Path = Path("."), **spec):
        return build_feeder(
            GridSpec(**spec),
            base_dir,
            timebase,
            np.random.default_rng(seed),
            scenario_file="test.toml",
            household=household_profile or StubProfile(0.6, 0.3),
            pv=pv_profile or StubProfile(0.4, 0.4),
        )

    return make


def _simbench_net(code: str):
    import simbench as sb

    return sb.get_simbench_net(code), None  # the net only: the tests draw their own injections


def _feeder_spec(name: str) -> dict:
    """How the feeder ``name`` of ``FEEDERS`` is built: GridSpec fields, ``build_feeder`` seed, PV."""
    grid, kwp = FEEDERS[name]
    return {"grid": dict(grid), "seed": 3, "pv": {"share": 0.6, "kwp": kwp}}


def _named_feeder(name: str, make_feeder):
    """The feeder ``name`` of ``FEEDERS`` (``_feeder_spec``); a SimBench grid is loaded without its
    year of profiles (the tests draw their own injections)."""
    spec = _feeder_spec(name)
    with pytest.MonkeyPatch.context() as patch:
        if "simbench" in spec["grid"]:
            patch.setattr("sim.grid.feeder.load_network", lambda s, *a, **k: _simbench_net(s.simbench))
        return make_feeder(seed=spec["seed"], pv=PvSpec(**spec["pv"]), **spec["grid"])


def _chargers(feeder, n: int, seed: int) -> ChargerTable:
    """``n`` chargers on load buses, two sharing a bus."""
    rng = np.random.default_rng(seed)
    buses = rng.choice(feeder.load_bus_ids(), size=n, replace=True)
    buses[1] = buses[0]
    return ChargerTable(tuple(Charger(f"c{k}", int(b)) for k, b in enumerate(buses)))


def _injections(feeder, table, rng, *, reverse: bool):
    """Random loads (0-150 % of rated; 0-10 % for reverse flow), PV/sgens (0-30 % of rated; 90-100 %
    for reverse flow) and charging (kW)."""
    rated_p = feeder.net.load.p_mw.to_numpy() * 1000.0
    rated_q = feeder.net.load.q_mvar.to_numpy() * 1000.0
    level = rng.uniform(0.0, 0.1 if reverse else 1.5, rated_p.size)
    sgen_level = rng.uniform(0.9, 1.0, len(feeder.sgen_ids)) if reverse else rng.uniform(0.0, 0.3, len(feeder.sgen_ids))
    sgen = feeder.net.sgen.p_mw.to_numpy() * 1000.0 * sgen_level
    charging = np.zeros(len(table)) if reverse else rng.uniform(0.0, 22.0, len(table))
    return level * rated_p, level * rated_q, sgen, charging


def _reference(feeder, charger_buses, load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw, tolerance_mva=1e-12):
    """An independent cold ``runpp`` (no numba, default options but a tight ``tolerance_mva``) on
    a deep copy of the feeder's net, with the charging power added as one plain load per charger
    (not summed per bus). The tight tolerance makes the reference exact to far below the 1e-6
    compared: at pandapower's default 1e-8 MVA the reference itself is off by up to 4e-6 %."""
    import pandapower as pp

    net = copy.deepcopy(feeder.net)
    net.load.loc[:, "p_mw"] = np.asarray(load_p_kw, dtype=float) / 1000.0
    net.load.loc[:, "q_mvar"] = np.asarray(load_q_kvar, dtype=float) / 1000.0
    if len(net.sgen):
        net.sgen.loc[:, "p_mw"] = np.asarray(sgen_p_kw, dtype=float) / 1000.0
    for bus, p_kw in zip(charger_buses, charger_p_kw, strict=True):
        pp.create_load(net, bus=int(bus), p_mw=float(p_kw) / 1000.0, q_mvar=0.0, name="reference ev")
    pp.runpp(net, numba=False, tolerance_mva=tolerance_mva)
    return net


def _assert_matches(state, net, lf) -> None:
    """GridState equals the reference net's results: 1e-6 pu, 1e-6 % loading, 1e-4 kW."""
    vm_ref = net.res_bus["vm_pu"].reindex(list(lf.bus_ids)).to_numpy(dtype=float)
    np.testing.assert_allclose(state.vm_pu, vm_ref, atol=1e-6, rtol=0, equal_nan=True)
    line_ref = net.res_line["loading_percent"].reindex(list(lf.line_ids)).to_numpy(dtype=float)
    np.testing.assert_allclose(state.line_loading_percent, line_ref, atol=1e-6, rtol=0, equal_nan=True)
    trafo_ref = net.res_trafo["loading_percent"].reindex(list(lf.trafo_ids)).to_numpy(dtype=float)
    np.testing.assert_allclose(state.trafo_loading_percent, trafo_ref, atol=1e-6, rtol=0, equal_nan=True)
    assert state.p_import_kw == pytest.approx(net.res_ext_grid["p_mw"].sum() * 1000.0, abs=1e-4)
    assert state.q_import_kvar == pytest.approx(net.res_ext_grid["q_mvar"].sum() * 1000.0, abs=1e-4)
    losses_ref = (net.res_line["pl_mw"].sum() + net.res_trafo["pl_mw"].sum()) * 1000.0
    assert state.losses_kw == pytest.approx(losses_ref, abs=1e-4)


@pytest.fixture(scope="session")
def reference_solve():
    return _reference


@pytest.fixture(scope="session")
def assert_matches():
    return _assert_matches
