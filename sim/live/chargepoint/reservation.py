"""A simulated charger's reservation and reset rules (no OCPP, no asyncio: the charger applies them).

- **ReserveNow** (``reserve_status``): ``Accepted`` when the connector exists (connector / EVSE 1:
  one connector per charger, and no reservation of connector 0), the expiry is in the future, no
  vehicle is plugged in and no other reservation holds the connector; ``Occupied`` when a vehicle is
  plugged in or another reservation holds it; ``Rejected`` otherwise. The same reservation id again
  replaces the reservation (OCPP). A reserved connector reports ``Reserved`` and takes only its
  id tag, for a remote start or an arriving vehicle, until the reservation expires, is cancelled
  or is used by a transaction with that tag.
- **Reset** (``ResetPlan``): 1.6 ``Soft`` stops the transaction (reason ``SoftReset``), sends the
  stop, then reboots; 1.6 ``Hard`` reboots at once and the stop (``HardReset``) goes after the new
  boot; 2.0.1 ``Immediate`` is the hard one (``ImmediateReset``); 2.0.1 ``OnIdle`` with a
  transaction answers ``Scheduled`` and reboots when the transaction ends. A reboot closes the
  websocket, reconnects and boots again (2.0.1 reason ``RemoteReset``); the vehicle stays plugged in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.live.chargepoint.station import CONNECTOR_ID


@dataclass(frozen=True)
class Reservation:
    reservation_id: int
    id_tag: str
    expiry_s: float


def reserve_status(connector_id: int | None, expiry_s: float | None, now_s: float, reservation_id: int,
                   held: Reservation | None, plugged_in: bool) -> str:
    """The ReserveNow answer (see the module docstring)."""
    if connector_id not in (None, CONNECTOR_ID) or expiry_s is None or expiry_s <= now_s:
        return "Rejected"
    if plugged_in or (held is not None and held.reservation_id != reservation_id):
        return "Occupied"
    return "Accepted"


@dataclass(frozen=True)
class ResetPlan:
    """What a Reset asks for: ``stop_reason`` of a running transaction (None: let it run and reboot
    when it ends), ``graceful`` (send what is queued before rebooting)."""

    stop_reason: str | None
    graceful: bool


RESET_PLANS = {"Soft": ResetPlan("SoftReset", True), "Hard": ResetPlan("HardReset", False),
               "Immediate": ResetPlan("ImmediateReset", False), "OnIdle": ResetPlan(None, True)}
"""Reset types of both versions (1.6 Soft / Hard, 2.0.1 OnIdle / Immediate)."""
