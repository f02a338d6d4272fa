"""Proxy mode: feedertwin as a transparent local controller in front of an existing back office.

With ``feedertwin live --upstream ws://host/path`` every charger that connects gets its own
connection to the upstream back office (``<upstream>/<identity>``, the charger's subprotocol), and:

- **frames are forwarded unchanged both ways** (the raw text, never re-serialised): the back office
  answers the charger's calls and makes its own calls as if connected directly;
- **state is observed on the way through**: a charger's CALL is turned into the same
  ``sim.live.events`` as in plain mode (by the same handlers, their replies discarded) once the
  back office has *accepted* it (its CALLRESULT), so the twin holds what the back office holds
  (1.6 transaction ids are the back office's). The events are committed before the reply is
  forwarded: what the charger saw acknowledged is durable, as in plain mode;
- **feedertwin's own calls** (capability read, and in active mode its charging profiles) are
  injected with message ids that start with ``INJECTED_ID_PREFIX``; their replies are recognised by
  that prefix and never forwarded upstream. They share one lock with the back office's calls, so at
  most one call to the charger is outstanding (OCPP-J); the back office's calls go in the order
  they came. feedertwin's profiles use the site's ``[control] stack_level`` and its own profile
  ids (``sim.live.profiles.PROFILE_ID_BASE``): give feedertwin a stack level above the back
  office's, so the charger applies feedertwin's limit and the back office's profiles stay
  installed; a back office profile that would replace one of feedertwin's is forwarded with a
  warning;
- **when the upstream link drops** the ``upstream_down`` policy decides: ``keep_local`` (default)
  serves the charger locally, exactly as plain ``feedertwin live`` (the calls the back office
  had not answered yet are answered locally), and reconnects with exponential backoff;
  ``disconnect`` closes the charger's connection (also when the back office cannot be reached at
  connect time), so the charger retries and queues its messages as it does for any lost CSMS.

Frames on the upstream side are stored in the ``frames`` table with charger id
``upstream/<identity>`` (``in`` = from the back office), beside the charger's own frames.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, MessageType, unpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from sim.errors import FeedertwinError
from sim.live.events import SessionStarted
from sim.live.meter import parse_time_s
from sim.live.ocpp16 import Ocpp16Link
from sim.live.ocpp201 import Ocpp201Link
from sim.live.profiles import PROFILE_ID_BASE
from sim.live.rpc import ChargerLink, Hub

LOG = logging.getLogger("sim.live")

INJECTED_ID_PREFIX = "feedertwin-"
"""The message-id prefix of feedertwin's own calls to a proxied charger."""

UPSTREAM_DOWN_POLICIES = ("keep_local", "disconnect")
"""What to do when the upstream back office cannot be reached (see the module docstring)."""


class ProxyConfigError(FeedertwinError):
    """A proxy setting is not valid (the upstream URL, the drop policy, the backoff)."""


@dataclass(frozen=True)
class UpstreamConfig:
    """Where the back office is and what to do when it cannot be reached.

    ``url``: ``ws://`` or ``wss://`` URL; a charger's upstream is ``url`` + ``/`` + its identity.
    ``upstream_down``: one of ``UPSTREAM_DOWN_POLICIES``. ``backoff_initial_s`` doubles after each
    failed reconnect, up to ``backoff_max_s``. ``connect_timeout_s`` bounds each connect attempt.
    """

    url: str
    upstream_down: str = "keep_local"
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ProxyConfigError(f"upstream: got {self.url!r}; expected a ws:// or wss:// URL with a host, "
                                   "such as ws://backoffice.example:9000/ocpp")
        if self.upstream_down not in UPSTREAM_DOWN_POLICIES:
            raise ProxyConfigError(f"upstream_down: got {self.upstream_down!r}; expected one of "
                                   f"{', '.join(UPSTREAM_DOWN_POLICIES)}")
        for name in ("backoff_initial_s", "backoff_max_s", "connect_timeout_s"):
            if not getattr(self, name) > 0:
                raise ProxyConfigError(f"{name}: got {getattr(self, name)!r}; expected a number of seconds > 0")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ProxyConfigError(f"backoff_max_s: got {self.backoff_max_s!r}; expected at least "
                                   f"backoff_initial_s ({self.backoff_initial_s!r})")

    def url_for(self, charger_id: str) -> str:
        """The charger's upstream URL: the base URL, ``/``, the identity (URL-quoted)."""
        return self.url.rstrip("/") + "/" + quote(charger_id, safe="")


def _text(raw: str | bytes) -> str:
    return raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")


def _unpack_or_none(raw: str | bytes) -> Any:
    try:
        return unpack(raw)
    except OCPPError:
        return None


