"""The simulated charger's physics: what the vehicle draws, the energy register, the meter reading.

The key check: with the same offer and the same update instants, a ``Station`` delivers exactly the
energy the simulator's ``SiteState`` does (same battery model, same efficiency, same demand cap).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import BatteryModel, Charger, ChargerTable, Session, Setpoints, SiteView
from sim.engine.site_state import SiteState
from sim.live.chargepoint.composite import SmartChargingCaps
from sim.live.chargepoint.profiles import TX, ChargingProfile, Period
from sim.live.chargepoint.station import Station

T0 = 1_800_000_000.0


def three_phase(max_a: float = 16.0) -> Charger:
    return Charger("CP1", bus=1, phases=3, max_current_a=max_a, min_current_a=6.0, efficiency=0.9)


def session(energy_kwh: float = 20.0, hours: float = 8.0, **kw: float) -> Session:
    return Session("s1", "CP1", 0.0, hours * 3600.0, energy_kwh, **kw)


def play(station: Station, s: Session, step_s: float) -> None:
    """What the driver does: plug in, start, update every ``step_s`` until departure."""
    station.plug_in(s, T0 + s.arrival_s)
    station.start_transaction("1", T0 + s.arrival_s)
    t_s, end_s = T0 + s.arrival_s, T0 + s.departure_s
    while t_s < end_s:
        hold_s = min(t_s + step_s, end_s)
        station.update(t_s, hold_s)
        t_s = hold_s
    station.stop_transaction(end_s)
    station.unplug(end_s)


def test_full_power_then_the_demand_cap() -> None:
    st = Station(three_phase(), BatteryModel("ideal"))
    s = session(energy_kwh=20.0)
    st.plug_in(s, T0)
    st.start_transaction("1", T0)
    st.update(T0, T0 + 60)
    assert st.power_w == pytest.approx(16 * 3 * 230.0)
    assert st.status() == "Charging"
    st.stop_transaction(T0)
    st.unplug(T0)
    play(st, s, 300.0)
    assert st.vehicle is None
    assert st.energy_wh == pytest.approx(20_000 / 0.9)  # grid side: the vehicle's 20 kWh over efficiency


@pytest.mark.parametrize("battery", [BatteryModel("ideal"), BatteryModel("taper", 0.8)])
@pytest.mark.parametrize("step_s", [60.0, 900.0])
def test_same_energy_as_the_simulators_site_state(battery: BatteryModel, step_s: float) -> None:
    charger = three_phase(32.0)
    s = Session("s1", "CP1", 0.0, 5 * 3600.0 + 123.0, 45.0, max_power_kw=11.0, battery_kwh=60.0, soc_arrival=0.3)
    st = Station(charger, battery)
    play(st, s, step_s)

    class Full:
        def compute(self, view: SiteView) -> Setpoints:
            return Setpoints(np.array([32.0]))

    state = SiteState(ChargerTable((charger,)), [s], battery)
    state.plug_in(0)
    t_s = 0.0
    while t_s < s.departure_s:
        state.advance_to(t_s)
        next_s = min(t_s + step_s, s.departure_s)
        accept = state.acceptance_kw(t_s, next_s)
        state.apply(Full(), state.view(t_s, step_s, accept, None, 0.0), accept)
        t_s = next_s
    state.advance_to(s.departure_s)
    assert st.energy_wh / 1000.0 * charger.efficiency == pytest.approx(state.delivered_kwh[0], rel=1e-9)
    if battery.taper:
        assert state.delivered_kwh[0] < 45.0  # the taper bites: the comparison covers it


def test_offer_below_minimum_is_a_pause_and_no_transaction_no_energy() -> None:
    st = Station(three_phase(), BatteryModel("ideal"))
    st.plug_in(session(), T0)
    st.update(T0, T0 + 60)
    assert (st.power_w, st.status()) == (0.0, "Preparing")
    st.start_transaction("7", T0)
    st.profiles.install(ChargingProfile(1, 0, TX, "Absolute", "A", (Period(0, 4.0),), connector_id=1,
                                        start_schedule_s=T0), st.tx)
    st.update(T0, T0 + 60)
    assert (st.offered_a, st.power_w, st.status()) == (0.0, 0.0, "SuspendedEVSE")
    st.stop_transaction(T0 + 60)
    assert st.profiles.profiles == []  # the TxProfile went with the transaction


def test_full_vehicle_is_suspended_ev() -> None:
    st = Station(three_phase(), BatteryModel("taper", 0.8))
    st.plug_in(session(energy_kwh=1.0, battery_kwh=50.0, soc_arrival=1.0), T0)
    st.start_transaction("1", T0)
    st.update(T0, T0 + 60)
    assert (st.offered_a, st.power_w, st.status()) == (16.0, 0.0, "SuspendedEV")


def test_taper_needs_battery_data() -> None:
    st = Station(three_phase(), BatteryModel("taper"))
    st.plug_in(session(), T0)
    st.start_transaction("1", T0)
    with pytest.raises(ValueError, match="battery_kwh and soc_arrival"):
        st.update(T0, T0 + 60)


def test_reading_of_a_single_phase_charger() -> None:
    charger = Charger("CP1", bus=1, phases=1, phase="L2", max_current_a=32.0, efficiency=1.0)
    st = Station(charger, BatteryModel("ideal"), SmartChargingCaps())
    st.plug_in(session(battery_kwh=60.0, soc_arrival=0.5), T0)
    st.start_transaction("1", T0)
    st.update(T0, T0 + 3600)
    reading = st.reading(T0 + 1800)
    assert reading.current_a == (0.0, pytest.approx(32.0), 0.0)
    assert reading.energy_wh == pytest.approx(32 * 230.0 / 2)
    assert reading.soc_percent == pytest.approx(100 * (0.5 + 32 * 0.230 / 2 / 60.0))
    assert reading.offered_a == 32.0
