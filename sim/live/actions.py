"""Operator actions on a live site: what the API's "act" endpoints call (``LiveApp.operator``).

``Operator(app)`` validates each action, carries it out and reports it three ways: an
``ActionResult`` for the caller, a row of the store's ``audit`` table (who, what, on which target,
with which parameters, and how it ended) and an ``action`` update on the live feed.

- **Local actions** change the twin and end as ``"done"``: ``set_mode`` (shadow <-> active, no
  restart), ``set_site_limit`` (a ``[[site.limits]]`` node's per-phase current) and
  ``set_charger_limit`` (one charger's maximum current). Limits take effect at the next control
  tick, which they ask for at once: the tracker's view carries them (``LiveTracker.set_node_limit_a``
  / ``set_charger_limit_a``), so the strategy plans within them and the controller's profiles
  follow. The site file's values stay the defaults and the upper bounds (they are the fuses and
  contracts): an operator may lower a limit and raise it back up to the file's value, never above;
  ``None`` restores the file's value. Limit changes are re-applied at a restart from the audit table
  (a restart must not silently raise a limit an operator lowered); the mode is not: it is the
  command line's (``--mode``) at every start.
- **Charger calls** send one OCPP call in the charger's version and end with the call's outcome
  (``sim.live.rpc.OUTCOMES``), or ``"not_connected"`` when the charger has no link now:
  ``reserve`` (ReserveNow), ``cancel_reservation`` (CancelReservation), ``remote_start`` (1.6
  RemoteStartTransaction / 2.0.1 RequestStartTransaction), ``remote_stop`` (RemoteStopTransaction /
  RequestStopTransaction) and ``reset`` (1.6 Soft / Hard, 2.0.1 OnIdle / Immediate; a 2.0.1
  ``Scheduled`` answer is accepted: the charger resets when its transactions end). A charger that
  refuses answers ``"rejected"`` with its status in ``detail``: an outcome, never an exception.
  Each call is also a row of the ``commands`` table, as the controller's calls are.

A reservation id (and a 2.0.1 ``remoteStartId``) is the id of the action's audit row: unique on
the site across restarts, and the row says who made it.

Errors the caller makes raise before anything is sent or written: ``UnknownTargetError`` (no such
charger, limit node, connector or open transaction; it lists the valid ones) and ``ActionError``
(a value out of range: it names the field, the value and what is valid).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.errors import FeedertwinError
from sim.live.controller import MODES
from sim.live.meter import iso_utc
from sim.live.rpc import CallOutcome

if TYPE_CHECKING:
    from sim.live.app import LiveApp

ACTION_OUTCOMES = ("accepted", "rejected", "not_supported", "not_implemented", "timeout", "error", "not_connected",
                   "done")
"""``sim.live.rpc.OUTCOMES`` of a charger call, ``not_connected`` (no call made), ``done`` (a local action)."""
RESET_KINDS = {"soft": {"1.6": "Soft", "2.0.1": "OnIdle"}, "hard": {"1.6": "Hard", "2.0.1": "Immediate"}}
ID_TAG_MAX_CHARS = 20  # 1.6 IdToken is CiString20 (2.0.1 allows 36: the smaller one fits both)
LIMIT_ACTIONS = ("set_site_limit", "set_charger_limit")


class UnknownTargetError(FeedertwinError):
    """An action names a charger, limit node, connector or transaction that does not exist (API: 404)."""

    def __init__(self, kind: str, target_id: Any, valid: list[str], where: str = "") -> None:
        self.kind, self.target_id, self.valid = kind, target_id, valid
        shown = ", ".join(valid) if valid else "none"
        super().__init__(f"unknown {kind} {target_id!r}{where}; valid: {shown}")


class ActionError(FeedertwinError):
    """An action's value is out of range (API: 422): names the field, the value and what is valid."""

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field, self.value, self.expected = field, value, expected
        super().__init__(f"{field}: got {value!r}; expected {expected}")


@dataclass(frozen=True)
class ActionResult:
    """How an action ended: ``outcome`` is one of ``ACTION_OUTCOMES``; ``detail`` a readable why (the
    charger's status when it refused); ``response`` the charger's reply (snake_case keys);
    ``audit_id`` its audit row; ``reservation_id`` the id of a reservation made (``reserve``)."""

    outcome: str
    detail: str | None = None
    response: dict[str, Any] | None = None
    audit_id: int | None = None
    reservation_id: int | None = None


