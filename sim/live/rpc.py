"""The OCPP-J layer both versions share: one ``ChargerLink`` per connected charger.

On top of the ocpp library's ``ChargePoint`` it adds what a twin needs:

- every frame in and out is recorded raw in the store, and the store is committed *before* any
  frame leaves (a group commit shared by every reply of one event-loop turn, ``LiveStore.durable``),
  so a message a charger saw acknowledged is already durable;
- a malformed frame never kills the connection: a CALL whose message id can be read gets the
  CALLERROR OCPP defines (with the error codes of the link's version: 1.6 says
  ``FormationViolation`` where 2.0.1 says ``FormatViolation``); a frame without a readable id (not
  JSON, not an array, no id) gets no reply, because OCPP-J has nowhere to send one; it is logged
  and dropped;
- calls to the charger (``request``) run outside any incoming-message handler (the caller makes
  them tasks), never suppress a CALLERROR, time out, and come back as a ``CallOutcome`` with one
  of the outcome names the controller understands.

The handlers themselves (``sim.live.ocpp16``, ``sim.live.ocpp201``) only translate payloads into
``sim.live.events`` and reply; what to do with the events is the ``Hub``'s business (``sim.live.app``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ocpp.charge_point import camel_to_snake_case, serialize_as_dict
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.exceptions import NotSupportedError as OcppNotSupported
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, MessageType, unpack
from websockets.exceptions import ConnectionClosed

from sim.live.events import LiveEvent
from sim.live.meter import meter_samples
from sim.live.store import LiveStore

LOG = logging.getLogger("sim.live")

OUTCOMES = ("accepted", "rejected", "not_supported", "not_implemented", "timeout", "error")
"""What became of a call to a charger (the names ``Controller.on_outcome`` takes)."""

_STATUS_OUTCOME = {"Accepted": "accepted", "NotSupported": "not_supported", "NotImplemented": "not_implemented"}

# The error codes the two versions spell differently (the ocpp library uses the 2.0.1 spelling).
_CODES_16 = {"FormatViolation": "FormationViolation", "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
             "RpcFrameworkError": "ProtocolError", "MessageTypeNotSupported": "NotSupported"}
_CODES_201 = {"FormationViolation": "FormatViolation", "OccurenceConstraintViolation": "OccurrenceConstraintViolation"}


class Hub(Protocol):
    """What a link needs from the application around it (``sim.live.app.LiveApp``)."""

    store: LiveStore
    call_timeout_s: float

    def now_s(self) -> float: ...

    def emit(self, event: LiveEvent) -> None:
        """Record the event (pending until the reply's commit) and apply it to the twin."""

    def log(self, level: str, message: str, charger_id: str | None = None) -> None: ...

    def next_transaction_id(self) -> int: ...

    def transaction_on(self, charger_id: str, connector_id: int) -> str | None:
        """The open transaction on a connector (2.0.1 messages that name only the EVSE)."""

    def connector_of(self, charger_id: str, transaction_id: str) -> int | None:
        """The connector an open transaction runs on (2.0.1 events after the first)."""

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        """Run a coroutine as a task outside the handler (calls to chargers)."""

    def booted(self, link: ChargerLink) -> None:
        """A BootNotification was answered: read capabilities, install the safe default."""


@dataclass(frozen=True)
class CallOutcome:
    """What became of a call to a charger: ``outcome`` is one of ``OUTCOMES``; ``status`` is the
    charger's own status text, ``response`` its reply (snake_case keys), ``detail`` a readable why."""

    outcome: str
    status: str | None = None
    response: dict[str, Any] | None = None
    detail: str | None = None


class ChargerLink:
    """Shared behaviour of the 1.6 and 2.0.1 links; mixed in before the ocpp library's ``ChargePoint``."""

    ocpp_version: str = ""
    _call: Any
    _response_queue: asyncio.Queue[Any]

    def __init__(self, charger_id: str, connection: Any, hub: Hub) -> None:
        super().__init__(charger_id, connection, response_timeout=hub.call_timeout_s)  # type: ignore[call-arg]
        self.id: str = charger_id
        self.hub = hub

    # -- frames in ------------------------------------------------------------------------------

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Record, then handle one incoming frame; nothing a charger sends ends the connection."""
        store = self.hub.store
        store.record_frame(self.hub.now_s(), self.id, "in", raw_msg)
        try:
            await self._route(raw_msg)
        except ConnectionClosed:
            raise
        except Exception as error:  # a bug of ours must not cost the charger its connection
            LOG.exception("%s: error while handling %r", self.id, raw_msg)
            self.hub.log("error", f"internal error while handling a frame: {error!r}", self.id)
        store.commit_soon()  # what got no reply (a charger's answer to our call) joins the next commit

    async def _route(self, raw_msg: str | bytes) -> None:
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            reply = self._reply_to_unreadable(raw_msg, error)
            what = "answered with a CALLERROR" if reply else "dropped (no message id to answer)"
            self.hub.log("warning", f"malformed frame {_clip(raw_msg)} {what}: {error.description}", self.id)
            if reply:
                await self._send(reply)
            return
        if msg.message_type_id == MessageType.Call:
            try:
                await self._handle_call(msg)  # type: ignore[attr-defined]
            except OCPPError as error:
                self.hub.log("warning", f"{msg.action} rejected with {self._code(error.code)}: {error.details}",
                             self.id)
                await self._send(self._call_error(msg.unique_id, error.code, error.description, error.details))
        else:
            self._response_queue.put_nowait(msg)

    def _reply_to_unreadable(self, raw_msg: str | bytes, error: OCPPError) -> str | None:
        """The CALLERROR for a frame the library could not unpack, if it has a readable message id."""
        try:
            frame = json.loads(raw_msg)
        except (ValueError, TypeError):
            return None
        if not (isinstance(frame, list) and len(frame) >= 2 and isinstance(frame[1], str)):
            return None
        if frame[0] == MessageType.Call:  # a CALL with elements missing
            return self._call_error(frame[1], "RpcFrameworkError" if self.ocpp_version != "1.6" else "ProtocolError",
                                    "the CALL is missing elements", {"cause": str(error.details)})
        if frame[0] not in (MessageType.CallResult, MessageType.CallError) and self.ocpp_version != "1.6":
            return self._call_error(frame[1], "MessageTypeNotSupported", f"message type {frame[0]!r} is not supported",
                                    {})
        return None  # 1.6 has no error for an unknown message type; never answer a CALLRESULT/CALLERROR

    def _code(self, code: str) -> str:
        return (_CODES_16 if self.ocpp_version == "1.6" else _CODES_201).get(code, code)

    def _call_error(self, unique_id: str, code: str, description: str, details: Any) -> str:
        return str(CallError(unique_id, self._code(code), description, _jsonable_details(details)).to_json())

    def _emit_meter_values(self, connector_id: int, transaction_id: str | None,
                           meter_value: list[dict[str, Any]]) -> None:
        """Emit one ``MeterSample`` per meter value entry; log what could not be read."""
        samples, notes = meter_samples(self.id, connector_id, transaction_id, meter_value, self.hub.now_s())
        for sample in samples:
            self.hub.emit(sample)
        if notes:
            self.hub.log("info", "meter values skipped: " + "; ".join(sorted(set(notes))), self.id)

    # -- frames out -----------------------------------------------------------------------------

    async def _send(self, message: str) -> None:
        """Record the frame and wait for the commit of everything pending, then send: acknowledged
        means durable."""
        self.hub.store.record_frame(self.hub.now_s(), self.id, "out", message)
        await self.hub.store.durable()
        await self._connection.send(message)  # type: ignore[attr-defined]

    # -- calls to the charger -------------------------------------------------------------------

    async def request(self, action: str, payload: Mapping[str, Any]) -> CallOutcome:
        """Send ``action`` with an OCPP JSON ``payload`` (camelCase) and wait for the outcome.

        Never call this inside an incoming-message handler: the reply could only arrive through
        the very loop the handler blocks. Run it as a task (``Hub.spawn``).
        """
        request_cls = getattr(self._call, action, None)
        if request_cls is None:
            return CallOutcome("error", detail=f"{action!r} is not an OCPP {self.ocpp_version} call")
        try:
            request = request_cls(**camel_to_snake_case(dict(payload)))
            result = await self._call_unless_closed(request)
        except TimeoutError:
            return CallOutcome("timeout", detail=f"no reply to {action} within {self.hub.call_timeout_s:g} s")
        except OcppNotImplemented as error:
            return CallOutcome("not_implemented", detail=f"CALLERROR NotImplemented: {error.description}")
        except OcppNotSupported as error:
            return CallOutcome("not_supported", detail=f"CALLERROR NotSupported: {error.description}")
        except OCPPError as error:
            return CallOutcome("error", detail=f"{error.code}: {error.description} {error.details or ''}".strip())
        except ConnectionClosed:
            return CallOutcome("error", detail=f"the connection closed before {action} was answered")
        except Exception as error:  # a bad payload (TypeError) or an unknown CALLERROR code
            return CallOutcome("error", detail=f"{action} failed: {error!r}")
        response = serialize_as_dict(result) if dataclasses.is_dataclass(result) else {}
        status = response.get("status")
        if status is None:
            return CallOutcome("accepted", response=response)
        return CallOutcome(_STATUS_OUTCOME.get(status, "rejected"), status=status, response=response)


    async def _call_unless_closed(self, request: Any) -> Any:
        """``call(request, suppress=False)``, ended by ``ConnectionClosed`` as soon as the connection
        closes (the library alone would wait for its timeout)."""
        calling = asyncio.ensure_future(self.call(request, suppress=False))  # type: ignore[attr-defined]
        closing = asyncio.ensure_future(self._connection.wait_closed())  # type: ignore[attr-defined]
        try:
            await asyncio.wait({calling, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the caller is cancelled: nothing is left running
            answered = calling.done()
            closing.cancel()
            if not answered:
                calling.cancel()
        if not answered:
            raise ConnectionClosed(None, None)
        return calling.result()


def _clip(raw: str | bytes, n: int = 80) -> str:
    text = repr(raw)
    return text if len(text) <= n else text[: n - 3] + "..."


def _jsonable_details(details: Any) -> dict[str, Any]:
    """Error details as plain JSON (the library puts message objects into them)."""
    if not isinstance(details, Mapping):
        return {}
    return {str(k): v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
            for k, v in details.items() if not isinstance(v, Call)}
