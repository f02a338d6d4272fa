"""The shadow / active controller: a strategy's setpoints, and in active mode the profiles to send.

``Controller(site, strategy)``; the caller (``sim.live.app``) sends the commands, always reports
each one's outcome back, and logs and stores every ``Reaction.message``.

- ``decide(view, mode, now_s, sessions)``: the strategy's setpoints for the view (checked like the
  engine checks them), the limit each charger would get (``profiles.sendable_current_a``) and, in
  ``"active"`` mode only, the ``ProfileCommand``s to send now. ``sessions`` maps the view's session
  ids to where they live (``LiveTracker.session_refs()``). Shadow mode never produces a command.
- ``on_boot(charger_id, ocpp_version, capabilities)``: the safe ``TxDefaultProfile`` (the site's
  ``safe_limit_a``) at connector 0, the limit every session gets if feedertwin goes away. A charger
  with a session that ``decide`` meets without a boot (feedertwin restarted and the charger only
  reconnected) is booted there, without capabilities, and gets the safe default with its first limit.
- ``on_activate(connected)``: an operator switched shadow to active: the safe default for the
  connected chargers that have none in force.
- ``on_outcome(command, outcome)``: ``accepted`` records the limit as in force; ``error`` (any other
  CALLERROR) leaves it to be retried at a later tick; ``rejected``, ``not_supported``,
  ``not_implemented`` or ``timeout`` mark what the charger does not take and return the fallback.

**When a limit is sent** (flash wear and safety). A session's limit is sent when it differs from
the one in force by more than ``deadband_a``, or pauses or resumes the session. A *raise* waits
until ``min_send_interval_s`` has passed since the last profile sent to that charger; a *lowering*
is sent at once: the strategy's setpoints respect the site's limits only together, so holding one
charger's decrease while another's increase goes out could overload a fuse. A charger is thus
written at most twice per interval, and holding raises only ever leaves capacity unused. The limit in
force at the start of a transaction is the default profile's; when none is known (the charger took
no default), the first limit goes at once. While a command is outstanding no other is made for the
same profile.

**Fallbacks**, in order, each tried in the charger's rate units (A first unless it only takes W;
a unit is dropped after a rejection unless the charger's capabilities confirmed it):
a setpoint goes as a ``TxProfile`` on the session's connector, else a ``TxDefaultProfile`` on that
connector, else on connector 0; the boot default goes at connector 0, else on each connector.
``not_supported`` / ``not_implemented`` mean SetChargingProfile itself is missing: the charger is
marked uncontrollable (its setpoints stay shadow values). When setpoints travel as a default
profile, the safe default is restored once the charger has no session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.domain import Charger, SiteView
from sim.live.events import Capabilities
from sim.live.profiles import TX_DEFAULT_PROFILE, TX_PROFILE, sendable_current_a, set_charging_profile
from sim.live.site_file import LiveSite
from sim.live.tracker import SessionRef
from sim.strategies import Strategy
from sim.strategies.base import check_setpoints

MODES = ("shadow", "active")
OUTCOMES = ("accepted", "rejected", "not_supported", "not_implemented", "timeout", "error")
REFUSALS = ("rejected", "timeout")  # the charger refused this profile: try the next form
UNSUPPORTED = ("not_supported", "not_implemented")  # SetChargingProfile itself is missing

Route = tuple[str, bool]  # (purpose, on connector 0)
SETPOINT_ROUTES: tuple[Route, ...] = ((TX_PROFILE, False), (TX_DEFAULT_PROFILE, False), (TX_DEFAULT_PROFILE, True))
DEFAULT_ROUTES: tuple[Route, ...] = ((TX_DEFAULT_PROFILE, True), (TX_DEFAULT_PROFILE, False))


@dataclass(frozen=True)
class ProfileCommand:
    """One SetChargingProfile call: ``payload`` is the request (camelCase) for ``ocpp_version``.

    ``intent`` is ``"setpoint"`` (a session's limit) or ``"default"`` (the safe fallback);
    ``connector_id`` is the profile's connector / EVSE (0 = the whole charger).
    """

    charger_id: str
    ocpp_version: str
    intent: str
    purpose: str
    connector_id: int
    limit_a: float
    unit: str
    reason: str
    payload: dict[str, Any] = field(compare=False, repr=False)
    session_connector_id: int = 0  # the session's connector (setpoints), for the next fallback
    transaction_id: str | None = None
    session_id: str | None = None
    action: str = "SetChargingProfile"


@dataclass(frozen=True)
class Reaction:
    """What to send next (fallbacks) and what to log and store."""

    commands: tuple[ProfileCommand, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class Decision:
    """One control tick: setpoints (A per phase, the strategy's, checked) and the limits they make
    (what a profile would carry), per charger in ``charger_ids`` order; commands only when active."""

    t_s: float
    mode: str
    charger_ids: tuple[str, ...]
    setpoints_a: NDArray[np.float64]
    limits_a: NDArray[np.float64]
    commands: tuple[ProfileCommand, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Link:
    """What the controller knows of one booted charger (mutable; only the controller writes it)."""

    charger: Charger
    ocpp_version: str
    units: tuple[str, ...]
    confirmed_units: tuple[str, ...]
    stack_level: int
    n_connectors: int
    controllable: bool = True
    refused: set[tuple[str, bool, str]] = field(default_factory=set)  # (purpose, at 0, unit)
    refused_routes: set[Route] = field(default_factory=set)
    in_force: dict[tuple[str, int], tuple[str | None, float]] = field(default_factory=dict)  # -> (tx, A)
    pending: set[tuple[str, int]] = field(default_factory=set)
    last_sent_s: float = -np.inf

    def unit_for(self, route: Route) -> str | None:
        if route in self.refused_routes:
            return None
        return next((u for u in self.units if (route[0], route[1], u) not in self.refused), None)


class Controller:
    def __init__(self, site: LiveSite, strategy: Strategy) -> None:
        self.site = site
        self.strategy = strategy
        self.control = site.control
        self._links: dict[str, _Link] = {}

    # --- boot ----------------------------------------------------------------------------------------
    def on_boot(self, charger_id: str, ocpp_version: str, capabilities: Capabilities | None) -> Reaction:
        """Forget what the charger refused before (a reboot may bring new firmware) and return the
        safe TxDefaultProfile to install."""
        charger = self.site.charger_for(charger_id)
        if charger is None:
            return Reaction(message=f"charger '{charger_id}' is not in the site file: no profile sent")
        caps = capabilities
        units = tuple(u for u in ("A", "W") if caps is None or caps.rate_units is None or u in caps.rate_units)
        stack = self.control.stack_level
        if caps is not None and caps.max_stack_level is not None:
            stack = min(stack, caps.max_stack_level)
        link = _Link(charger, ocpp_version, units or ("A", "W"),
                     confirmed_units=tuple(caps.rate_units or ()) if caps is not None else (), stack_level=stack,
                     n_connectors=max(1, caps.number_of_connectors or 1) if caps is not None else 1)
        self._links[charger_id] = link
        if caps is not None and caps.smart_charging is False:
            link.controllable = False
            return Reaction(message=f"charger '{charger_id}' reports no smart charging: no profiles are sent, "
                                    "its setpoints are recorded as shadow values only")
        commands = self._default_commands(link, self._safe_limit_a(charger), "boot: safe default")
        return Reaction(tuple(commands), f"charger '{charger_id}' booted ({ocpp_version}): safe default "
                                  f"{self._safe_limit_a(charger):g} A per phase")

    def on_activate(self, connected: set[str]) -> tuple[ProfileCommand, ...]:
        """Shadow -> active (an operator's switch): commands made in shadow mode were never sent, so
        none is outstanding; the safe default for each connected, booted charger without one in force."""
        commands: list[ProfileCommand] = []
        for charger_id, link in self._links.items():
            link.pending.clear()
            has_default = any(purpose == TX_DEFAULT_PROFILE for purpose, _ in link.in_force)
            if charger_id in connected and not has_default:
                commands.extend(self._default_commands(link, self._safe_limit_a(link.charger),
                                                       "mode switched to active: safe default"))
        return tuple(commands)

    def _safe_limit_a(self, charger: Charger) -> float:
        safe = self.control.safe_limit_a
        if safe > 0.0:  # a charger that cannot go as low as the safe limit gets its own minimum
            safe = max(safe, charger.min_current_a)
        return sendable_current_a(charger, safe)

    # --- ticks ---------------------------------------------------------------------------------------
    def decide(self, view: SiteView, mode: str, now_s: float, sessions: Mapping[str, SessionRef]) -> Decision:
        """Setpoints for ``view``; in ``"active"`` mode also the profiles to send now."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        setpoints = check_setpoints(self.strategy, self.strategy.compute(view), view.chargers, view.time_s)
        limits = np.array([sendable_current_a(c, float(a)) for c, a in zip(view.chargers.chargers, setpoints,
                                                                              strict=True)])
        decision = Decision(now_s, mode, view.chargers.ids, setpoints, limits)
        if mode == "shadow":
            return decision
        commands: list[ProfileCommand] = []
        notes: list[str] = []
        with_session: set[str] = set()
        for session_id, j in zip(view.sessions.session_ids, view.sessions.charger_index, strict=True):
            ref = sessions.get(session_id)
            charger_id = view.chargers.ids[j]
            with_session.add(charger_id)
            link = self._links.get(charger_id)
            if link is None and ref is not None and ref.ocpp_version is not None:
                # met without a boot (feedertwin restarted, the charger only reconnected): as at a boot
                reaction = self.on_boot(charger_id, ref.ocpp_version, None)
                commands.extend(reaction.commands)
                notes.append(f"charger '{charger_id}' has a session but no boot was seen: {reaction.message}")
                link = self._links.get(charger_id)
            if ref is None or link is None:
                notes.append(f"no profile for session '{session_id}': "
                             + ("its charger is not connected" if ref is not None else "no such session reference"))
                continue
            command = self._setpoint_command(link, ref, float(limits[j]), now_s)
            if command is not None:
                commands.append(command)
        for charger_id, link in self._links.items():
            if charger_id not in with_session:
                commands.extend(self._restore_default(link, now_s))
        return Decision(now_s, mode, view.chargers.ids, setpoints, limits, tuple(commands), tuple(notes))

    def _setpoint_command(self, link: _Link, ref: SessionRef, limit_a: float, now_s: float) -> ProfileCommand | None:
        if not link.controllable:
            return None
        choice = self._first_route(link, SETPOINT_ROUTES)
        if choice is None:
            return None
        (purpose, at_zero), unit = choice
        connector = 0 if at_zero else ref.connector_id
        key = (purpose, connector)
        if key in link.pending:
            return None
        in_force = self._in_force_a(link, key, ref)
        if not self._due(link, in_force, limit_a, now_s):
            return None
        return self._command(link, "setpoint", purpose, connector, limit_a, unit, "setpoint", now_s,
                             session=ref)

    def _in_force_a(self, link: _Link, key: tuple[str, int], ref: SessionRef) -> float | None:
        """The limit the session runs at now, as far as the controller knows."""
        held = link.in_force.get(key)
        if key[0] == TX_PROFILE:
            if held is not None and held[0] == ref.transaction_id:
                return held[1]
            held = link.in_force.get((TX_DEFAULT_PROFILE, ref.connector_id)) or link.in_force.get((TX_DEFAULT_PROFILE, 0))
        return held[1] if held is not None else None

    def _due(self, link: _Link, in_force_a: float | None, limit_a: float, now_s: float) -> bool:
        """Deadband, pause/resume and the raise interval (see the module docstring). A limit whose
        predecessor is unknown (no default profile in force) goes at once: it may be a decrease."""
        if in_force_a is None:
            return True
        pause_change = (limit_a == 0.0) != (in_force_a == 0.0)
        if not pause_change and abs(limit_a - in_force_a) <= self.control.deadband_a:
            return False
        return limit_a < in_force_a or now_s - link.last_sent_s >= self.control.min_send_interval_s

    def _restore_default(self, link: _Link, now_s: float) -> list[ProfileCommand]:
        """After setpoints travelled as a default profile: the safe default again, once idle."""
        safe_a = self._safe_limit_a(link.charger)
        out: list[ProfileCommand] = []
        for (purpose, connector), (_, limit_a) in list(link.in_force.items()):
            key = (purpose, connector)
            if purpose != TX_DEFAULT_PROFILE or limit_a == safe_a or key in link.pending:
                continue
            unit = link.unit_for((purpose, connector == 0))
            if unit is not None and self._due(link, limit_a, safe_a, now_s):
                out.append(self._command(link, "default", purpose, connector, safe_a, unit,
                                         "restore the safe default (no session)", now_s))
        return out

    # --- outcomes ------------------------------------------------------------------------------------
    def on_outcome(self, command: ProfileCommand, outcome: str, *, session_ended: bool = False) -> Reaction:
        """Record how the charger answered ``command``; the fallback to send next, and a log line.

        ``session_ended``: the session the command was for ended before the answer came. A charger
        rightly refuses a TxProfile for a transaction that is over, so such a refusal says nothing
        about what the charger accepts: no fallback, nothing marked."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        link = self._links.get(command.charger_id)
        if link is None:
            return Reaction(message=f"outcome {outcome} for charger '{command.charger_id}' that has not booted: ignored")
        key = (command.purpose, command.connector_id)
        link.pending.discard(key)
        what = (f"{command.purpose} {command.limit_a:g} A in {command.unit} on connector {command.connector_id} "
                f"of '{command.charger_id}'")
        if session_ended and outcome not in ("accepted", "error"):
            return Reaction(message=f"{what}: {outcome} after its session ended; expected, nothing marked")
        if outcome == "accepted":
            link.in_force[key] = (command.transaction_id, command.limit_a)
            return Reaction(message=f"{what}: accepted")
        if outcome == "error":
            return Reaction(message=f"{what}: failed (CALLERROR); retried at a later tick")
        if outcome in UNSUPPORTED:
            link.controllable = False
            return Reaction(message=f"{what}: {outcome}; the charger does not take SetChargingProfile: marked "
                                    "uncontrollable, its setpoints are recorded as shadow values only")
        return self._fall_back(link, command, outcome, what)

    def _fall_back(self, link: _Link, command: ProfileCommand, outcome: str, what: str) -> Reaction:
        route = (command.purpose, command.connector_id == 0)
        if command.unit in link.confirmed_units or len([u for u in link.units if (*route, u) not in link.refused]) <= 1:
            link.refused_routes.add(route)
            marked = f"{command.purpose} on {'connector 0' if route[1] else 'a connector'}"
        else:
            link.refused.add((*route, command.unit))
            marked = f"{command.purpose} in {command.unit}"
        verdict = "timed out" if outcome == "timeout" else "rejected"
        routes = SETPOINT_ROUTES if command.intent == "setpoint" else DEFAULT_ROUTES
        choice = self._first_route(link, routes)
        if choice is None:
            return Reaction(message=f"{what}: {verdict}; marked as not taking {marked}; no other form left: "
                                    + ("the session keeps its current limit" if command.intent == "setpoint"
                                       else "if feedertwin goes away this charger charges at its own maximum"))
        (purpose, at_zero), unit = choice
        reason = f"fallback after {verdict} {command.purpose} in {command.unit}"
        if command.intent == "setpoint":
            connector = 0 if at_zero else command.session_connector_id
            ref = SessionRef(command.session_id or "", command.charger_id, command.session_connector_id,
                             command.transaction_id or "")
            commands = [self._command(link, "setpoint", purpose, connector, command.limit_a, unit, reason,
                                      link.last_sent_s, session=ref)]
        else:
            commands = self._default_commands(link, command.limit_a, reason)
        sent = ", ".join(f"{c.purpose} in {c.unit} on connector {c.connector_id}" for c in commands)
        return Reaction(tuple(commands), f"{what}: {verdict}; marked as not taking {marked}; falling back to {sent}")

    # --- building commands ---------------------------------------------------------------------------
    def _first_route(self, link: _Link, routes: tuple[Route, ...]) -> tuple[Route, str] | None:
        for route in routes:
            unit = link.unit_for(route)
            if unit is not None:
                return route, unit
        return None

    def _default_commands(self, link: _Link, limit_a: float, reason: str) -> list[ProfileCommand]:
        choice = self._first_route(link, DEFAULT_ROUTES)
        if choice is None or not link.controllable:
            return []
        (purpose, at_zero), unit = choice
        connectors = [0] if at_zero else list(range(1, link.n_connectors + 1))
        return [self._command(link, "default", purpose, c, limit_a, unit, reason, link.last_sent_s)
                for c in connectors if (purpose, c) not in link.pending]

    def _command(self, link: _Link, intent: str, purpose: str, connector: int, limit_a: float, unit: str,
                 reason: str, now_s: float, session: SessionRef | None = None) -> ProfileCommand:
        tx = session.transaction_id if session is not None and purpose == TX_PROFILE else None
        payload = set_charging_profile(link.ocpp_version, link.charger, purpose=purpose, connector_id=connector,
                                       limit_a=limit_a, unit=unit, stack_level=link.stack_level, transaction_id=tx)
        link.pending.add((purpose, connector))
        link.last_sent_s = max(link.last_sent_s, now_s)
        return ProfileCommand(
            charger_id=link.charger.charger_id, ocpp_version=link.ocpp_version, intent=intent, purpose=purpose,
            connector_id=connector, limit_a=limit_a, unit=unit, reason=reason, payload=payload,
            session_connector_id=session.connector_id if session is not None else 0,
            transaction_id=session.transaction_id if session is not None else None,
            session_id=session.session_id if session is not None else None,
        )