class Operator:
    """The operator's actions on one ``LiveApp`` (see the module docstring)."""

    def __init__(self, app: LiveApp) -> None:
        self.app = app
        self._reapply_limits()

    # -- local actions --------------------------------------------------------------------------

    async def set_mode(self, mode: str, who: str) -> ActionResult:
        """Shadow stops sending at once (calls waiting for a slot are dropped); active sends from the
        next tick (asked for now) and installs the safe default on connected chargers lacking it."""
        if mode not in MODES:
            raise ActionError("mode", mode, f"one of {', '.join(MODES)}")
        app = self.app
        previous, app.mode = app.mode, mode
        if mode == previous:
            return self._done("set_mode", "site", {"mode": mode}, who, f"already in {mode} mode")
        if mode == "active":
            app._send_all(app.controller.on_activate(set(app.links)))
        app._replan.set()
        app.log("info", f"mode switched from {previous} to {mode} by {who}")
        return self._done("set_mode", "site", {"mode": mode, "previous": previous}, who, None)

    async def set_site_limit(self, limit_id: str, max_current_a: float | None, who: str) -> ActionResult:
        """A limits-tree node's per-phase current (A): 0 up to the site file's value; ``None``: the file's."""
        value_a = self._check_site_limit(limit_id, max_current_a)
        self.app.tracker.set_node_limit_a(limit_id, value_a)
        self.app._replan.set()
        return self._done("set_site_limit", f"limit/{limit_id}", {"max_current_a": value_a}, who, None)

    async def set_charger_limit(self, charger_id: str, max_current_a: float | None, who: str) -> ActionResult:
        """A charger's maximum current per phase (A): 0 (paused) or its minimum up to its rating;
        ``None``: its rating."""
        value_a = self._check_charger_limit(charger_id, max_current_a)
        self.app.tracker.set_charger_limit_a(charger_id, value_a)
        self.app._replan.set()
        return self._done("set_charger_limit", f"charger/{charger_id}", {"max_current_a": value_a}, who, None)

    # -- charger calls --------------------------------------------------------------------------

    async def reserve(self, charger_id: str, connector_id: int, expiry_s: float, id_tag: str,
                      who: str) -> ActionResult:
        """ReserveNow of ``connector_id`` for ``id_tag`` until ``expiry_s`` (epoch seconds, the live clock)."""
        self._check_connector(charger_id, connector_id)
        _check_id_tag(id_tag)
        now_s = self.app.now_s()
        if not (isinstance(expiry_s, (int, float)) and not isinstance(expiry_s, bool) and math.isfinite(expiry_s)
                and expiry_s > now_s):
            raise ActionError("expiry_s", expiry_s, f"epoch seconds after now ({now_s:.0f}, {iso_utc(now_s)})")
        row = self._begin("reserve", f"charger/{charger_id}", {"connector_id": connector_id,
                                                               "expiry_s": float(expiry_s), "id_tag": id_tag}, who)
        reservation_id = row["id"]

        def payload(version: str) -> tuple[str, dict[str, Any]]:
            if version == "1.6":
                return "ReserveNow", {"connectorId": connector_id, "expiryDate": iso_utc(expiry_s), "idTag": id_tag,
                                      "reservationId": reservation_id}
            return "ReserveNow", {"id": reservation_id, "expiryDateTime": iso_utc(expiry_s), "evseId": connector_id,
                                  "idToken": {"idToken": id_tag, "type": "Central"}}
        return await self._call(row, charger_id, payload, reservation_id=reservation_id)

    async def cancel_reservation(self, charger_id: str, reservation_id: int, who: str) -> ActionResult:
        """CancelReservation of a reservation (its id, as ``reserve`` returned it)."""
        self._check_charger(charger_id)
        if not (isinstance(reservation_id, int) and not isinstance(reservation_id, bool) and reservation_id >= 0):
            raise ActionError("reservation_id", reservation_id, "an integer >= 0 (the id reserve returned)")
        row = self._begin("cancel_reservation", f"charger/{charger_id}", {"reservation_id": reservation_id}, who)
        return await self._call(row, charger_id, lambda v: ("CancelReservation", {"reservationId": reservation_id}))

    async def remote_start(self, charger_id: str, connector_id: int, id_tag: str, who: str) -> ActionResult:
        """1.6 RemoteStartTransaction / 2.0.1 RequestStartTransaction on ``connector_id`` for ``id_tag``."""
        self._check_connector(charger_id, connector_id)
        _check_id_tag(id_tag)
        row = self._begin("remote_start", f"charger/{charger_id}", {"connector_id": connector_id, "id_tag": id_tag},
                          who)

        def payload(version: str) -> tuple[str, dict[str, Any]]:
            if version == "1.6":
                return "RemoteStartTransaction", {"connectorId": connector_id, "idTag": id_tag}
            return "RequestStartTransaction", {"idToken": {"idToken": id_tag, "type": "Central"},
                                               "remoteStartId": row["id"], "evseId": connector_id}
        return await self._call(row, charger_id, payload)

    async def remote_stop(self, charger_id: str, transaction_id: str, who: str) -> ActionResult:
        """1.6 RemoteStopTransaction / 2.0.1 RequestStopTransaction of an open transaction."""
        self._check_charger(charger_id)
        transaction_id = str(transaction_id)
        if self.app.connector_of(charger_id, transaction_id) is None:
            open_ = sorted(r.transaction_id for r in self.app.tracker.session_refs().values() if r.charger_id == charger_id)
            raise UnknownTargetError("transaction", transaction_id, open_, f" open on charger '{charger_id}'")
        row = self._begin("remote_stop", f"charger/{charger_id}", {"transaction_id": transaction_id}, who)

        def payload(version: str) -> tuple[str, dict[str, Any]]:
            if version == "1.6":
                return "RemoteStopTransaction", {"transactionId": int(transaction_id)}
            return "RequestStopTransaction", {"transactionId": transaction_id}
        return await self._call(row, charger_id, payload)

    async def reset(self, charger_id: str, kind: str, who: str) -> ActionResult:
        """Reset: ``"soft"`` (1.6 Soft, 2.0.1 OnIdle) or ``"hard"`` (1.6 Hard, 2.0.1 Immediate)."""
        self._check_charger(charger_id)
        if kind not in RESET_KINDS:
            raise ActionError("kind", kind, f"one of {', '.join(RESET_KINDS)}")
        row = self._begin("reset", f"charger/{charger_id}", {"kind": kind}, who)
        return await self._call(row, charger_id, lambda v: ("Reset", {"type": RESET_KINDS[kind][v]}))

    # -- checks ---------------------------------------------------------------------------------

    def _check_charger(self, charger_id: str) -> None:
        if charger_id not in self.app.tracker.chargers.ids:
            raise UnknownTargetError("charger", charger_id, list(self.app.tracker.chargers.ids))

    def _check_connector(self, charger_id: str, connector_id: int) -> None:
        """Connectors 1..n: n from the charger's capabilities (NumberOfConnectors), else 1."""
        self._check_charger(charger_id)
        caps = self.app.tracker.capabilities(charger_id)
        n = max(1, caps.number_of_connectors or 1) if caps is not None else 1
        if isinstance(connector_id, bool) or connector_id not in range(1, n + 1):
            raise UnknownTargetError("connector", connector_id, [str(c) for c in range(1, n + 1)],
                                     f" on charger '{charger_id}'")

    def _check_site_limit(self, limit_id: str, max_current_a: float | None) -> float | None:
        nodes = {node.node_id: node for node in self.app.site.limits}
        if limit_id not in nodes:
            raise UnknownTargetError("limit", limit_id, list(nodes))
        file_a = nodes[limit_id].max_current_a
        if max_current_a is None:
            return file_a
        top = math.inf if file_a is None else file_a
        if not _number_in(max_current_a, 0.0, top):
            raise ActionError("max_current_a", max_current_a,
                              f"a number of A from 0 to {top:g} (the site file's value for '{limit_id}'), or null "
                              "for the site file's value")
        return float(max_current_a)

    def _check_charger_limit(self, charger_id: str, max_current_a: float | None) -> float:
        self._check_charger(charger_id)
        charger = self.app.site.charger_for(charger_id)
        assert charger is not None  # every charger of the tracker's table is one the site accepts
        if max_current_a is None:
            return charger.max_current_a
        if not (_number_in(max_current_a, 0.0, 0.0)
                or _number_in(max_current_a, charger.min_current_a, charger.max_current_a)):
            raise ActionError("max_current_a", max_current_a,
                              f"0 (pause) or a number of A from the charger's minimum {charger.min_current_a:g} to "
                              f"its rating {charger.max_current_a:g}, or null for its rating")
        return float(max_current_a)

    # -- doing and recording --------------------------------------------------------------------

    def _begin(self, action: str, target: str, parameters: dict[str, Any], who: str) -> dict[str, Any]:
        """The audit row of an action, written before a charger call (its outcome follows, ``_finish``)."""
        t_s = self.app.now_s()
        audit_id = self.app.store.record_audit(t_s, who, action, target, parameters)
        return {"id": audit_id, "t_s": t_s, "who": who, "action": action, "target": target, "parameters": parameters}

    def _done(self, action: str, target: str, parameters: dict[str, Any], who: str,
              detail: str | None) -> ActionResult:
        row = self._begin(action, target, parameters, who)
        return self._finish(row, ActionResult("done", detail, audit_id=row["id"]))

    def _finish(self, row: dict[str, Any], result: ActionResult) -> ActionResult:
        """The outcome into the audit row (committed soon) and onto the feed."""
        app = self.app
        app.store.record_audit_outcome(row["id"], result.outcome, result.detail)
        app.store.commit_soon()
        app.feed.publish("action", app.now_s(), {**row, "outcome": result.outcome, "detail": result.detail,
                                                 "reservation_id": result.reservation_id})
        return result

    async def _call(self, row: dict[str, Any], charger_id: str, payload: Callable[[str], tuple[str, dict[str, Any]]],
                    reservation_id: int | None = None) -> ActionResult:
        """Send the call ``payload(version)`` gives (action, camelCase payload) and record how it ended."""
        app = self.app
        link = app.links.get(charger_id)
        if link is None:
            result = ActionResult("not_connected", f"charger '{charger_id}' is not connected", audit_id=row["id"])
            return self._finish(row, result)
        action, body = payload(link.ocpp_version)
        command_id = app.store.record_command(app.now_s(), charger_id, action, body)
        outcome = await link.request(action, body)  # the frame leaves after a commit that holds both rows
        if action == "Reset" and outcome.status == "Scheduled":  # 2.0.1: it resets once its transactions end
            outcome = CallOutcome("accepted", outcome.status, outcome.response,
                                  "scheduled: the charger resets when its transactions end")
        detail = outcome.detail or outcome.status
        app.store.record_outcome(command_id, app.now_s(), outcome.outcome, detail)
        accepted = outcome.outcome == "accepted"
        result = ActionResult(outcome.outcome, detail, outcome.response, row["id"],
                              reservation_id if accepted else None)
        app.log("info" if accepted else "warning", f"{action} by {row['who']}: {outcome.outcome}"
                + (f" ({detail})" if detail else ""), charger_id)
        return self._finish(row, result)

    def _reapply_limits(self) -> None:
        """The operator's limit changes of earlier runs, in order, checked against today's site file
        (one that no longer fits is logged and skipped)."""
        for row in self.app.store.audit():
            if row["action"] not in LIMIT_ACTIONS or row["outcome"] != "done":
                continue
            kind, _, target = row["target"].partition("/")
            value = row["parameters"].get("max_current_a")
            try:
                if row["action"] == "set_site_limit":
                    self.app.tracker.set_node_limit_a(target, self._check_site_limit(target, value))
                else:
                    self.app.tracker.set_charger_limit_a(target, self._check_charger_limit(target, value))
            except FeedertwinError as error:
                self.app.log("warning", f"operator limit of audit row {row['id']} not re-applied: {error}")


def _number_in(value: Any, lo: float, hi: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and lo <= value <= hi)


def _check_id_tag(id_tag: str) -> None:
    if not (isinstance(id_tag, str) and 0 < len(id_tag) <= ID_TAG_MAX_CHARS):
        raise ActionError("id_tag", id_tag, f"a text of 1 to {ID_TAG_MAX_CHARS} characters")
