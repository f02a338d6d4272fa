"""The live feeder: the site's [grid] solved with the measured charging power, sensitivities included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable
from sim.errors import ScenarioError
from sim.live.feeder import LiveFeeder
from sim.live.site_file import load_site, site_from_dict

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "live" / "site_example.toml"
NOON_S = datetime(2026, 4, 13, 10, 0, tzinfo=UTC).timestamp()


def test_charging_lowers_the_voltage_at_its_bus() -> None:
    site = load_site(EXAMPLE)
    feeder = LiveFeeder(site)
    idle = feeder.solve(NOON_S, site.chargers, np.zeros(len(site.chargers)))
    busy = feeder.solve(NOON_S, site.chargers, np.full(len(site.chargers), 11.0))
    bus36 = feeder.feeder.bus_ids.index(36)
    assert busy.vm_pu[bus36] < idle.vm_pu[bus36] - 1e-4
    assert busy.p_import_kw == pytest.approx(idle.p_import_kw + 77.0, rel=0.05)  # 7 x 11 kW (+ losses)
    assert busy.sensitivity is not None and busy.charger_p_kw is not None
    assert busy.sensitivity.dvm_dp_pu_per_kw(np.array([bus36]))[0, 0] < 0.0
    # the other loads follow the household profile on the wall clock: night differs from noon
    night = feeder.solve(NOON_S + 12 * 3600, site.chargers, np.zeros(len(site.chargers)))
    assert night.p_import_kw != pytest.approx(idle.p_import_kw)


def test_a_new_charger_table_rebuilds_the_load_flow() -> None:
    site = load_site(EXAMPLE)
    feeder = LiveFeeder(site)
    more = ChargerTable((*site.chargers.chargers, Charger("guest", 36)))
    state = feeder.solve(NOON_S, more, np.zeros(len(more)))
    assert state.charger_p_kw is not None and len(state.charger_p_kw) == len(more)
    with pytest.raises(ValueError, match="one value per charger"):
        feeder.solve(NOON_S, more, np.zeros(2))


def test_no_grid_no_feeder_and_unknown_buses_are_errors() -> None:
    assert LiveFeeder.for_site(site_from_dict({"chargers": [{"id": "cp1", "bus": 1}]})) is None
    bad = site_from_dict({"grid": {"network": "cigre_lv"}, "chargers": [{"id": "cp1", "bus": 9999}]}, "/tmp/x.toml")
    with pytest.raises(ScenarioError, match=r"chargers\[0\]\.bus: no such bus in the network; got 9999"):
        LiveFeeder(bad)
