"""The live tracker: events in, the simulator's SiteView out, and every registered strategy runs on it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from sim.domain import Setpoints, SiteView
from sim.live.events import (
    Capabilities,
    ChargerConnected,
    ChargerDisconnected,
    ChargingNeeds,
    MeterSample,
    SessionEnded,
    SessionStarted,
    StatusChanged,
)
from sim.live.feeder import LiveFeeder
from sim.live.site_file import LiveSite, site_from_dict
from sim.live.tracker import VEHICLE_MARGIN_A, LiveTracker, SessionRef
from sim.scenario.schema import BUILTIN_KINDS
from sim.strategies import available, create
from sim.strategies.base import check_setpoints
from tests.strategies._sites import check_feasible

T0 = datetime(2026, 4, 13, 8, 0, tzinfo=UTC).timestamp()  # a Monday, 10:00 in Berlin
PERIOD_S = 30.0


def site_dict(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "time_zone": "Europe/Berlin",
        "base_load_kw": 5.0,
        "chargers": [
            {"id": "cp1", "bus": 1, "max_current_a": 32, "kind": "work", "efficiency": 0.9},
            {"id": "cp2", "bus": 1, "phases": 1, "phase": "L2", "max_current_a": 16},
            {"id": "cp3", "bus": 2, "max_current_a": 16, "current_step_a": 0.1},
        ],
        "site": {"import_limit_kw": 30.0, "limits": [
            {"id": "fuse", "max_current_a": 40},
            {"id": "sub", "parent": "fuse", "max_current_a": 25, "chargers": ["cp1", "cp2"]},
        ]},
        "tariff": {"price_per_kwh": 0.30, "periods": [{"start_h": 11, "end_h": 15, "price_per_kwh": 0.10}]},
        "strategy": {"name": "edf"},
    }
    data.update(extra)
    return data


@pytest.fixture
def site() -> LiveSite:
    return site_from_dict(site_dict())


def started(cid: str, tx: str, t_s: float, connector: int = 1, meter_wh: float | None = 1000.0) -> SessionStarted:
    return SessionStarted(cid, connector, tx, t_s, id_tag="tag", meter_start_wh=meter_wh)


def busy_tracker(site: LiveSite) -> LiveTracker:
    """cp1 and cp3 charging, cp2 idle."""
    tr = LiveTracker(site)
    for cid in ("cp1", "cp2", "cp3"):
        tr.apply(ChargerConnected(cid, T0 - 100, "1.6"))
    tr.apply(started("cp1", "11", T0 - 3600))
    tr.apply(MeterSample("cp1", 1, T0 - 60, "11", power_w=22000.0, energy_wh=11000.0, current_a=(31.9, 31.8, 32.0),
                         offered_current_a=32.0))
    tr.apply(started("cp3", "31", T0 - 600, meter_wh=None))
    tr.apply(MeterSample("cp3", 1, T0 - 300, None, power_w=6900.0))
    tr.apply(MeterSample("cp3", 1, T0 - 0, None, power_w=6900.0))
    return tr


def test_view_has_the_simulator_shape(site: LiveSite) -> None:
    view = busy_tracker(site).view(T0, PERIOD_S)
    assert isinstance(view, SiteView) and view.time_s == T0 and view.period_s == PERIOD_S
    assert view.chargers.ids == ("cp1", "cp2", "cp3")
    s = view.sessions
    assert s.session_ids == ("cp1:11", "cp3:31")  # plug-in order
    np.testing.assert_array_equal(s.charger_index, [0, 2])
    np.testing.assert_array_equal(s.arrival_s, [T0 - 3600, T0 - 600])
    # cp1: register 11000 - meterStart 1000 Wh, vehicle side at efficiency 0.9; cp3: 6.9 kW over 300 s, eff 0.95
    np.testing.assert_allclose(s.energy_delivered_kwh, [10.0 * 0.9, 6.9 * 300 / 3600 * 0.95])
    np.testing.assert_array_equal(s.max_current_a, [32.0, 16.0])
    work, home = BUILTIN_KINDS["work"], BUILTIN_KINDS["home"]
    np.testing.assert_allclose(s.departure_s, [T0 - 3600 + work.dwell_h_mean * 3600, T0 - 600 + home.dwell_h_mean * 3600])
    np.testing.assert_allclose(s.energy_requested_kwh, [work.energy_kwh_mean, home.energy_kwh_mean])
    for array in (s.charger_index, s.arrival_s, s.departure_s, s.energy_requested_kwh, s.energy_delivered_kwh,
                  s.max_current_a):
        assert not array.flags.writeable
    # constraints: the limits tree, and the import row at 30 kW minus the 5 kW base load
    assert view.constraints is not None and view.base_load_kw == 5.0
    assert view.constraints.row_names == ("fuse:L1", "fuse:L2", "fuse:L3", "sub:L1", "sub:L2", "sub:L3", "import_kw")
    assert view.constraints.limit[-1] == pytest.approx(25.0)
    np.testing.assert_allclose(view.constraints.dense()[4], [1.0, 1.0, 0.0])  # cp2 loads L2 of the sub-circuit only
    # persistence forecast: base load now, no PV, the tariff in Berlin time (10:00 now; 11-15 h cheap)
    fc = view.forecast
    assert fc is not None and fc.step_s == 900.0 and len(fc.base_load_kw) == 96
    assert np.all(fc.base_load_kw == 5.0) and np.all(fc.pv_kw == 0.0)
    # steps from 10:00 Berlin: 11:00-15:00 (steps 4..19) cheap
    np.testing.assert_array_equal(fc.price_per_kwh[:24], [0.30] * 4 + [0.10] * 16 + [0.30] * 4)
    np.testing.assert_allclose(busy_tracker(site).measured_current_a(), [32.0, 0.0, 10.0])
    np.testing.assert_allclose(busy_tracker(site).measured_power_kw(), [22.0, 0.0, 6.9])


def test_charging_needs_and_estimates(site: LiveSite) -> None:
    tr = busy_tracker(site)
    tr.apply(ChargingNeeds("cp1", "11", T0, departure_t_s=T0 + 7200, energy_requested_wh=30000.0))
    s = tr.view(T0, PERIOD_S).sessions
    assert s.departure_s[0] == T0 + 7200 and s.energy_requested_kwh[0] == 30.0
    # an estimated departure already past moves to one period from now; the estimated energy never
    # shows a vehicle that still charges as done
    late = T0 + 48 * 3600
    s = tr.view(late, PERIOD_S).sessions
    assert s.departure_s[1] == late + PERIOD_S
    tr.apply(MeterSample("cp3", 1, late, None, power_w=6900.0))
    s = tr.view(late, PERIOD_S).sessions
    assert s.energy_remaining_kwh[1] > 0.0


def test_vehicle_limit_is_learned_and_suspended_ev_keeps_the_minimum(site: LiveSite) -> None:
    tr = busy_tracker(site)
    tr.apply(MeterSample("cp1", 1, T0, "11", current_a=(16.2, 16.1, 16.0), offered_current_a=32.0))
    assert tr.view(T0, PERIOD_S).sessions.max_current_a[0] == 32.0  # limited now, but it drew 32 A before
    tr2 = LiveTracker(site)
    tr2.apply(started("cp1", "5", T0))
    tr2.apply(MeterSample("cp1", 1, T0 + 10, "5", current_a=(16.0, 16.0, 16.0), offered_current_a=32.0))
    assert tr2.view(T0 + 20, PERIOD_S).sessions.max_current_a[0] == 16.0 + VEHICLE_MARGIN_A
    tr2.apply(StatusChanged("cp1", 1, T0 + 30, "SuspendedEV"))
    assert tr2.view(T0 + 40, PERIOD_S).sessions.max_current_a[0] == 6.0
    tr2.apply(StatusChanged("cp1", 1, T0 + 50, "Charging"))
    assert tr2.view(T0 + 60, PERIOD_S).sessions.max_current_a[0] == 16.0 + VEHICLE_MARGIN_A


def test_sessions_survive_reconnects_and_end_on_stop(site: LiveSite) -> None:
    tr = busy_tracker(site)
    tr.apply(ChargerDisconnected("cp1", T0))
    tr.apply(ChargerConnected("cp1", T0 + 5, "1.6"))
    tr.apply(started("cp1", "11", T0 - 3600))  # resent after the reconnect: nothing changes
    assert tr.view(T0 + 10, PERIOD_S).sessions.session_ids == ("cp1:11", "cp3:31")
    assert tr.session_refs()["cp1:11"] == SessionRef("cp1:11", "cp1", 1, "11", "1.6")
    assert tr.transaction_on("cp1", 1) == "11" and tr.connector_of("cp1", "11") == 1
    assert tr.transaction_on("cp1", 2) is None and tr.connector_of("cp1", "12") is None
    assert tr.apply(SessionEnded("cp1", "11", T0 + 20, meter_stop_wh=12000.0)) == ()
    assert tr.view(T0 + 30, PERIOD_S).sessions.session_ids == ("cp3:31",)
    assert tr.measured_current_a()[0] == 0.0
    assert "unknown transaction" in tr.apply(SessionEnded("cp1", "99", T0 + 40))[0]
    # a new start on a busy connector closes the old transaction (its stop was lost)
    notes = tr.apply(started("cp3", "32", T0 + 50))
    assert "closed" in notes[0] and tr.view(T0 + 60, PERIOD_S).sessions.session_ids == ("cp3:32",)


def test_unknown_chargers(site: LiveSite) -> None:
    tr = LiveTracker(site)
    assert not tr.accepts("guest")
    assert "not in the site file" in tr.apply(ChargerConnected("guest", T0, "2.0.1"))[0]
    assert tr.chargers.ids == ("cp1", "cp2", "cp3")
    open_site = site_from_dict(site_dict(accept_unknown_chargers=True, unknown_chargers={"bus": 3, "max_current_a": 20}))
    tr = LiveTracker(open_site)
    assert tr.apply(ChargerConnected("guest", T0, "2.0.1")) == ()
    tr.apply(Capabilities("guest", T0, True, ("W",), 3))
    tr.apply(SessionStarted("guest", 1, "uuid-1", T0))
    view = tr.view(T0 + 1, PERIOD_S)
    assert view.chargers.ids == ("cp1", "cp2", "cp3", "guest") and view.sessions.session_ids == ("guest:uuid-1",)
    assert view.constraints is not None and view.constraints.dense()[0, 3] == 1.0  # the root's fuse holds it
    assert view.constraints.dense()[3, 3] == 0.0  # not under the sub-circuit
    assert tr.ocpp_version("guest") == "2.0.1" and tr.capabilities("guest").rate_units == ("W",)


def test_base_load_from_a_meter(site: LiveSite) -> None:
    tr = busy_tracker(site)
    tr.set_base_load_kw(12.0)
    view = tr.view(T0, PERIOD_S)
    assert view.base_load_kw == 12.0 and view.constraints.limit[-1] == pytest.approx(18.0)
    with pytest.raises(ValueError, match="base_load_kw"):
        tr.set_base_load_kw(float("nan"))


# --- the same strategy objects run on a live view ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(available()))
def test_every_registered_strategy_runs_on_a_tracker_view(name: str) -> None:
    site = site_from_dict(site_dict(grid={"network": "cigre_lv"},
                                    chargers=[{"id": "cp1", "bus": 36, "max_current_a": 32, "kind": "work"},
                                              {"id": "cp2", "bus": 36, "phases": 1, "phase": "L2", "max_current_a": 16},
                                              {"id": "cp3", "bus": 40, "max_current_a": 16, "current_step_a": 0.1}]))
    tr = busy_tracker(site)
    tr.apply(started("cp2", "21", T0 - 100))
    view = tr.view(T0, PERIOD_S)
    if name == "grid_aware":
        feeder = LiveFeeder(site)  # the live load flow, with the measured charging power
        view = replace(view, grid=feeder.solve(T0, view.chargers, tr.measured_power_kw()))
    strategy = create(name, {"target_kw": 20.0} if name == "peak_shaving" else {})
    setpoints = strategy.compute(view)
    assert isinstance(setpoints, Setpoints)
    check_setpoints(strategy, setpoints, view.chargers, view.time_s)
    check_feasible(view, setpoints, limits=name != "uncontrolled")



def test_a_second_connector_is_tracked_but_the_view_shows_one_session_per_charger(site: LiveSite) -> None:
    tr = LiveTracker(site)
    tr.apply(ChargerConnected("cp1", T0, "2.0.1"))
    tr.apply(started("cp1", "a", T0 + 1, connector=1))
    tr.apply(started("cp1", "b", T0 + 2, connector=2))
    assert tr.view(T0 + 3, PERIOD_S).sessions.session_ids == ("cp1:a",)
    assert set(tr.session_refs()) == {"cp1:a", "cp1:b"}
    assert tr.transaction_on("cp1", 2) == "b" and tr.connector_of("cp1", "b") == 2
    tr.apply(SessionEnded("cp1", "a", T0 + 4))
    assert tr.view(T0 + 5, PERIOD_S).sessions.session_ids == ("cp1:b",)
