"""The live application: the events, the twin, the tick loop, and calls to chargers.

``LiveApp`` is the ``Hub`` the OCPP links talk to (``sim.live.rpc``):

- ``emit(event)`` records an event in the store and applies it to the tracker (the twin). The
  store is committed by the link right before its reply leaves, so what a charger saw
  acknowledged is durable.
- On start, the events of the store are re-applied to a new tracker, so a restart after a crash
  picks up the sessions where they were; links a crash left open are closed with a
  ``ChargerDisconnected`` at the restart time.
- ``tick(now_s)``, every control period of the app's clock (``run``; ``sim.live.clock``: real time,
  or a sped-up ``SimClock`` for demos and tests) and at once after a session starts or ends: the
  tracker's ``SiteView``, the controller's decision, recorded with each charger's setpoint beside
  its measured current. In ``shadow`` mode that is all: nothing is ever sent to a charger (the
  boot-time capability *read* is the only call made in shadow mode; it changes nothing on the
  charger). In ``active`` mode the decision's
  commands are sent, each as a task of its own (never inside a handler), every outcome recorded and
  fed back to the controller, whose fallback commands are sent the same way.
- When the site has a ``[grid]``, each tick first solves the live load flow with the measured
  charging power (``sim.live.feeder``): the view carries that ``GridState`` and the store its
  summary (lowest / highest voltage, highest line and transformer loading, import).
- After a BootNotification: the capability read (a ``Capabilities`` event), then in active mode the
  controller's boot commands (the safe default profile).
- ``operator`` (``sim.live.actions.Operator``): the operator's actions (mode switch, limits,
  reservations, remote start / stop, reset), each audited in the store and published on the feed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.domain import GridState
from sim.errors import LoadFlowError
from sim.live.actions import Operator
from sim.live.clock import Clock, as_clock
from sim.live.controller import Controller, Decision, ProfileCommand, Reaction
from sim.live.events import (
    ChargerConnected,
    ChargerDisconnected,
    ChargingNeeds,
    LiveEvent,
    SessionEnded,
    SessionStarted,
)
from sim.live.feed import LiveFeed
from sim.live.feeder import LiveFeeder
from sim.live.rpc import CallOutcome, ChargerLink
from sim.live.site_file import LiveSite
from sim.live.store import LiveStore, to_jsonable
from sim.live.tracker import LiveTracker

LOG = logging.getLogger("sim.live")
REPLAN_EVENTS = (SessionStarted, SessionEnded, ChargingNeeds)
"""Events after which the tick loop re-plans at once, as the simulator re-allocates at plug events."""

MODES = ("shadow", "active")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LiveApp:
    """One live site: its store, twin and controller, and the chargers connected right now."""

    def __init__(self, site: LiveSite, mode: str, store: LiveStore, *,
                 clock: Clock | Callable[[], float] = time.time, call_timeout_s: float = 30.0,
                 max_calls_in_flight: int = 32, max_calls_per_s: float = 200.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode: got {mode!r}; expected one of {MODES}")
        self.site = site
        self.mode = mode
        self.store = store
        self.call_timeout_s = call_timeout_s
        self.clock = as_clock(clock)  # every time the app records, views and ticks by (sim.live.clock)
        self.tracker = LiveTracker(site)
        self.controller = Controller(site, site.make_strategy())
        self.feeder = LiveFeeder.for_site(site)  # the live load flow, when the site has a [grid]
        self.links: dict[str, ChargerLink] = {}
        self._open: dict[tuple[str, str], int] = {}  # (charger, transaction) -> connector
        self._tasks: set[asyncio.Task[Any]] = set()
        self.feed = LiveFeed()  # every change, for whoever follows the site (the API's stream)
        self.last_decision: Decision | None = None  # the latest control tick's decision and grid state
        self.last_grid: GridState | None = None
        self._replan = asyncio.Event()  # a session started or ended, or its needs came: tick now (run)
        self._next_tx = 1
        # At most this many calls to chargers wait for their reply at once: a tick's burst of profiles
        # (one per charger at a large site) then goes out paced by the replies, and the chargers'
        # own messages are served in between instead of queueing behind the whole burst.
        self._calls_in_flight = asyncio.Semaphore(max_calls_in_flight)
        # ... and at most this many start per (real) second: 1,000 new profiles after a limit moved
        # take 5 s to go out instead of flooding the chargers' side (measured: benchmarks/bench_chargers.py)
        self._call_interval_s = 1.0 / max_calls_per_s
        self._next_call_at = 0.0  # time.monotonic() at which the next call may start
        self._restore()
        self.operator = Operator(self)  # the operator's actions (sim.live.actions); re-applies their limits

    # -- start-up -------------------------------------------------------------------------------

    def _restore(self) -> None:
        """Re-apply the stored events to the new twin; close links a crash left open."""
        count = 0
        for event in self.store.events():
            self._apply(event, log_notes=False)  # the notes were logged when the event first came
            count += 1
        self._next_tx = self.store.max_transaction_id() + 1
        for charger_id in self.store.still_connected():
            self.emit(ChargerDisconnected(charger_id, self.now_s()))
        if count:
            self.log("info", f"restored {count} events from {self.store.path}; {len(self._open)} sessions open")
        self.store.commit()

    # -- the Hub the links use ------------------------------------------------------------------

    def now_s(self) -> float:
        return self.clock.now_s()

    def emit(self, event: LiveEvent) -> None:
        self.store.record_event(event)
        self._apply(event)
        if self.feed.n_subscribers:
            self.feed.publish("event", event.t_s, {"type": type(event).__name__, **to_jsonable(event)})
        if isinstance(event, REPLAN_EVENTS):
            self._replan.set()

    def _apply(self, event: LiveEvent, log_notes: bool = True) -> None:
        for note in self.tracker.apply(event):
            if log_notes:
                self.log("info", note, event.charger_id)
        if isinstance(event, SessionStarted):  # a start on a busy connector ends the old one (as the tracker)
            for key in [k for k, c in self._open.items() if k[0] == event.charger_id and c == event.connector_id]:
                del self._open[key]
            self._open[(event.charger_id, event.transaction_id)] = event.connector_id
        elif isinstance(event, SessionEnded):
            self._open.pop((event.charger_id, event.transaction_id), None)

    def log(self, level: str, message: str, charger_id: str | None = None) -> None:
        LOG.log(_LEVELS.get(level, logging.INFO), "%s%s", f"{charger_id}: " if charger_id else "", message)
        t_s = self.now_s()
        self.store.record_log(t_s, level, message, charger_id)
        if level in ("warning", "error") and self.feed.n_subscribers:
            self.feed.publish("log", t_s, {"level": level, "charger_id": charger_id, "message": message})

    def next_transaction_id(self) -> int:
        self._next_tx += 1
        return self._next_tx - 1

    def transaction_on(self, charger_id: str, connector_id: int) -> str | None:
        for (charger, tx), connector in self._open.items():
            if charger == charger_id and connector == connector_id:
                return tx
        return None

    def connector_of(self, charger_id: str, transaction_id: str) -> int | None:
        return self._open.get((charger_id, transaction_id))

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log("error", f"task {task.get_name()} failed: {task.exception()!r}")
            self.store.commit_soon()

    def booted(self, link: ChargerLink) -> None:
        self.spawn(self._after_boot(link), name=f"boot {link.id}")

    async def _after_boot(self, link: ChargerLink) -> None:
        capabilities = await link.read_capabilities()  # type: ignore[attr-defined]
        self.emit(capabilities)
        self.store.commit_soon()
        reaction = self.controller.on_boot(link.id, link.ocpp_version, capabilities)
        self._react(reaction, link.id, "info")

    # -- connections (the server) ---------------------------------------------------------------

    def accepts(self, charger_id: str) -> bool:
        """Whether ``charger_id`` may connect (listed, or the site accepts unknown chargers)."""
        return self.site.charger_for(charger_id) is not None

    def connected(self, link: ChargerLink) -> ChargerLink | None:
        """Register a new link; returns the link it replaces, if the charger was still connected."""
        replaced = self.links.get(link.id)
        self.links[link.id] = link
        self.emit(ChargerConnected(link.id, self.now_s(), link.ocpp_version))
        self.store.commit_soon()
        return replaced

    def disconnected(self, link: ChargerLink) -> None:
        if self.links.get(link.id) is link:
            del self.links[link.id]
            self.emit(ChargerDisconnected(link.id, self.now_s()))
            self.store.commit_soon()

    # -- control --------------------------------------------------------------------------------

    def tick(self, now_s: float | None = None) -> Decision:
        """One control step: view, decision, record; in active mode the commands go out as tasks."""
        started_s = time.perf_counter()
        t_s = self.now_s() if now_s is None else now_s
        measured_kw = self.tracker.measured_power_kw()  # per charger, once: the load flow and the records
        grid = self._load_flow(t_s, measured_kw)
        view = self.tracker.view(t_s, self.site.control.period_s, grid)
        decision = self.controller.decide(view, self.mode, t_s, self.tracker.session_refs())
        measured_a = self.tracker.measured_current_a()  # in view.chargers order, as the setpoints
        rows = [(cid, float(setpoint_a), float(now_a)) for cid, setpoint_a, now_a
                in zip(decision.charger_ids, decision.setpoints_a, measured_a, strict=True)]
        decision_id = self.store.record_decision(t_s, self.mode, decision, rows)
        if grid is not None:
            self.store.record_grid(decision_id, grid.vm_min_pu, grid.vm_max_pu, grid.max_line_loading_percent,
                                   grid.max_trafo_loading_percent, grid.p_import_kw)
        charging_kw, import_kw, import_limit_kw = self._site_power(grid, measured_kw)
        self.store.record_site_power(decision_id, t_s, charging_kw, import_kw, import_limit_kw)
        for note in decision.notes:
            self.log("info", note)
        self.store.record_tick_time(decision_id, time.perf_counter() - started_s)
        self.store.commit_soon()
        self.last_decision, self.last_grid = decision, grid
        if self.feed.n_subscribers:
            self.feed.publish("decision", t_s, {
                "decision_id": decision_id, "mode": self.mode,
                "site_power": {"charging_kw": charging_kw, "import_kw": import_kw, "import_limit_kw": import_limit_kw},
                "setpoints": [{"charger_id": c, "setpoint_a": a, "measured_a": m} for c, a, m in rows],
                "grid": None if grid is None else {
                    "vm_min_pu": grid.vm_min_pu, "vm_max_pu": grid.vm_max_pu,
                    "max_line_loading_percent": grid.max_line_loading_percent,
                    "max_trafo_loading_percent": grid.max_trafo_loading_percent, "p_import_kw": grid.p_import_kw}})
        self._send_all(decision.commands)
        return decision

    def _site_power(self, grid: GridState | None, measured_kw: NDArray[np.float64]) -> tuple[float, float, float | None]:
        """The site's power at this tick (kW): the measured charging power summed, the import (the
        load flow's when it ran, else base load plus charging) and the site file's import limit
        (``sim.live.actions`` lowers limits-tree currents and charger limits, never this one)."""
        charging_kw = float(measured_kw.sum())
        import_kw = self.tracker.base_load_kw + charging_kw
        if grid is not None and math.isfinite(grid.p_import_kw):
            import_kw = float(grid.p_import_kw)
        return charging_kw, import_kw, self.site.site.import_limit_kw

    def _load_flow(self, t_s: float, measured_kw: NDArray[np.float64]) -> GridState | None:
        """The site's feeder with the measured charging power (``None`` without [grid], or when the
        load flow fails: then the tick goes on without a grid state, and the log says why)."""
        if self.feeder is None:
            return None
        try:
            return self.feeder.solve(t_s, self.tracker.chargers, measured_kw)
        except (LoadFlowError, ValueError) as error:
            self.log("warning", f"live load flow skipped at this tick: {error}")
            return None

    def _react(self, reaction: Reaction, charger_id: str, level: str) -> None:
        """Log the controller's message (and store it), then send its commands (active mode only)."""
        if reaction.message:
            unsent = " (shadow mode: not sent)" if reaction.commands and self.mode != "active" else ""
            self.log(level, reaction.message + unsent, charger_id)
        self.store.commit_soon()
        self._send_all(reaction.commands)

    def _send_all(self, commands: Iterable[ProfileCommand]) -> None:
        """In active mode, send each command as its own task; in shadow mode, send nothing."""
        if self.mode != "active":
            return
        for command in commands:
            self.spawn(self.send_command(command), name=f"{command.action} {command.charger_id}")

    async def _pace(self) -> None:
        """Wait for this call's slot: calls start at most ``max_calls_per_s`` per real second."""
        now = time.monotonic()
        start = max(now, self._next_call_at)
        self._next_call_at = start + self._call_interval_s
        if start > now:
            await asyncio.sleep(start - now)

    async def send_command(self, command: ProfileCommand) -> CallOutcome:
        """Send one command to its charger, record the outcome, and send the controller's fallbacks."""
        command_id = self.store.record_command(self.now_s(), command.charger_id, command.action, command.payload)
        link = self.links.get(command.charger_id)
        if link is None:
            outcome = CallOutcome("error", detail="the charger is not connected")
        else:  # the call's frame is sent after a commit that includes the command row (ChargerLink._send)
            await self._pace()
            async with self._calls_in_flight:
                if self.mode == "active":
                    outcome = await link.request(command.action, command.payload)
                else:  # an operator switched to shadow while this call waited for its slot
                    outcome = CallOutcome("error", detail="not sent: the site switched to shadow mode")
        self.store.record_outcome(command_id, self.now_s(), outcome.outcome, outcome.detail or outcome.status)
        if self.feed.n_subscribers:
            self.feed.publish("command", self.now_s(), {
                "command_id": command_id, "charger_id": command.charger_id, "action": command.action,
                "purpose": command.purpose, "limit_a": command.limit_a, "outcome": outcome.outcome,
                "detail": outcome.detail or outcome.status})
        session_ended = (command.transaction_id is not None
                         and (command.charger_id, command.transaction_id) not in self._open)
        reaction = self.controller.on_outcome(command, outcome.outcome, session_ended=session_ended)
        self._react(reaction, command.charger_id, "info" if outcome.outcome == "accepted" else "warning")
        return outcome

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set: every control period of the app's clock (``period_s`` of clock
        time, so ``period_s / speed`` real seconds on a sped-up ``SimClock``), and at once after a
        session starts or ends or its charging needs come (``REPLAN_EVENTS``), as the simulator
        re-allocates at every plug event; those extra ticks do not move the periodic ones. Events
        that come together share one tick, and an extra tick first waits as long as the last tick
        took, so re-planning never takes more than half the event loop. A failing tick is logged,
        never fatal."""
        period_s = self.site.control.period_s
        next_tick_s, replanning = self.now_s(), False
        while not stop.is_set():
            if not replanning:  # a periodic tick: the next one is a period of clock time from now
                next_tick_s = self.now_s() + period_s
            self._replan.clear()
            started_s = time.monotonic()
            self._safe_tick()
            replanning = await self._wait_for_tick(stop, next_tick_s, rest_s=time.monotonic() - started_s)

    async def _wait_for_tick(self, stop: asyncio.Event, next_tick_s: float, rest_s: float) -> bool:
        """Until the clock reads ``next_tick_s``, a re-plan is asked for (after ``rest_s`` real
        seconds) or ``stop`` is set; True when it is for a re-plan."""
        await asyncio.sleep(min(rest_s, self.clock.real_delay_s(next_tick_s)))
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._replan.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.clock.real_delay_s(next_tick_s),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        return self._replan.is_set() and not stop.is_set()

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception as error:  # the strategy or the twin failed: say so, keep serving
            LOG.exception("control tick failed")
            self.log("error", f"control tick failed: {error!r}")
            self.store.commit_soon()

    async def close(self) -> None:
        """Cancel the calls still in flight and commit the store."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.store.commit()
