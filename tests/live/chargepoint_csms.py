"""A minimal CSMS written with the ocpp library's server side, for the simulated-charger tests.

It is independent of ``sim.live.server`` on purpose: the simulated chargers are tested against the
library itself. It accepts ``ocpp1.6`` and ``ocpp2.0.1``, answers every charger message, records
them as ``(charger_id, action, payload)`` and lets a test call a charger (from the test's task,
never from a handler).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Csms:
    def __init__(self, reject_tags: tuple[str, ...] = ()) -> None:
        self.log: list[tuple[str, str, dict[str, Any]]] = []
        self.connections: dict[str, Any] = {}
        self.reject_tags = reject_tags
        self._tx_ids = itertools.count(100)
        self.changed = asyncio.Event()

    def record(self, charger_id: str, action: str, payload: dict[str, Any]) -> None:
        self.log.append((charger_id, action, payload))
        self.changed.set()

    def of(self, charger_id: str, action: str) -> list[dict[str, Any]]:
        return [p for c, a, p in self.log if c == charger_id and a == action]

    async def until(self, predicate: Any, timeout_s: float = 30.0) -> None:
        """Wait until ``predicate()`` holds (re-checked after every recorded message)."""
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout_s)

    def tag_status(self, tag: str) -> str:
        return "Invalid" if tag in self.reject_tags else "Accepted"


def _make_16(csms: Csms, charger_id: str, ws: Any) -> ChargePoint16:
    class Cp(ChargePoint16):  # type: ignore[misc]
        @on("BootNotification")
        def on_boot(self, **p: Any) -> Any:
            csms.record(charger_id, "BootNotification", p)
            return result16.BootNotification(current_time=_now(), interval=300, status="Accepted")

        @on("Heartbeat")
        def on_heartbeat(self, **p: Any) -> Any:
            csms.record(charger_id, "Heartbeat", p)
            return result16.Heartbeat(current_time=_now())

        @on("StatusNotification")
        def on_status(self, **p: Any) -> Any:
            csms.record(charger_id, "StatusNotification", p)
            return result16.StatusNotification()

        @on("Authorize")
        def on_authorize(self, **p: Any) -> Any:
            csms.record(charger_id, "Authorize", p)
            return result16.Authorize(id_tag_info={"status": csms.tag_status(p["id_tag"])})

        @on("StartTransaction")
        def on_start(self, **p: Any) -> Any:
            csms.record(charger_id, "StartTransaction", p)
            return result16.StartTransaction(transaction_id=next(csms._tx_ids),
                                             id_tag_info={"status": csms.tag_status(p["id_tag"])})

        @on("StopTransaction")
        def on_stop(self, **p: Any) -> Any:
            csms.record(charger_id, "StopTransaction", p)
            return result16.StopTransaction()

        @on("MeterValues")
        def on_meter(self, **p: Any) -> Any:
            csms.record(charger_id, "MeterValues", p)
            return result16.MeterValues()

    return Cp(charger_id, ws)


def _make_201(csms: Csms, charger_id: str, ws: Any) -> ChargePoint201:
    class Cp(ChargePoint201):  # type: ignore[misc]
        @on("BootNotification")
        def on_boot(self, **p: Any) -> Any:
            csms.record(charger_id, "BootNotification", p)
            return result201.BootNotification(current_time=_now(), interval=300, status="Accepted")

        @on("Heartbeat")
        def on_heartbeat(self, **p: Any) -> Any:
            csms.record(charger_id, "Heartbeat", p)
            return result201.Heartbeat(current_time=_now())

        @on("StatusNotification")
        def on_status(self, **p: Any) -> Any:
            csms.record(charger_id, "StatusNotification", p)
            return result201.StatusNotification()

        @on("Authorize")
        def on_authorize(self, **p: Any) -> Any:
            csms.record(charger_id, "Authorize", p)
            return result201.Authorize(id_token_info={"status": csms.tag_status(p["id_token"]["id_token"])})

        @on("TransactionEvent")
        def on_transaction_event(self, **p: Any) -> Any:
            csms.record(charger_id, "TransactionEvent", p)
            if "id_token" in p:
                return result201.TransactionEvent(
                    id_token_info={"status": csms.tag_status(p["id_token"]["id_token"])})
            return result201.TransactionEvent()

        @on("NotifyEVChargingNeeds")
        def on_needs(self, **p: Any) -> Any:
            csms.record(charger_id, "NotifyEVChargingNeeds", p)
            return result201.NotifyEVChargingNeeds(status="Accepted")

        @on("MeterValues")
        def on_meter(self, **p: Any) -> Any:
            csms.record(charger_id, "MeterValues", p)
            return result201.MeterValues()

    return Cp(charger_id, ws)


@asynccontextmanager
async def serve_csms(csms: Csms) -> AsyncIterator[str]:
    """Run ``csms`` on 127.0.0.1 (a free port); yields its URL."""
    async def handler(ws: Any) -> None:
        charger_id = ws.request.path.rstrip("/").split("/")[-1]
        cp = _make_16(csms, charger_id, ws) if ws.subprotocol == "ocpp1.6" else _make_201(csms, charger_id, ws)
        csms.connections[charger_id] = cp
        try:
            await cp.start()
        except websockets.ConnectionClosed:
            pass
        finally:
            if csms.connections.get(charger_id) is cp:
                del csms.connections[charger_id]

    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6", "ocpp2.0.1"]) as server:  # type: ignore[list-item]
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp"
