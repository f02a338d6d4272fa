"""Simulated OCPP 1.6J / 2.0.1 charge points: the twin's own test peers (see docs/live.md).

Built on the ocpp library's client side. ``Station`` is the hardware (vehicle, meter, installed
profiles and their composite limit), ``SimulatedCharger`` plays a charger's sessions and speaks
OCPP, ``build_fleet`` / ``run_fleet`` run many in one asyncio process on one ``SimClock``. The
chargers and sessions come from the caller as plain domain data (``Charger``, ``Session``):
``feedertwin chargers`` takes them from a scenario exactly as the simulator does.
"""

from sim.live.chargepoint.charger import ChargerConfig, SimulatedCharger
from sim.live.chargepoint.clock import SimClock
from sim.live.chargepoint.composite import Limit, ProfileSet, Rating, SmartChargingCaps, Transaction
from sim.live.chargepoint.fleet import FleetSummary, build_fleet, run_fleet, summarise, version_of
from sim.live.chargepoint.profiles import ChargingProfile, Period, ProfileError
from sim.live.chargepoint.station import MeterReading, Station

__all__ = ["ChargerConfig", "ChargingProfile", "FleetSummary", "Limit", "MeterReading", "Period", "ProfileError",
           "ProfileSet", "Rating", "SimClock", "SimulatedCharger", "SmartChargingCaps", "Station", "Transaction",
           "build_fleet", "run_fleet", "summarise", "version_of"]
