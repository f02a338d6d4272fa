"""Feeder: orderings, load buses, distances, base injections (household / none / PV), scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower as pp
import pytest

from sim.errors import ScenarioError
from sim.grid import NETWORKS, BaseInjections
from sim.scenario.profiles import household_profile, pv_profile
from sim.scenario.schema import BaseLoadSpec, GridSpec, PvSpec

T_S = np.arange(0.0, 2 * 86400.0, 900.0)


@pytest.fixture(scope="module")
def cigre(make_feeder):
    return make_feeder(network="cigre_lv", base_load=BaseLoadSpec("household", 1.5))


def test_orderings_follow_the_net(cigre) -> None:
    net = cigre.net
    assert cigre.bus_ids == tuple(net.bus.index) and len(cigre.bus_names) == len(net.bus)
    assert cigre.line_ids == tuple(net.line.index) and cigre.trafo_ids == tuple(net.trafo.index)
    assert cigre.load_ids == tuple(net.load.index) and cigre.sgen_ids == tuple(net.sgen.index)
    assert cigre.bus_names[0] == "Bus 0"
    assert cigre.ext_grid_bus == int(net.ext_grid.bus.iloc[0])


def test_load_buses_are_sorted_unique_in_service_load_buses(cigre) -> None:
    expected = sorted(set(cigre.net.load.bus.astype(int)))
    assert list(cigre.load_bus_ids()) == expected


def test_bus_distance_adds_line_lengths_along_the_radial_feeder(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    dist = dict(zip(feeder.bus_ids, feeder.bus_distance_km(), strict=True))
    assert dist[feeder.ext_grid_bus] == 0.0
    trafo = feeder.net.trafo.iloc[0]
    assert dist[int(trafo.lv_bus)] == 0.0  # transformers count 0 km
    for line in feeder.net.line.itertuples():
        assert abs(dist[line.to_bus] - dist[line.from_bus]) == pytest.approx(line.length_km)
    assert max(dist.values()) > 0.3


def test_unreachable_bus_has_nan_distance(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    leaf = int(feeder.net.line.to_bus.iloc[-1])
    feeder.net.line.loc[feeder.net.line.to_bus == leaf, "in_service"] = False
    dist = feeder.bus_distance_km()
    assert (
        np.isnan(dist[feeder.bus_ids.index(leaf)])
        and np.isfinite(np.delete(dist, feeder.bus_ids.index(leaf))).all()
    )


def test_household_injections_are_profile_times_rating_times_scale(cigre, timebase, stub_profile) -> None:
    base = cigre.base_injections(T_S)
    assert isinstance(base, BaseInjections) and len(base) == T_S.size
    assert base.load_p_kw.shape == base.load_q_kvar.shape == (T_S.size, len(cigre.load_ids))
    assert base.sgen_p_kw.shape == (T_S.size, 0)
    shape = stub_profile(0.6, 0.3).sample(timebase, T_S)
    rated_p = cigre.net.load.p_mw.to_numpy() * 1000.0
    rated_q = cigre.net.load.q_mvar.to_numpy() * 1000.0
    np.testing.assert_allclose(base.load_p_kw, 1.5 * shape[:, None] * rated_p[None, :])
    np.testing.assert_allclose(
        base.load_q_kvar / base.load_p_kw, np.broadcast_to(rated_q / rated_p, base.load_p_kw.shape)
    )


def test_scale_and_none_profile(make_feeder) -> None:
    one = make_feeder(network="kerber_landnetz_kabel_1").base_injections(T_S)
    two = make_feeder(
        network="kerber_landnetz_kabel_1", base_load=BaseLoadSpec("household", 2.0)
    ).base_injections(T_S)
    np.testing.assert_allclose(two.load_p_kw, 2 * one.load_p_kw)
    none = make_feeder(network="kerber_landnetz_kabel_1", base_load=BaseLoadSpec("none")).base_injections(T_S)
    assert (
        none.load_p_kw.shape == one.load_p_kw.shape
        and not none.load_p_kw.any()
        and not none.load_q_kvar.any()
    )


def test_pv_at_a_seeded_share_of_load_buses(make_feeder, timebase, stub_profile) -> None:
    spec = dict(network="kerber_dorfnetz", pv=PvSpec(share=0.3, kwp=6.0))
    feeder = make_feeder(seed=5, **spec)
    load_buses = feeder.load_bus_ids()
    pv = feeder.net.sgen.loc[list(feeder.pv_sgen_ids)]
    assert len(pv) == round(0.3 * len(load_buses))
    assert set(pv.bus) <= set(load_buses) and list(pv.bus) == sorted(set(pv.bus))
    assert (pv.p_mw == 0.006).all() and all(n.startswith("pv@") for n in pv.name)
    assert list(make_feeder(seed=5, **spec).net.sgen.bus) == list(pv.bus)
    assert list(make_feeder(seed=6, **spec).net.sgen.bus) != list(pv.bus)
    base = feeder.base_injections(T_S)
    expected = stub_profile(0.4, 0.4).sample(timebase, T_S) * 6.0
    np.testing.assert_allclose(base.sgen_p_kw, np.repeat(expected[:, None], len(pv), axis=1))


def test_existing_sgens_of_other_nets_stay_static(tmp_path, make_feeder) -> None:
    net = NETWORKS["kerber_landnetz_kabel_1"]()
    pp.create_sgen(net, int(net.load.bus.iloc[0]), p_mw=0.01, scaling=0.5)
    pp.to_json(net, str(tmp_path / "net.json"))
    feeder = make_feeder(file=Path("net.json"), base_dir=tmp_path)
    base = feeder.base_injections(T_S)
    np.testing.assert_allclose(base.sgen_p_kw, 5.0)  # 10 kW x scaling 0.5, folded into p_mw
    assert (feeder.net.sgen.scaling == 1.0).all()


def test_load_scaling_is_folded_into_the_rating(tmp_path, make_feeder, stub_profile) -> None:
    net = NETWORKS["kerber_landnetz_kabel_1"]()
    net.load.loc[net.load.index[0], "scaling"] = 0.25
    pp.to_json(net, str(tmp_path / "net.json"))
    feeder = make_feeder(file=Path("net.json"), base_dir=tmp_path, household_profile=stub_profile(1.0))
    base = feeder.base_injections(np.array([0.0]))
    assert base.load_p_kw[0, 0] == pytest.approx(0.25 * base.load_p_kw[0, 1])
    assert (feeder.net.load.scaling == 1.0).all()


def test_shipped_profiles_are_the_default(timebase) -> None:
    from sim.grid import build_feeder

    spec = GridSpec(network="kerber_landnetz_kabel_1", pv=PvSpec(share=0.5, kwp=4.0))
    feeder = build_feeder(spec, Path("."), timebase, np.random.default_rng(0))
    base = feeder.base_injections(T_S)
    rated = feeder.net.load.p_mw.to_numpy() * 1000.0
    np.testing.assert_allclose(base.load_p_kw, household_profile().sample(timebase, T_S)[:, None] * rated)
    np.testing.assert_allclose(base.sgen_p_kw[:, 0], 4.0 * pv_profile().sample(timebase, T_S))


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"base_load": BaseLoadSpec("simbench")}, "grid.base_load.profile"),
        ({"base_load": BaseLoadSpec("standard")}, "grid.base_load.profile"),
        ({"base_load": BaseLoadSpec("household", -1.0)}, "grid.base_load.scale"),
        ({"pv": PvSpec(share=1.5)}, "grid.pv.share"),
        ({"pv": PvSpec(share=0.5, kwp=float("nan"))}, "grid.pv.kwp"),
    ],
)
def test_bad_grid_specs_name_the_key(make_feeder, changes, key) -> None:
    with pytest.raises(ScenarioError) as info:
        make_feeder(network="kerber_landnetz_kabel_1", **changes)
    assert info.value.key == key and str(info.value).startswith("test.toml: " + key)


def test_peak_kw_gives_every_load_the_same_peak_with_its_own_power_factor(make_feeder) -> None:
    own = make_feeder(network="ieee_european_lv", base_load=BaseLoadSpec("household"))
    uniform = make_feeder(network="ieee_european_lv", base_load=BaseLoadSpec("household", 1.0, peak_kw=4.0))
    t = np.arange(0.0, 86400.0, 900.0)
    b_own, b_uni = own.base_injections(t), uniform.base_injections(t)
    shape = b_own.load_p_kw[:, 0] / own.net.load.p_mw.iloc[0] / 1000.0 if own.net.load.p_mw.iloc[0] else None
    assert np.allclose(b_uni.load_p_kw.max(axis=0), b_uni.load_p_kw.max())  # one peak for all loads
    assert np.allclose(b_uni.load_p_kw, b_uni.load_p_kw[:, :1])
    if shape is not None:
        assert np.allclose(b_uni.load_p_kw[:, 0], shape * 4.0)
    p, q = own.net.load.p_mw.to_numpy(), own.net.load.q_mvar.to_numpy()
    ratio = np.divide(q, p, out=np.zeros_like(q), where=p != 0)
    assert np.allclose(b_uni.load_q_kvar, b_uni.load_p_kw * ratio[None, :])
