"""SimBench grids: loading by code, their absolute profiles by local time of year, bad codes."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import simbench as sb

from sim.domain import Charger, ChargerTable, Timebase
from sim.errors import ScenarioError
from sim.grid import PandapowerLoadFlow, build_feeder, load_network
from sim.scenario.schema import BaseLoadSpec, GridSpec, PvSpec

CODE = "1-LV-rural1--0-sw"
CET = timezone(timedelta(hours=1))
START = datetime(2016, 1, 18, tzinfo=CET)  # row 17 * 96 = 1632 of the SimBench year
ROW0 = 17 * 96


@pytest.fixture(scope="module")
def loaded():
    return load_network(GridSpec(simbench=CODE), Path("."))


@pytest.fixture
def offline(monkeypatch, loaded):
    """``build_feeder`` on copies of the loaded grid (no second 4-second SimBench load)."""
    monkeypatch.setattr("sim.grid.feeder.load_network", lambda *a, **k: copy.deepcopy(loaded))

    def make(start: datetime = START, stub=None, **spec):
        return build_feeder(
            GridSpec(simbench=CODE, **spec),
            Path("."),
            Timebase(start),
            np.random.default_rng(1),
            household=stub,
            pv=stub,
        )

    return make


def test_profiles_align_with_simbench_absolute_values(loaded) -> None:
    net, profiles = loaded
    assert profiles is not None and profiles.n_steps == 35136 and profiles.step_s == 900.0
    absolute = sb.get_absolute_values(copy.deepcopy(net), profiles_instead_of_study_cases=True)
    np.testing.assert_array_equal(profiles.load_p_mw, absolute["load", "p_mw"][net.load.index].to_numpy())
    np.testing.assert_array_equal(profiles.load_q_mvar, absolute["load", "q_mvar"][net.load.index].to_numpy())
    np.testing.assert_array_equal(profiles.sgen_p_mw, absolute["sgen", "p_mw"][net.sgen.index].to_numpy())
    assert len(net.ext_grid) == 1


def test_base_injections_follow_simbench_by_local_time_of_year(loaded, offline) -> None:
    _, profiles = loaded
    feeder = offline(base_load=BaseLoadSpec("simbench", 2.0))
    t_s = np.array([0.0, 899.0, 900.0, 10.25 * 3600.0])
    rows = ROW0 + np.array([0, 0, 1, 41])
    base = feeder.base_injections(t_s)
    np.testing.assert_allclose(base.load_p_kw, 2000.0 * profiles.load_p_mw[rows])
    np.testing.assert_allclose(base.load_q_kvar, 2000.0 * profiles.load_q_mvar[rows])
    np.testing.assert_allclose(base.sgen_p_kw, 1000.0 * profiles.sgen_p_mw[rows])  # sgens unscaled


def test_profile_rows_wrap_at_new_year(loaded, offline) -> None:
    _, profiles = loaded
    feeder = offline(start=datetime(2016, 12, 31, 23, 45, tzinfo=CET), base_load=BaseLoadSpec("simbench"))
    base = feeder.base_injections(np.array([0.0, 900.0, 1800.0]))
    np.testing.assert_allclose(base.load_p_kw, 1000.0 * profiles.load_p_mw[[35135, 0, 1]])


def test_household_base_load_keeps_simbench_sgens_and_adds_pv(loaded, offline, stub_profile) -> None:
    net, profiles = loaded
    feeder = offline(
        stub=stub_profile(0.5), base_load=BaseLoadSpec("household"), pv=PvSpec(share=0.5, kwp=5.0)
    )
    n_sb = len(net.sgen)
    assert len(feeder.sgen_ids) == n_sb + len(feeder.pv_sgen_ids) and feeder.pv_sgen_ids
    base = feeder.base_injections(np.array([0.0]))
    np.testing.assert_allclose(base.load_p_kw[0], 0.5 * net.load.p_mw.to_numpy() * 1000.0)
    np.testing.assert_allclose(base.sgen_p_kw[0, :n_sb], 1000.0 * profiles.sgen_p_mw[ROW0])
    np.testing.assert_allclose(base.sgen_p_kw[0, n_sb:], 2.5)


def test_simbench_grid_solves_like_runpp(offline, reference_solve, assert_matches) -> None:
    feeder = offline(base_load=BaseLoadSpec("simbench"))
    bus = feeder.load_bus_ids()[0]
    table = ChargerTable((Charger("a", bus), Charger("b", bus)))
    lf = PandapowerLoadFlow(feeder, table)
    base = feeder.base_injections(np.arange(0.0, 86400.0, 3 * 3600.0))
    for step in range(len(base)):
        args = (base.load_p_kw[step], base.load_q_kvar[step], base.sgen_p_kw[step], np.array([11.0, 22.0]))
        assert_matches(lf.solve(step, base.t_s[step], *args), reference_solve(feeder, table.bus, *args), lf)


def test_unknown_simbench_code_gives_examples() -> None:
    with pytest.raises(ScenarioError) as info:
        load_network(GridSpec(simbench="1-LV-rural9--0-sw"), Path("."), scenario_file="s.toml")
    err = info.value
    assert err.key == "grid.simbench" and err.value == "1-LV-rural9--0-sw"
    assert "1-LV-rural1--0-sw" in str(err) and "collect_all_simbench_codes" in str(err)
