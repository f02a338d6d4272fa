"""One simulated charge point on the wire: a driver that plays its sessions and a link to the CSMS.

``SimulatedCharger`` owns a ``Station`` (the physics) and runs two things side by side:

- the **driver** plays the charger's sessions on the fleet's ``SimClock``: at an arrival it plugs
  the vehicle in and starts a transaction (free vending: the vehicle charges while Authorize and
  StartTransaction are on their way; a CSMS that refuses the id tag stops it, reason
  ``DeAuthorized``), updates the power whenever the composite limit changes, a profile arrives or
  ``update_interval_s`` passes (the taper), samples the meter every ``meter_interval_s``, and at the
  departure stops the transaction and unplugs. Only the driver moves the station's clock;
- the **link** connects (websocket subprotocol ``ocpp1.6`` or ``ocpp2.0.1``, identity = the
  charger id as the last path segment), boots, reports its status, and sends the outbox in order,
  one call at a time. Messages wait in the outbox while the link is down and go out after the next
  boot, as a real charger queues its transaction messages; the vehicle keeps charging meanwhile.

The OCPP version lives in a ``Protocol`` (``sim.live.chargepoint.ocpp16`` / ``ocpp201``): it builds
the outgoing payloads and makes the library ``ChargePoint`` whose handlers answer the CSMS by
calling this class's methods (``install_profile``, ``clear_profiles``, ``request_start`` ...).
Handlers never await a call of their own: they change state, set ``wake`` and return.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import ssl
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocpp.exceptions import OCPPError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.headers import build_authorization_basic

from sim.domain.sessions import Session
from sim.live.chargepoint.clock import SimClock
from sim.live.chargepoint.composite import composite_periods
from sim.live.chargepoint.outbox import Outgoing, TxRecord
from sim.live.chargepoint.profiles import ChargingProfile
from sim.live.chargepoint.reservation import RESET_PLANS, Reservation, ResetPlan, reserve_status
from sim.live.chargepoint.station import CONNECTOR_ID, MeterReading, Station

LOG = logging.getLogger("sim.live.chargepoint")
OCPP_VERSIONS = ("1.6", "2.0.1")
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


@dataclass(frozen=True)
class ChargerConfig:
    """How a simulated charger behaves on the wire (times on the simulated clock unless noted)."""

    ocpp_version: str = "1.6"
    meter_interval_s: float = 60.0  # MeterValueSampleInterval / TxUpdatedInterval
    update_interval_s: float = 60.0  # the most time between two power updates (the taper moves)
    send_charging_needs: bool = True  # 2.0.1: NotifyEVChargingNeeds with departure and energy
    vendor: str = "feedertwin"
    model: str = "simulated-charger"
    call_timeout_s: float = 30.0  # real seconds
    reconnect_delay_s: float = 1.0  # real seconds
    heartbeat_s: float | None = None  # real seconds; None: the interval the CSMS gives at boot
    # Check this charger's own calls and their answers, and the calls it receives, against the OCPP
    # JSON schemas (the ocpp library's jsonschema check: about half the fleet's CPU). Tests keep it
    # on; a load benchmark may turn it off, as a real charger's firmware does not run it (the CSMS
    # still checks everything it receives).
    validate_own_calls: bool = True
    # OCPP security profiles 1 and 2 (docs/live_security.md): HTTP basic auth with user = the
    # charger id and this password (None: no credentials), and the TLS context that checks the
    # server of a wss:// URL (None: the system's trusted CAs)
    password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.ocpp_version not in OCPP_VERSIONS:
            raise ValueError(f"ocpp_version must be one of {OCPP_VERSIONS}; got {self.ocpp_version!r}")
        for name in ("meter_interval_s", "update_interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}")


class Link(Protocol):
    """The library charge point as the charger uses it."""

    async def start(self) -> None: ...
    async def call(self, payload: Any, suppress: bool = ..., unique_id: Any = ...,
                   skip_schema_validation: bool = ...) -> Any: ...


class OcppProtocol(Protocol):
    """What one OCPP version provides (see ``sim.live.chargepoint.ocpp16`` / ``ocpp201``)."""

    def charge_point(self, connection: Any) -> Link: ...
    def boot(self) -> Any: ...
    def heartbeat(self) -> Any: ...
    def on_boot(self, result: Any) -> tuple[bool, float]: ...  # (accepted, interval_s)
    def status(self, t_s: float, connector_id: int, status: str) -> Outgoing: ...
    def transaction_started(self, tx: TxRecord, reading: MeterReading) -> list[Outgoing]: ...
    def meter(self, tx: TxRecord | None, reading: MeterReading) -> Outgoing: ...
    def charging_state(self, tx: TxRecord, t_s: float, status: str) -> Outgoing | None: ...
    def transaction_ended(self, tx: TxRecord, reading: MeterReading, reason: str) -> list[Outgoing]: ...


@dataclass
class LinkStats:
    """What the link measured (real seconds): for tests and the bench."""

    round_trip_s: list[float] = field(default_factory=list)
    calls_sent: int = 0
    call_errors: int = 0
    connects: int = 0
    reboots: int = 0  # after a Reset
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # CSMS calls: (action, payload)


class SimulatedCharger:
    def __init__(self, station: Station, sessions: Sequence[Session], clock: SimClock,
                 config: ChargerConfig | None = None) -> None:
        self.station = station
        self.charger_id = station.charger.charger_id
        self.sessions = sorted(sessions, key=lambda s: s.arrival_s)
        self.clock = clock
        self.config = config or ChargerConfig()
        self.protocol: OcppProtocol = _make_protocol(self)
        self.outbox: deque[Outgoing] = deque()
        self._outbox_ready = asyncio.Event()
        self.wake = asyncio.Event()  # set by handlers: the driver re-evaluates now
        self.done = asyncio.Event()  # the driver has played every session
        self.booted = asyncio.Event()
        self.tx: TxRecord | None = None
        self.transactions: list[TxRecord] = []
        self.delivered_kwh: dict[str, float] = {}  # per session played: energy into the vehicle
        self.stats = LinkStats()
        self.meter_interval_s = self.config.meter_interval_s
        self.heartbeat_s = self.config.heartbeat_s or 300.0
        self._start_request: str | None = None  # id tag of an accepted remote start
        self._stop_request = False
        self._stop_reason = "Remote"
        self._pending_tx_profile: ChargingProfile | None = None
        self._id_prefix = uuid.uuid4().hex[:8]  # message ids: a per-charger prefix and a counter
        self._message_ids = itertools.count(1)
        self._last_status = ""
        # reservations, remote starts of the next session and resets (sim.live.chargepoint.reservation)
        self.reservation: Reservation | None = None
        self.boot_reason = "PowerUp"  # 2.0.1 BootNotification reason (RemoteReset after a Reset)
        self._next_session: Session | None = None  # the driver waits for this vehicle (no vehicle plugged in)
        self._waiting_tag: str | None = None  # a plugged-in vehicle's id tag that another's reservation holds off
        self._reset_plan: ResetPlan | None = None  # a Reset for the driver to apply to the transaction
        self._reset_when_idle = False  # 2.0.1 OnIdle during a transaction: reboot when it ends
        self._reboot: bool | None = None  # a reboot is due; True: after the outbox is sent (graceful)

    # --- the driver ---------------------------------------------------------------------------
    async def drive(self) -> None:
        """Play every session on the clock; sets ``done`` at the end."""
        started_s = self.clock.now_s()
        try:
            for session in self.sessions:
                arrival_s, departure_s = self.clock.at(session.arrival_s), self.clock.at(session.departure_s)
                if departure_s <= started_s:  # (a driver running late still plays every later session)
                    LOG.warning("%s: session %s is already over when the fleet starts; skipped",
                                self.charger_id, session.session_id)
                    continue
                self._next_session = session
                remote_tag = await self._idle_until(arrival_s)
                self._next_session = None
                t_s = arrival_s if remote_tag is None else min(self.clock.now_s(), arrival_s)
                await self._play(session, max(t_s, self.station.last_t_s), departure_s, remote_tag)
        finally:
            self.done.set()
            self._outbox_ready.set()

    async def _idle_until(self, arrival_s: float) -> str | None:
        """Wait, no vehicle plugged in, for the next arrival; a reservation expires meanwhile. Returns
        the id tag of a remote start that brought the vehicle early (None: it arrives on time)."""
        while True:
            until_s = min(arrival_s, self._expiry_s())
            woken = await self.clock.sleep_until(until_s, self.wake)
            self._expire_reservation(self.clock.now_s() if woken else until_s)
            if self._start_request is not None:
                tag, self._start_request = self._start_request, None
                return tag
            if not woken and until_s >= arrival_s:
                return None

    async def _play(self, session: Session, t_s: float, departure_s: float, remote_tag: str | None = None) -> None:
        station, cfg = self.station, self.config
        station.plug_in(session, t_s)
        self._report_status(t_s)
        tag = remote_tag or f"tag-{session.session_id}"[:20]
        self._expire_reservation(t_s)
        if self._reserved_against(tag):
            self._waiting_tag = tag  # plugged in; starts when the reservation ends (_handle_requests)
        else:
            self._begin_transaction(t_s, tag)
        next_meter_s = t_s + self.meter_interval_s
        while True:
            self._handle_requests(t_s)
            hold_s = min(departure_s, next_meter_s, t_s + cfg.update_interval_s)
            limit = station.update(t_s, hold_s)
            self._report_status(t_s)
            until_s = min(hold_s, limit.next_change_s, self._expiry_s())
            woken = await self.clock.sleep_until(until_s, self.wake)
            # never integrate past until_s: the power was set for that interval (a late driver catches up)
            t_s = max(min(self.clock.now_s(), until_s) if woken else until_s, station.last_t_s)
            station.advance_to(t_s)
            if t_s >= next_meter_s:
                self.send(self.protocol.meter(self.tx, station.reading(t_s)))
                while next_meter_s <= t_s:
                    next_meter_s += self.meter_interval_s
            if t_s >= departure_s:
                break
        if self.tx is not None:
            self._end_transaction(departure_s, "EVDisconnected")
        self._waiting_tag = None
        vehicle = station.unplug(departure_s)
        if vehicle is not None:
            self.delivered_kwh[session.session_id] = vehicle.delivered_kwh
        self._report_status(departure_s)

    def _begin_transaction(self, t_s: float, id_tag: str) -> None:
        vehicle = self.station.vehicle
        assert vehicle is not None
        n_in_session = sum(1 for tx in self.transactions if tx.session is vehicle.session)
        local_id = vehicle.session.session_id[:32] + (f"-{n_in_session + 1}" if n_in_session else "")
        tx = TxRecord(local_id, id_tag, vehicle.session, t_s)
        if self.reservation is not None and self.reservation.id_tag == id_tag:  # the reservation is used
            tx.reservation_id, self.reservation = self.reservation.reservation_id, None
        self.tx = tx
        self.transactions.append(tx)
        self.station.start_transaction(local_id, t_s)
        for item in self.protocol.transaction_started(tx, self.station.reading(t_s)):
            self.send(item)
        if self._pending_tx_profile is not None:
            self.station.profiles.install(self._pending_tx_profile, self.station.tx)
            self._pending_tx_profile = None

    def _end_transaction(self, t_s: float, reason: str) -> None:
        tx = self.tx
        assert tx is not None
        reading = self.station.reading(t_s)
        self.station.stop_transaction(t_s)
        self.tx = None
        for item in self.protocol.transaction_ended(tx, reading, reason):
            self.send(item)
        if self._reset_when_idle:  # a 2.0.1 OnIdle reset waited for this
            self._reset_when_idle = False
            self._request_reboot(graceful=True)

    def _handle_requests(self, t_s: float) -> None:
        """Remote start / stop and refusals that handlers asked for, applied at the driver's time."""
        if self._stop_request and self.tx is not None:
            self._end_transaction(t_s, self._stop_reason)
        self._stop_request = False
        plan, self._reset_plan = self._reset_plan, None
        if plan is not None:
            if self.tx is not None and plan.stop_reason is not None:
                self._end_transaction(t_s, plan.stop_reason)
            if plan.graceful:  # the stop goes out first, then the reboot
                self._request_reboot(graceful=True)
        self._expire_reservation(t_s)
        if self._waiting_tag is not None and self.tx is None and not self._reserved_against(self._waiting_tag):
            tag, self._waiting_tag = self._waiting_tag, None
            self._begin_transaction(t_s, tag)
        if self._start_request is not None and self.tx is None and self.station.vehicle is not None:
            self._waiting_tag = None
            self._begin_transaction(t_s, self._start_request)
        self._start_request = None

    def connector_status(self) -> str:
        """The 1.6 connector status: the station's, ``Finishing`` after a transaction while the vehicle
        is still plugged in, ``Reserved`` while a reservation holds a free connector."""
        status = self.station.status()
        vehicle = self.station.vehicle
        if status == "Preparing" and vehicle is not None and any(tx.session is vehicle.session
                                                                 for tx in self.transactions):
            status = "Finishing"  # the transaction ended, the vehicle is still plugged in
        if status == "Available" and self.reservation is not None:
            status = "Reserved"
        return status

    def _report_status(self, t_s: float) -> None:
        status = self.connector_status()
        if status != self._last_status:
            if self.tx is not None:
                item = self.protocol.charging_state(self.tx, t_s, status)
                if item is not None:
                    self.send(item)
            previous, self._last_status = self._last_status, status
            if previous:  # the boot sends the first status
                self.send(self.protocol.status(t_s, CONNECTOR_ID, status))

    # --- what handlers call -------------------------------------------------------------------
    def install_profile(self, profile: ChargingProfile) -> None:
        """Install (ProfileError: the charger answers Rejected) and re-evaluate the power now."""
        tx = self.station.tx if profile.connector_id in (0, CONNECTOR_ID) else None
        self.station.profiles.install(profile, tx)
        self.wake.set()

    def clear_profiles(self, **criteria: Any) -> int:
        removed = self.station.profiles.clear(**criteria)
        if removed:
            self.wake.set()
        return removed

    def composite(self, duration_s: float, connector_id: int, unit: str) -> tuple[float, list[tuple[float, float, int]]]:
        now_s = self.clock.now_s()
        periods = composite_periods(self.station.profiles, now_s, duration_s, connector_id or CONNECTOR_ID,
                                    self.station.tx, self.station.rating, unit)
        return now_s, periods

    def request_start(self, id_tag: str, profile: ChargingProfile | None = None) -> bool:
        """A remote start: accepted when a vehicle is plugged in without a transaction, or when none
        is and a session is still to come (its vehicle is taken to be there already: it plugs in now
        and leaves at its scheduled departure); refused for a tag other than a reservation's."""
        if self.tx is not None or self._start_request is not None or self._reserved_against(id_tag):
            return False
        if self.station.vehicle is None and self._next_session is None:
            return False
        self._start_request = id_tag
        self._pending_tx_profile = profile
        self.wake.set()
        return True

    def request_stop(self, transaction_id: str, reason: str = "Remote") -> bool:
        if self.tx is None or transaction_id not in (self.tx.csms_id, self.tx.local_id):
            return False
        self._stop_request = True
        self._stop_reason = reason
        self.wake.set()
        return True

    def reserve(self, reservation_id: int, connector_id: int | None, id_tag: str, expiry_s: float | None) -> str:
        """ReserveNow: ``Accepted``, ``Occupied`` or ``Rejected`` (``reservation.reserve_status``)."""
        now_s = self.clock.now_s()
        self._expire_reservation(now_s)
        status = reserve_status(connector_id, expiry_s, now_s, reservation_id, self.reservation,
                                self.station.vehicle is not None)
        if status == "Accepted":
            assert expiry_s is not None
            self.reservation = Reservation(reservation_id, id_tag, expiry_s)
            self._report_status(now_s)
            self.wake.set()  # the driver now also waits for the expiry
        return status

    def cancel_reservation(self, reservation_id: int) -> bool:
        if self.reservation is None or self.reservation.reservation_id != reservation_id:
            return False
        self.reservation = None
        self._report_status(self.clock.now_s())
        self.wake.set()  # a vehicle held off by the reservation may start now
        return True

    def reset_status(self, reset_type: str) -> str:
        """The answer to a Reset: 2.0.1 ``OnIdle`` during a transaction is ``Scheduled``."""
        return "Scheduled" if RESET_PLANS[reset_type].stop_reason is None and self.tx is not None else "Accepted"

    def reset(self, reset_type: str) -> None:
        """Apply an answered Reset (``reservation.RESET_PLANS``): reboot now, after the transaction
        is stopped, or once it ends."""
        plan = RESET_PLANS[reset_type]
        if self.tx is None:
            self._request_reboot(plan.graceful)
        elif plan.stop_reason is None:
            self._reset_when_idle = True
        else:
            self._reset_plan = plan  # the driver stops the transaction (and reboots, if graceful)
            if not plan.graceful:
                self._request_reboot(graceful=False)
            self.wake.set()

    def _request_reboot(self, graceful: bool) -> None:
        """Have the link close the connection (after sending the outbox, if ``graceful``), reconnect
        and boot again."""
        self._reboot = graceful and self._reboot is not False
        self.boot_reason = "RemoteReset"
        self._outbox_ready.set()

    def _expiry_s(self) -> float:
        return self.reservation.expiry_s if self.reservation is not None else math.inf

    def _expire_reservation(self, t_s: float) -> None:
        if self.reservation is not None and t_s >= self.reservation.expiry_s:
            self.reservation = None
            self._report_status(t_s)

    def _reserved_against(self, id_tag: str) -> bool:
        return self.reservation is not None and self.reservation.id_tag != id_tag

    def deauthorize(self, tx: TxRecord) -> None:
        """The CSMS refused the id tag of a running transaction: stop it (reason DeAuthorized)."""
        if self.tx is tx:
            self.request_stop(tx.local_id, "DeAuthorized")

    def assign_transaction_id(self, tx: TxRecord, csms_id: str) -> None:
        tx.csms_id = csms_id
        if self.tx is tx:
            self.station.rename_transaction(csms_id)

    def send(self, item: Outgoing) -> None:
        self.outbox.append(item)
        self._outbox_ready.set()

    # --- the link -----------------------------------------------------------------------------
    async def run(self, csms_url: str, *, linger: bool = False) -> None:
        """Drive the sessions and keep the link up until they are played and the outbox is empty
        (``linger``: stay connected afterwards, until cancelled)."""
        driver = asyncio.create_task(self.drive(), name=f"drive:{self.charger_id}")
        try:
            await self.connect(csms_url, linger=linger)
        finally:
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)

    async def connect(self, csms_url: str, *, linger: bool = False) -> None:
        url = csms_url.rstrip("/") + "/" + self.charger_id
        headers = (None if self.config.password is None
                   else {"Authorization": build_authorization_basic(self.charger_id, self.config.password)})
        tls: dict[str, Any] = ({"ssl": self.config.ssl_context}
                               if url.startswith("wss://") and self.config.ssl_context is not None else {})
        failures = 0
        while True:
            try:
                async with connect(url, subprotocols=[SUBPROTOCOL[self.config.ocpp_version]],  # type: ignore[list-item]
                                   open_timeout=self.config.call_timeout_s, max_queue=64, compression=None,
                                   additional_headers=headers, **tls) as ws:
                    self.stats.connects += 1
                    failures = 0
                    if await self._session(self._charge_point(ws), linger):
                        return
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as error:
                failures += 1  # the first failure in a row is a warning, the retries are not
                LOG.log(logging.WARNING if failures == 1 else logging.INFO, "%s: link to %s down (%s); retrying",
                        self.charger_id, url, error)
            if self.done.is_set() and not self.outbox and not linger:
                return
            # back off exponentially while the CSMS keeps refusing, up to a minute
            await asyncio.sleep(min(self.config.reconnect_delay_s * 2 ** max(failures - 1, 0), 60.0))

    async def _session(self, cp: Link, linger: bool) -> bool:
        """One websocket connection: the library's reader beside our writer (boot, status, outbox).
        True when everything is sent; a closed connection raises."""
        cp._unique_id_generator = self._message_id  # type: ignore[attr-defined]  # uuid4 costs a urandom call
        reader = asyncio.create_task(cp.start(), name=f"read:{self.charger_id}")
        writer = asyncio.create_task(self._write(cp, linger), name=f"write:{self.charger_id}")
        try:
            finished, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if writer in finished:
                return writer.result()
            reader.result()  # raises ConnectionClosed
            raise ConnectionError("the reader stopped")
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    def _charge_point(self, ws: Any) -> Link:
        """The library charge point on this connection; without ``validate_own_calls`` its
        handlers skip the schema check of the calls they receive too (the library's per-handler
        switch), as a charger's firmware does not run jsonschema."""
        cp = self.protocol.charge_point(ws)
        if not self.config.validate_own_calls:
            for handlers in getattr(cp, "route_map", {}).values():
                handlers["_skip_schema_validation"] = True
        return cp

    def _message_id(self) -> str:
        return f"{self._id_prefix}-{next(self._message_ids)}"

    async def _call(self, cp: Link, payload: Any) -> Any:
        started = time.perf_counter()
        self.stats.calls_sent += 1
        result = await cp.call(payload, suppress=False, skip_schema_validation=not self.config.validate_own_calls)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # Python 3.11's asyncio.wait_for (inside the library's call) drops a cancellation that
            # lands as the answer arrives; honour it here, or the writer would go on without a reader
            raise asyncio.CancelledError
        self.stats.round_trip_s.append(time.perf_counter() - started)
        return result

    async def _write(self, cp: Link, linger: bool) -> bool:
        """Boot (again after every reconnect), report the status, then send the outbox in order."""
        while True:
            accepted, interval_s = self.protocol.on_boot(await self._call(cp, self.protocol.boot()))
            if interval_s > 0 and self.config.heartbeat_s is None:
                self.heartbeat_s = interval_s
            if accepted:
                break
            await asyncio.sleep(min(max(interval_s, 1.0), 10.0))
        self.boot_reason = "PowerUp"
        t_s = self.clock.now_s()
        self.outbox.appendleft(self.protocol.status(t_s, CONNECTOR_ID, self._last_status or self.connector_status()))
        self.outbox.appendleft(self.protocol.status(t_s, 0, "Available"))
        self._last_status = self._last_status or self.connector_status()
        self.booted.set()
        last_sent = time.monotonic()
        while True:
            if self._reboot is not None and not (self._reboot and self.outbox):
                self._reboot = None  # a Reset: close this connection; connect() reconnects and boots again
                self.stats.reboots += 1
                return False
            if not self.outbox:
                if self.done.is_set() and not linger:
                    return True
                self._outbox_ready.clear()
                try:
                    async with asyncio.timeout(max(self.heartbeat_s - (time.monotonic() - last_sent), 0.0)):
                        await self._outbox_ready.wait()
                except TimeoutError:  # idle for a heartbeat interval
                    await self._call(cp, self.protocol.heartbeat())
                    last_sent = time.monotonic()
                continue
            item = self.outbox[0]
            payload = item.build()
            if payload is None:
                self.outbox.popleft()
                continue
            try:
                result = await self._call(cp, payload)
            except OCPPError as error:  # a CALLERROR is an answer: log it, do not resend
                self.stats.call_errors += 1
                LOG.warning("%s: CALLERROR %s", self.charger_id, error)
                result = None
            except TimeoutError:
                item.attempts += 1
                if item.attempts < 3:
                    continue
                LOG.warning("%s: no answer after 3 attempts; message dropped", self.charger_id)
                result = None
            self.outbox.popleft()
            last_sent = time.monotonic()
            if result is not None and item.on_result is not None:
                item.on_result(result)


def _make_protocol(charger: SimulatedCharger) -> OcppProtocol:
    if charger.config.ocpp_version == "1.6":
        from sim.live.chargepoint.ocpp16 import Protocol16
        return Protocol16(charger)
    from sim.live.chargepoint.ocpp201 import Protocol201
    return Protocol201(charger)

