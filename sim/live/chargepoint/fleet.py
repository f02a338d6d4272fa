"""A fleet of simulated charge points in one asyncio process, built from plain chargers and sessions.

The caller (``feedertwin chargers``, a test, the bench) gives the chargers and sessions: this
package never builds them itself (it may not import the simulator), so the composition root takes
them from the scenario exactly as ``feedertwin run`` does and hands them over.

One charger costs three tasks (driver, websocket reader, outbox sender) and one websocket; all
share one ``SimClock``, so a thousand chargers run in one process.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sim.domain.battery import BatteryModel
from sim.domain.chargers import Charger
from sim.domain.sessions import Session
from sim.live.chargepoint.charger import OCPP_VERSIONS, ChargerConfig, SimulatedCharger
from sim.live.chargepoint.clock import SimClock
from sim.live.chargepoint.composite import SmartChargingCaps
from sim.live.chargepoint.station import Station

VERSION_CHOICES = (*OCPP_VERSIONS, "mixed")


def version_of(index: int, choice: str) -> str:
    """The OCPP version of the ``index``-th charger: ``mixed`` alternates 1.6, 2.0.1, 1.6, ..."""
    if choice not in VERSION_CHOICES:
        raise ValueError(f"ocpp must be one of {', '.join(VERSION_CHOICES)}; got {choice!r}")
    if choice == "mixed":
        return OCPP_VERSIONS[index % 2]
    return choice


def build_fleet(chargers: Sequence[Charger], sessions: Sequence[Session], battery: BatteryModel, clock: SimClock,
                *, ocpp: str = "1.6", config: ChargerConfig | None = None,
                caps: SmartChargingCaps | None = None) -> list[SimulatedCharger]:
    """One ``SimulatedCharger`` per charger with its sessions (a session on an unknown charger is an error)."""
    by_charger: dict[str, list[Session]] = defaultdict(list)
    ids = {c.charger_id for c in chargers}
    for s in sessions:
        if s.charger_id not in ids:
            raise ValueError(f"session {s.session_id} is on charger {s.charger_id!r}, which is not in the fleet")
        by_charger[s.charger_id].append(s)
    base = config or ChargerConfig()
    return [SimulatedCharger(Station(c, battery, caps), by_charger[c.charger_id], clock,
                             replace(base, ocpp_version=version_of(k, ocpp)))
            for k, c in enumerate(chargers)]


@dataclass(frozen=True)
class FleetSummary:
    chargers: int
    transactions: int
    energy_kwh: float  # grid side, all registers
    calls_sent: int
    call_errors: int
    connects: int


def summarise(fleet: Sequence[SimulatedCharger], start_wh: float = 0.0) -> FleetSummary:
    return FleetSummary(
        chargers=len(fleet),
        transactions=sum(len(c.transactions) for c in fleet),
        energy_kwh=(sum(c.station.energy_wh for c in fleet) - start_wh) / 1000.0,
        calls_sent=sum(c.stats.calls_sent for c in fleet),
        call_errors=sum(c.stats.call_errors for c in fleet),
        connects=sum(c.stats.connects for c in fleet),
    )


async def run_fleet(fleet: Sequence[SimulatedCharger], csms_url: str, *, stagger_s: float = 0.0,
                    linger: bool = False) -> None:
    """Run every charger until its sessions are played and its messages sent (``linger``: until
    cancelled). ``stagger_s`` (real seconds) spreads the connections out."""
    async def one(k: int, charger: SimulatedCharger) -> None:
        if stagger_s > 0:
            await asyncio.sleep(stagger_s * k / max(len(fleet), 1))
        await charger.run(csms_url, linger=linger)

    for charger in fleet:
        charger.clock.start()  # scenario time 0 is now, not when the fleet was built
    await asyncio.gather(*(one(k, c) for k, c in enumerate(fleet)))