class ProxyLink(ChargerLink):
    """A charger link that forwards to the upstream back office; mixed in before a version's link."""

    _connection: Any  # the charger's websocket, and the one-call-at-a-time lock (the ocpp library's)
    _call_lock: asyncio.Lock

    def __init__(self, charger_id: str, connection: Any, hub: Hub, upstream: UpstreamConfig, *,
                 own_stack_level: int) -> None:
        super().__init__(charger_id, connection, hub)
        self.upstream = upstream
        self.own_stack_level = own_stack_level  # feedertwin's profiles' stackLevel ([control] stack_level)
        self._unique_id_generator = lambda: INJECTED_ID_PREFIX + uuid.uuid4().hex  # feedertwin's own calls
        self._upstream: ClientConnection | None = None
        self._pending_up: dict[str, tuple[str | bytes, Call]] = {}  # the charger's calls the upstream owes
        self._down_replies: dict[str, asyncio.Future[Any]] = {}  # upstream calls the charger owes
        self._down_calls: asyncio.Queue[tuple[str, Call]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def upstream_id(self) -> str:
        """The charger id the upstream side's frames are stored under."""
        return f"upstream/{self.id}"

    # -- the connection's life ------------------------------------------------------------------

    async def start(self) -> None:
        """Connect upstream, then read the charger's frames until it goes (the server's loop)."""
        if not await self._connect_upstream() and self.upstream.upstream_down == "disconnect":
            self.hub.store.commit_soon()
            await self._connection.close(code=1011, reason="the upstream back office cannot be reached")
            return
        self._tasks = [asyncio.create_task(self._upstream_loop(), name=f"upstream {self.id}"),
                       asyncio.create_task(self._forward_calls_down(), name=f"upstream calls {self.id}")]
        try:
            await super().start()  # type: ignore[misc]
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._upstream is not None:
                await self._upstream.close()

    async def _connect_upstream(self) -> bool:
        """One attempt to open the upstream link in the charger's subprotocol; logs a failure."""
        subprotocol = self._connection.subprotocol
        url = self.upstream.url_for(self.id)
        try:
            upstream = await connect(url, subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
                                     open_timeout=self.upstream.connect_timeout_s, ping_interval=None)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as error:
            self.hub.log("warning", f"upstream {url} cannot be reached: {error!r}", self.id)
            return False
        if upstream.subprotocol != subprotocol:
            await upstream.close()
            self.hub.log("warning", f"upstream {url} chose subprotocol {upstream.subprotocol!r}; the charger "
                         f"speaks {subprotocol!r}", self.id)
            return False
        self._upstream = upstream
        self.hub.log("info", f"upstream {url} connected ({subprotocol or 'no subprotocol'})", self.id)
        return True

    async def _upstream_loop(self) -> None:
        """Read the upstream's frames; when the link drops, apply the policy (reconnect or close)."""
        backoff_s = self.upstream.backoff_initial_s
        while True:
            if self._upstream is None:
                await asyncio.sleep(backoff_s)
                if not await self._connect_upstream():
                    backoff_s = min(2 * backoff_s, self.upstream.backoff_max_s)
                    self.hub.store.commit_soon()
                    continue
                backoff_s = self.upstream.backoff_initial_s
            try:
                async for raw in self._upstream:  # type: ignore[union-attr]
                    await self._from_upstream(raw)
            except ConnectionClosed:
                pass
            self._upstream = None
            await self._upstream_lost()
            if self.upstream.upstream_down == "disconnect":
                await self._connection.close(code=1011, reason="the upstream back office went away")
                return

    async def _upstream_lost(self) -> None:
        """keep_local: answer locally what the upstream still owed; disconnect: only log."""
        policy = self.upstream.upstream_down
        self.hub.log("warning", f"upstream link lost; policy {policy}", self.id)
        while not self._down_calls.empty():  # nobody is left to read their replies
            self._down_calls.get_nowait()
        owed, self._pending_up = list(self._pending_up.values()), {}
        if policy == "keep_local":
            for raw, _ in owed:
                await self._route(raw)  # the plain link's handling: events, reply
        self.hub.store.commit_soon()

    # -- frames from the charger ----------------------------------------------------------------

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Forward the charger's frame upstream (or serve it locally while there is no upstream)."""
        msg = _unpack_or_none(raw_msg)
        is_call = msg is None or msg.message_type_id == MessageType.Call
        own_reply = not is_call and (msg.unique_id.startswith(INJECTED_ID_PREFIX)
                                     or (self._upstream is None and msg.unique_id not in self._down_replies))
        if own_reply or (is_call and self._upstream is None):
            await super().route_message(raw_msg)  # feedertwin's own call's reply, or local service
            return
        store = self.hub.store
        store.record_frame(self.hub.now_s(), self.id, "in", raw_msg)
        if is_call:  # no commit here: nothing is acknowledged yet; the reply's send commits it all
            if msg is not None:
                self._pending_up[msg.unique_id] = (raw_msg, msg)
            await self._to_upstream(raw_msg)
            return
        waiter = self._down_replies.pop(msg.unique_id, None)
        if self._upstream is not None:
            await self._to_upstream(raw_msg)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)
        store.commit_soon()

    async def _to_upstream(self, raw: str | bytes) -> None:
        upstream = self._upstream
        if upstream is None:
            return
        self.hub.store.record_frame(self.hub.now_s(), self.upstream_id, "out", raw)
        try:
            await upstream.send(raw)
        except ConnectionClosed:
            pass  # the upstream loop sees the loss and applies the policy

    # -- frames from the upstream ---------------------------------------------------------------

    async def _from_upstream(self, raw: str | bytes) -> None:
        """A reply goes to the charger after observing the call it answers; a call is queued."""
        raw = _text(raw)  # OCPP-J frames are text; a binary one goes on as its UTF-8 text
        self.hub.store.record_frame(self.hub.now_s(), self.upstream_id, "in", raw)
        msg = _unpack_or_none(raw)
        if msg is not None and msg.message_type_id == MessageType.Call:
            if msg.action == "SetChargingProfile":
                self._check_band(msg.payload)
            self._down_calls.put_nowait((raw, msg))  # committed when it is sent to the charger
            return
        if msg is not None:
            pending = self._pending_up.pop(msg.unique_id, None)
            if pending is not None and msg.message_type_id == MessageType.CallResult:
                self._observe(pending[1], msg.payload)
        await self._to_charger(raw)  # records the frame, commits (events included), sends: durable first

    async def _to_charger(self, raw: str) -> None:
        """Send to the charger; a charger already gone is the charger loop's business, not a lost upstream."""
        try:
            await self._send(raw)
        except ConnectionClosed:
            pass

    async def _forward_calls_down(self) -> None:
        """Send the upstream's calls to the charger in order, each holding the one call slot
        feedertwin's own calls also take, until the charger answers (or the call timeout)."""
        while True:
            raw, msg = await self._down_calls.get()
            async with self._call_lock:
                answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._down_replies[msg.unique_id] = answered
                await self._to_charger(raw)
                try:
                    await asyncio.wait_for(answered, self.hub.call_timeout_s)
                except TimeoutError:
                    self._down_replies.pop(msg.unique_id, None)
                    self.hub.log("warning", f"no reply to the upstream's {msg.action} within "
                                 f"{self.hub.call_timeout_s:g} s", self.id)
                    self.hub.store.commit_soon()

    # -- observing --------------------------------------------------------------------------------

    def _check_band(self, payload: Any) -> None:
        """Warn (log and store) when the back office writes a profile that replaces feedertwin's:
        one of feedertwin's profile ids, or feedertwin's stack level and purpose. It is forwarded."""
        profile = (payload.get("csChargingProfiles") or payload.get("chargingProfile") or {}) \
            if isinstance(payload, dict) else {}
        profile_id = profile.get("chargingProfileId", profile.get("id"))
        purpose, stack_level = profile.get("chargingProfilePurpose"), profile.get("stackLevel")
        ours = isinstance(profile_id, int) and any(0 <= profile_id - base < 1000 for base in PROFILE_ID_BASE.values())
        if ours or (purpose in PROFILE_ID_BASE and stack_level == self.own_stack_level):
            self.hub.log("warning", f"the back office's {purpose} (id {profile_id}, stack level {stack_level}) "
                         f"replaces feedertwin's (ids {sorted(PROFILE_ID_BASE.values())} + connector, stack level "
                         f"{self.own_stack_level}): give the two different stack levels", self.id)

    def _observe(self, call: Call, result: dict[str, Any]) -> None:
        """Apply a charger call the upstream accepted to the twin, with the plain link's handlers
        (their replies are discarded: the upstream's reply is the one the charger gets)."""
        payload = camel_to_snake_case(call.payload)
        try:
            if self.ocpp_version == "1.6" and call.action == "StartTransaction":
                self._observe_start_transaction(payload, result)
                return
            handlers = self.route_map.get(call.action, {})  # type: ignore[attr-defined]
            if "_on_action" in handlers:
                handlers["_on_action"](**payload)
            if "_after_action" in handlers:
                handlers["_after_action"](**payload)
        except Exception as error:  # a frame the upstream accepted but the twin cannot read
            self.hub.log("warning", f"{call.action} forwarded but not observed: {error!r}", self.id)

    def _observe_start_transaction(self, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """1.6: the session starts with the transaction id the upstream handed out."""
        transaction_id = result.get("transactionId")
        if transaction_id is None:
            raise ValueError("StartTransaction reply without transactionId")
        self.hub.emit(SessionStarted(self.id, int(payload["connector_id"]), str(transaction_id),
                                     parse_time_s(payload.get("timestamp"), self.hub.now_s()),
                                     id_tag=payload.get("id_tag"), meter_start_wh=float(payload["meter_start"])))


class Proxy16Link(ProxyLink, Ocpp16Link):
    """A proxied OCPP 1.6J charger."""


class Proxy201Link(ProxyLink, Ocpp201Link):
    """A proxied OCPP 2.0.1 charging station."""


PROXY_LINKS: dict[type[ChargerLink], type[ProxyLink]] = {Ocpp16Link: Proxy16Link, Ocpp201Link: Proxy201Link}
"""The proxied link class of each plain link class."""


def proxy_link(link_cls: type[ChargerLink], charger_id: str, connection: Any, hub: Hub, upstream: UpstreamConfig,
               own_stack_level: int) -> ProxyLink:
    """The proxied link for a connection the server would give ``link_cls``."""
    return PROXY_LINKS[link_cls](charger_id, connection, hub, upstream, own_stack_level=own_stack_level)

