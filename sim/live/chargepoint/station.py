"""The physics of one simulated charge point: its vehicle, its energy register, its composite limit.

No OCPP and no asyncio here: ``Station`` is advanced by its driver (``sim.live.chargepoint.charger``)
and answers what a meter would read. One connector per charger, as in the simulator.

Power is constant between two ``update`` calls, so energy is integrated exactly (``advance_to``):
the register (grid side, Wh) grows by ``power_w * dt`` and the vehicle's battery by that times the
charger's efficiency, as ``sim.engine`` does. What the vehicle draws is the simulator's rule:

- the charger offers the composite limit of its profiles (``ProfileSet.limit_at``), or its rating
  when no profile is in force; an offer below the charger's minimum current is a pause (IEC 61851
  pilots below 6 A mean "do not charge"), and there is no offer without a transaction;
- the vehicle accepts its grid-side AC limit (the smaller of the charger's and the vehicle's) times
  efficiency, times the battery model's taper factor at its state of charge
  (``sim.domain.battery.acceptance_kw``), never more than its remaining demand spread over the time
  until the next update, and divided by efficiency again on the grid side;
- it draws the smaller of the offer and its acceptance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.domain.battery import BatteryModel, acceptance_kw
from sim.domain.chargers import Charger
from sim.domain.sessions import Session
from sim.live.chargepoint.composite import Limit, ProfileSet, Rating, SmartChargingCaps, Transaction

CONNECTOR_ID = 1
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}


@dataclass(frozen=True)
class MeterReading:
    """What the charger's meter and the vehicle report at ``t_s`` (epoch seconds)."""

    t_s: float
    energy_wh: float  # Energy.Active.Import.Register, grid side
    power_w: float  # Power.Active.Import
    current_a: tuple[float, float, float]  # Current.Import on L1, L2, L3
    offered_a: float  # Current.Offered
    soc_percent: float | None  # SoC of the vehicle (None: no vehicle or unknown battery)


@dataclass
class Vehicle:
    """The plugged-in vehicle: its session and the energy in its battery so far (vehicle side)."""

    session: Session
    delivered_kwh: float = 0.0

    @property
    def remaining_kwh(self) -> float:
        return max(self.session.energy_kwh - self.delivered_kwh, 0.0)

    @property
    def soc(self) -> float:
        s = self.session
        if not (math.isfinite(s.battery_kwh) and math.isfinite(s.soc_arrival) and s.battery_kwh > 0):
            return math.nan
        return s.soc_arrival + self.delivered_kwh / s.battery_kwh


