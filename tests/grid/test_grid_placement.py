"""Charger placement: explicit buses, the two seeded rules, phases, ids and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import ChargerTable
from sim.errors import ScenarioError
from sim.grid import place_chargers
from sim.scenario.schema import ChargerSpec


@pytest.fixture(scope="module")
def feeder(make_feeder):
    return make_feeder(network="kerber_dorfnetz")  # 57 loads on 57 buses


def place(feeder, *specs, seed=0):
    return place_chargers(specs, feeder, np.random.default_rng(seed), "s.toml")


def error(feeder, *specs) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        place(feeder, *specs)
    assert str(info.value).startswith("s.toml: chargers[")
    return info.value


def test_explicit_charger_keeps_its_fields(feeder) -> None:
    bus = feeder.load_bus_ids()[3]
    spec = ChargerSpec(
        charger_id="office-1",
        bus=bus,
        phases=1,
        phase="L2",
        max_current_a=32.0,
        min_current_a=8.0,
        efficiency=0.9,
        kind="work",
    )
    (charger,), kinds = place(feeder, spec)
    assert (charger.charger_id, charger.bus, charger.phases, charger.phase) == ("office-1", bus, 1, "L2")
    assert (charger.max_current_a, charger.min_current_a, charger.efficiency) == (32.0, 8.0, 0.9)
    assert kinds == ("work",) and charger.kind == "work"


def test_explicit_unknown_bus_lists_valid_buses(feeder) -> None:
    err = error(feeder, ChargerSpec(charger_id="a", bus=1), ChargerSpec(charger_id="b", bus=9999))
    assert err.key == "chargers[1].bus" and err.value == 9999
    assert f"0..{max(feeder.bus_ids)}" in str(err) and str(feeder.load_bus_ids()[0]) in str(err)


def test_explicit_bus_out_of_service(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    feeder.net.bus.loc[5, "in_service"] = False
    assert "out of service" in str(error(feeder, ChargerSpec(charger_id="a", bus=5)))


def test_per_load_bus_takes_a_sorted_share(feeder) -> None:
    load_buses = feeder.load_bus_ids()
    chargers, _ = place(feeder, ChargerSpec(place="per_load_bus", share=1.0, id_prefix="hh"))
    assert [c.bus for c in chargers] == list(load_buses)
    assert [c.charger_id for c in chargers[:2]] == ["hh001", "hh002"] and chargers[-1].charger_id == "hh057"
    half, _ = place(feeder, ChargerSpec(place="per_load_bus", share=0.5))
    buses = [c.bus for c in half]
    assert (
        len(buses) == round(0.5 * len(load_buses))
        and buses == sorted(set(buses))
        and set(buses) <= set(load_buses)
    )
    assert [c.bus for c in place(feeder, ChargerSpec(place="per_load_bus", share=0.5))[0]] == buses
    assert [c.bus for c in place(feeder, ChargerSpec(place="per_load_bus", share=0.5), seed=1)[0]] != buses


def test_random_load_buses_without_then_with_replacement(feeder) -> None:
    n = len(feeder.load_bus_ids())
    few, _ = place(feeder, ChargerSpec(place="random_load_buses", count=20))
    assert len({c.bus for c in few}) == 20 and {c.bus for c in few} <= set(feeder.load_bus_ids())
    many, _ = place(feeder, ChargerSpec(place="random_load_buses", count=n + 30))
    buses = [c.bus for c in many]
    assert len(buses) == n + 30 and buses == sorted(buses) and len(set(buses)) < len(buses)
    assert set(buses) <= set(feeder.load_bus_ids())
    assert len(ChargerTable(many)) == n + 30  # ids unique


def test_random_phase_is_seeded(feeder) -> None:
    spec = ChargerSpec(place="random_load_buses", count=30, phases=1, phase="random")
    chargers, _ = place(feeder, spec, seed=3)
    phases = [c.phase for c in chargers]
    assert set(phases) == {"L1", "L2", "L3"} and all(c.phases == 1 for c in chargers)
    assert [c.phase for c in place(feeder, spec, seed=3)[0]] == phases


def test_several_entries_in_order_with_kinds(feeder) -> None:
    chargers, kinds = place(
        feeder,
        ChargerSpec(place="random_load_buses", count=3, id_prefix="home", kind="home"),
        ChargerSpec(charger_id="pub", bus=feeder.load_bus_ids()[0], kind="public"),
        ChargerSpec(place="per_load_bus", share=0.1, id_prefix="w", kind="work"),
    )
    assert [c.charger_id for c in chargers[:4]] == ["home001", "home002", "home003", "pub"]
    assert kinds == ("home",) * 3 + ("public",) + ("work",) * (len(chargers) - 4)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        (ChargerSpec(charger_id="cp001", bus=1), "chargers[1].id"),
        (ChargerSpec(place="per_load_bus", share=0.2), "chargers[1].id_prefix"),
    ],
)
def test_duplicate_ids_across_entries(feeder, spec, key) -> None:
    err = error(feeder, ChargerSpec(place="random_load_buses", count=2), spec)
    assert err.key == key and "also made by chargers[0]" in str(err) and err.value == "cp001"


@pytest.mark.parametrize(
    ("spec", "key", "text"),
    [
        (ChargerSpec(), "chargers[0]", "either bus"),
        (ChargerSpec(bus=1, place="per_load_bus"), "chargers[0]", "either bus"),
        (ChargerSpec(place="everywhere"), "chargers[0].place", "per_load_bus, random_load_buses"),
        (ChargerSpec(place="random_load_buses"), "chargers[0].count", "integer >= 0"),
        (ChargerSpec(place="random_load_buses", count=-2), "chargers[0].count", "integer >= 0"),
        (ChargerSpec(place="per_load_bus", share=1.2), "chargers[0].share", "[0, 1]"),
        (ChargerSpec(bus=1, phases=2), "chargers[0].phases", "1 or 3"),
        (ChargerSpec(bus=1, phases=1), "chargers[0].phase", "L1, L2, L3 or random"),
        (ChargerSpec(bus=1, phases=3, phase="random"), "chargers[0].phase", "L1L2L3"),
    ],
)
def test_bad_entries_name_the_key(feeder, spec, key, text) -> None:
    err = error(feeder, spec)
    assert err.key == key and text in str(err)


def test_rules_need_load_buses(make_feeder) -> None:
    feeder = make_feeder(network="kerber_landnetz_kabel_1")
    feeder.net.load["in_service"] = False
    err = error(feeder, ChargerSpec(place="per_load_bus"))
    assert err.key == "chargers[0].place" and "no load buses" in str(err)
