"""Network sources: named builders, the IEEE conversion, pandapower JSON files, bad specs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
from pandapower.toolbox import nets_equal

from sim.domain import Charger, ChargerTable
from sim.errors import ScenarioError
from sim.grid import NETWORKS, PandapowerLoadFlow, load_network
from sim.grid.networks import symmetrize
from sim.scenario.schema import NETWORK_NAMES, GridSpec


def test_network_names_match_schema() -> None:
    assert tuple(NETWORKS) == NETWORK_NAMES


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_every_named_network_builds_and_solves(name, make_feeder, reference_solve, assert_matches) -> None:
    feeder = make_feeder(network=name)
    assert len(feeder.bus_ids) == len(feeder.net.bus) and feeder.load_bus_ids()
    assert feeder.net.asymmetric_load.empty
    bus = feeder.load_bus_ids()[-1]
    table = ChargerTable((Charger("c1", bus), Charger("c2", bus, phases=1, phase="L2")))
    lf = PandapowerLoadFlow(feeder, table)
    base = feeder.base_injections(np.array([18 * 3600.0]))
    args = (base.load_p_kw[0], base.load_q_kvar[0], base.sgen_p_kw[0], np.array([11.0, 3.7]))
    state = lf.solve(0, 18 * 3600.0, *args)
    assert state.vm_pu.shape == (len(feeder.bus_ids),)
    assert 0.8 < np.nanmin(state.vm_pu) <= np.nanmax(state.vm_pu) < 1.1
    assert state.p_import_kw > 14.7
    assert_matches(state, reference_solve(feeder, table.bus, *args), lf)


def test_ieee_asymmetric_loads_become_balanced_loads_of_equal_total() -> None:
    original = pn.ieee_european_lv_asymmetric()
    net = copy.deepcopy(original)
    symmetrize(net)
    asym = original.asymmetric_load
    assert net.asymmetric_load.empty and len(net.load) == len(asym) == 55
    np.testing.assert_array_equal(net.load["bus"].to_numpy(), asym["bus"].to_numpy())
    p_asym = asym[["p_a_mw", "p_b_mw", "p_c_mw"]].to_numpy().sum(axis=1)
    q_asym = asym[["q_a_mvar", "q_b_mvar", "q_c_mvar"]].to_numpy().sum(axis=1)
    np.testing.assert_allclose(net.load["p_mw"].to_numpy(), p_asym)
    np.testing.assert_allclose(net.load["q_mvar"].to_numpy(), q_asym)
    # pandapower's balanced runpp already sums asymmetric loads per bus: same solution.
    pp.runpp(original)
    pp.runpp(net)
    np.testing.assert_allclose(net.res_bus.vm_pu.to_numpy(), original.res_bus.vm_pu.to_numpy(), atol=1e-9)


def test_symmetrize_keeps_scaling_and_service_flag() -> None:
    net = pp.create_empty_network()
    b0, b1 = pp.create_bus(net, 0.4), pp.create_bus(net, 0.4)
    pp.create_asymmetric_load(
        net, b1, p_a_mw=0.001, p_b_mw=0.002, q_c_mvar=0.0005, scaling=0.5, in_service=False, name="x"
    )
    pp.create_asymmetric_sgen(net, b0, p_a_mw=0.003, name="pv")
    symmetrize(net)
    assert net.asymmetric_load.empty and net.asymmetric_sgen.empty
    load = net.load.iloc[0]
    assert (load["bus"], load["p_mw"], load["q_mvar"], load["scaling"]) == (
        b1,
        pytest.approx(0.003),
        0.0005,
        0.5,
    )
    assert not load["in_service"] and load["name"] == "x"
    assert net.sgen.iloc[0]["p_mw"] == pytest.approx(0.003)


def _spec_error(spec: GridSpec, base_dir: Path = Path(".")) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_network(spec, base_dir, scenario_file="s.toml")
    assert str(info.value).startswith("s.toml: ")
    return info.value


def test_unknown_network_name_lists_the_valid_names() -> None:
    err = _spec_error(GridSpec(network="kerber_atlantis"))
    assert err.key == "grid.network" and err.value == "kerber_atlantis"
    assert "kerber_dorfnetz" in str(err) and "cigre_lv" in str(err)


@pytest.mark.parametrize("spec", [GridSpec(), GridSpec(network="cigre_lv", simbench="1-LV-rural1--0-sw")])
def test_exactly_one_source(spec) -> None:
    assert _spec_error(spec).key == "grid"


def test_json_file_round_trip(tmp_path, make_feeder) -> None:
    net = NETWORKS["kerber_landnetz_kabel_1"]()
    pp.to_json(net, str(tmp_path / "feeder.json"))
    loaded, profiles = load_network(GridSpec(file=Path("feeder.json")), tmp_path)
    assert profiles is None
    assert nets_equal(net, loaded)
    named = make_feeder(network="kerber_landnetz_kabel_1")
    from_file = make_feeder(file=Path("feeder.json"), base_dir=tmp_path)
    assert from_file.bus_ids == named.bus_ids and from_file.load_ids == named.load_ids
    t = np.array([0.0, 3600.0])
    np.testing.assert_array_equal(from_file.base_injections(t).load_p_kw, named.base_injections(t).load_p_kw)
    empty = ChargerTable(())
    s_file = PandapowerLoadFlow(from_file, empty).solve(0, 0.0, *_injections(from_file), [])
    s_named = PandapowerLoadFlow(named, empty).solve(0, 0.0, *_injections(named), [])
    np.testing.assert_allclose(s_file.vm_pu, s_named.vm_pu, atol=1e-12)


def _injections(feeder):
    base = feeder.base_injections(np.array([0.0]))
    return base.load_p_kw[0], base.load_q_kvar[0], base.sgen_p_kw[0]


def test_json_file_asymmetric_loads_are_converted(tmp_path) -> None:
    net = pp.create_empty_network()
    b0, b1 = pp.create_bus(net, 0.4), pp.create_bus(net, 0.4)
    pp.create_ext_grid(net, b0)
    pp.create_line(net, b0, b1, 0.1, "NAYY 4x150 SE")
    pp.create_asymmetric_load(net, b1, p_a_mw=0.004, p_c_mw=0.002)
    pp.to_json(net, str(tmp_path / "asym.json"))
    loaded, _ = load_network(GridSpec(file=Path("asym.json")), tmp_path)
    assert loaded.asymmetric_load.empty and loaded.load["p_mw"].tolist() == [pytest.approx(0.006)]


def test_missing_json_file(tmp_path) -> None:
    err = _spec_error(GridSpec(file=Path("nope.json")), tmp_path)
    assert err.key == "grid.file" and "nope.json" in str(err)


@pytest.mark.parametrize("text", ["this is not json", '{"a": 1}', ""])
def test_unreadable_json_file(tmp_path, text) -> None:
    (tmp_path / "bad.json").write_text(text)
    err = _spec_error(GridSpec(file=Path("bad.json")), tmp_path)
    assert err.key == "grid.file" and "bad.json" in str(err) and "pandapower" in str(err)


def test_more_than_one_ext_grid_is_rejected(tmp_path) -> None:
    net = NETWORKS["kerber_landnetz_kabel_1"]()
    pp.create_ext_grid(net, bus=int(net.bus.index[-1]))
    pp.to_json(net, str(tmp_path / "two.json"))
    err = _spec_error(GridSpec(file=Path("two.json")), tmp_path)
    assert err.key == "grid.file" and "2 in-service external grids" in str(err)
    assert "exactly one ext_grid" in str(err)


def test_no_ext_grid_is_rejected(tmp_path) -> None:
    net = copy.deepcopy(NETWORKS["kerber_landnetz_kabel_1"]())
    net.ext_grid["in_service"] = False
    pp.to_json(net, str(tmp_path / "none.json"))
    assert "0 in-service external grids" in str(_spec_error(GridSpec(file=Path("none.json")), tmp_path))


def test_kerber_builds_are_reproducible_and_leave_global_random_alone(original_networks) -> None:
    import random

    build = original_networks["kerber_landnetz_kabel_2"]  # the real builder, not the test cache
    random.seed(123)
    expected_next = random.random()
    random.seed(123)
    first, second = build(), build()
    assert random.random() == expected_next
    assert first.line["std_type"].tolist() == second.line["std_type"].tolist()
    assert nets_equal(first, second)