class Station:
    """One charge point with one connector (the simulated hardware, version-free)."""

    def __init__(self, charger: Charger, battery: BatteryModel, caps: SmartChargingCaps | None = None,
                 register_wh: float = 0.0) -> None:
        self.charger = charger
        self.battery = battery
        self.rating = Rating(charger.phases, charger.v_ln_v, charger.max_current_a)
        self.profiles = ProfileSet(caps or SmartChargingCaps())
        self.vehicle: Vehicle | None = None
        self.tx: Transaction | None = None
        self.energy_wh = register_wh
        self.power_w = 0.0
        self.offered_a = 0.0
        self.accept_w = 0.0  # what the vehicle would take (for SuspendedEV)
        self.phases_in_use = charger.phases
        self.last_t_s = -math.inf

    # --- the clock moves ----------------------------------------------------------------------
    def advance_to(self, t_s: float) -> None:
        """Integrate energy at the present power up to ``t_s``."""
        if math.isfinite(self.last_t_s) and t_s > self.last_t_s and self.power_w > 0.0:
            dt_h = (t_s - self.last_t_s) / 3600.0
            self.energy_wh += self.power_w * dt_h
            if self.vehicle is not None:
                self.vehicle.delivered_kwh += self.power_w / 1000.0 * self.charger.efficiency * dt_h
        self.last_t_s = max(self.last_t_s, t_s)

    def update(self, t_s: float, hold_until_s: float) -> Limit:
        """Set offer and power for ``[t_s, hold_until_s)`` (call ``advance_to(t_s)`` first); the
        limit returned says when the profiles next change."""
        self.advance_to(t_s)
        limit = self.profiles.limit_at(t_s, CONNECTOR_ID, self.tx, self.rating)
        self.phases_in_use = limit.phases
        offer_a = limit.current_a if self.tx is not None and self.vehicle is not None else 0.0
        self.offered_a = offer_a if offer_a >= self.charger.min_current_a else 0.0
        self.accept_w = self._acceptance_w(t_s, hold_until_s)
        self.power_w = min(self.offered_a * self.phases_in_use * self.charger.v_ln_v, self.accept_w)
        return limit

    def _acceptance_w(self, t_s: float, hold_until_s: float) -> float:
        vehicle = self.vehicle
        if vehicle is None:
            return 0.0
        eff = self.charger.efficiency
        limit_kw = min(self.charger.max_power_kw, vehicle.session.max_power_kw)
        soc = vehicle.soc
        if self.battery.taper and math.isnan(soc):
            raise ValueError(f"session {vehicle.session.session_id}: the taper battery model needs "
                             "battery_kwh and soc_arrival")
        battery_kw = float(acceptance_kw(self.battery, 0.0 if math.isnan(soc) else soc, limit_kw * eff))
        dt_h = max(hold_until_s - t_s, 1e-9) / 3600.0
        return min(battery_kw, vehicle.remaining_kwh / dt_h) / eff * 1000.0

    # --- plug and transaction -----------------------------------------------------------------
    def plug_in(self, session: Session, t_s: float) -> None:
        self.advance_to(t_s)
        if self.vehicle is not None:
            raise RuntimeError(f"{self.charger.charger_id}: session {session.session_id} arrives while "
                               f"{self.vehicle.session.session_id} is plugged in")
        self.vehicle = Vehicle(session)

    def unplug(self, t_s: float) -> Vehicle | None:
        self.advance_to(t_s)
        vehicle, self.vehicle = self.vehicle, None
        self.power_w = self.offered_a = self.accept_w = 0.0
        return vehicle

    def start_transaction(self, transaction_id: str, t_s: float) -> None:
        self.advance_to(t_s)
        self.tx = Transaction(transaction_id, t_s)

    def rename_transaction(self, transaction_id: str) -> None:
        """The CSMS assigned the id (1.6 StartTransaction.conf); the start time stays."""
        if self.tx is not None:
            self.tx = Transaction(transaction_id, self.tx.start_s)

    def stop_transaction(self, t_s: float) -> None:
        self.advance_to(t_s)
        self.tx = None
        self.profiles.end_transaction(CONNECTOR_ID)
        self.power_w = self.offered_a = 0.0

    # --- what it reports ----------------------------------------------------------------------
    def status(self) -> str:
        """The 1.6 connector status (2.0.1 maps it to Available / Occupied and a charging state)."""
        if self.vehicle is None:
            return "Available"
        if self.tx is None:
            return "Preparing"
        if self.power_w > 0.0:
            return "Charging"
        return "SuspendedEVSE" if self.offered_a <= 0.0 else "SuspendedEV"

    def latest_reading(self, now_s: float) -> MeterReading:
        """A reading for a message outside the driver's steps (TriggerMessage): at ``now_s`` when
        nothing flows, else at the last update (integrating further could pass the vehicle's demand)."""
        return self.reading(now_s if self.power_w == 0.0 or not math.isfinite(self.last_t_s) else self.last_t_s)

    def reading(self, t_s: float) -> MeterReading:
        self.advance_to(t_s)
        current = [0.0, 0.0, 0.0]
        if self.power_w > 0.0:
            i_a = self.power_w / (self.phases_in_use * self.charger.v_ln_v)
            if self.charger.phases == 1:
                current[PHASE_INDEX.get(self.charger.phase, 0)] = i_a
            else:
                for k in range(self.phases_in_use):
                    current[k] = i_a
        soc = self.vehicle.soc if self.vehicle is not None else math.nan
        return MeterReading(t_s, self.energy_wh, self.power_w, (current[0], current[1], current[2]), self.offered_a,
                            None if math.isnan(soc) else 100.0 * min(soc, 1.0))
