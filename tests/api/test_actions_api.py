"""The act endpoints (``sim/api/actions.py``) over real HTTP (uvicorn on 127.0.0.1:0) against a
running live site with a connected 1.6 test charger: each action reaches the charger as the right
OCPP call, the answer and the audit row name the token that did it; refusals, missing connections
and timeouts are problem documents (409, 504), unknown targets 404, bad values 422, and a read token
or no token may not act (403, 401)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call_result as result16

from sim.live.actions import RESET_KINDS
from sim.live.chargepoint import run_fleet
from sim.live.clock import SimClock
from sim.live.controller import MODES
from tests.api.helpers import Api, one_session, running_api
from tests.live.server_helpers import SITE_TOML, T0_S, Charger16, boot16, connected, run, until
from tests.live.test_actions import fleet_of, identity

PROBLEM = "application/problem+json"
LIMITS_TOML = """
[[site.limits]]
id = "car-park"
max_current_a = 30
"""
EXPIRY = "2027-01-15T09:30:00+01:00"  # 08:30 UTC: half an hour after the test clock's start


def write_site(directory: Path) -> Path:
    path = directory / "site.toml"
    path.write_text(SITE_TOML.format(accept_unknown="false") + LIMITS_TOML)
    return path


class Operated16(Charger16):
    """A 1.6 charger that answers the operator's calls with ``status`` (or never, with ``silent``)
    and remembers them."""

    status = "Accepted"
    silent = False

    async def _answer(self, action: str, payload: dict[str, Any], result: Any) -> Any:
        self.received.append((action, payload))
        if self.silent:
            await asyncio.Event().wait()  # no answer: the server's call times out
        return result(status=self.status)

    @on("ReserveNow")  # type: ignore[untyped-decorator]
    async def on_reserve_now(self, **payload: Any) -> Any:
        return await self._answer("ReserveNow", payload, result16.ReserveNow)

    @on("CancelReservation")  # type: ignore[untyped-decorator]
    async def on_cancel_reservation(self, **payload: Any) -> Any:
        return await self._answer("CancelReservation", payload, result16.CancelReservation)

    @on("RemoteStartTransaction")  # type: ignore[untyped-decorator]
    async def on_remote_start(self, **payload: Any) -> Any:
        return await self._answer("RemoteStartTransaction", payload, result16.RemoteStartTransaction)

    @on("RemoteStopTransaction")  # type: ignore[untyped-decorator]
    async def on_remote_stop(self, **payload: Any) -> Any:
        return await self._answer("RemoteStopTransaction", payload, result16.RemoteStopTransaction)

    @on("Reset")  # type: ignore[untyped-decorator]
    async def on_reset(self, **payload: Any) -> Any:
        return await self._answer("Reset", payload, result16.Reset)

    def last(self, action: str) -> dict[str, Any]:
        return [payload for name, payload in self.received if name == action][-1]


class Rejecting16(Operated16):
    status = "Rejected"


class Silent16(Operated16):
    silent = True


async def audit_rows(api: Api, http: Any) -> list[dict[str, Any]]:
    """``GET /api/v1/audit`` once what the operator wrote is committed, oldest first."""
    api.live.store.commit()
    response = await http.get("/api/v1/audit")
    assert response.status_code == 200
    return list(reversed(response.json()["entries"]))


def test_each_action_reaches_the_charger_and_is_audited_with_who(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, connected(api.server, "CP-16", Operated16) as cp:
            tx = await one_session(cp)
            await until(lambda: api.live.tracker.capabilities("CP-16") is not None and not api.live._tasks)
            async with api.client(api.control_token) as http:
                mode = await http.put("/api/v1/site/mode", json={"mode": "active"})
                assert mode.status_code == 200 and mode.json() == {
                    "action": "set_mode", "target": "site", "who": "operator", "outcome": "done", "detail": None,
                    "audit_id": mode.json()["audit_id"], "reservation_id": None, "response": None}
                assert api.live.mode == "active" and (await http.get("/api/v1/site")).json()["mode"] == "active"

                lowered = await http.put("/api/v1/site/limits/car-park", json={"max_current_a": 20})
                assert lowered.status_code == 200 and lowered.json()["target"] == "limit/car-park"
                restored = await http.put("/api/v1/site/limits/car-park", json={"max_current_a": None})
                assert restored.status_code == 200
                paused = await http.put("/api/v1/chargers/CP-16/limit", json={"max_current_a": 0})
                assert paused.status_code == 200 and paused.json()["outcome"] == "done"

                reserved = await http.post("/api/v1/chargers/CP-16/reservations",
                                           json={"connector_id": 1, "expiry": EXPIRY, "id_tag": "DRIVER-42"})
                assert reserved.status_code == 201
                reservation_id = reserved.json()["reservation_id"]
                assert reserved.json()["outcome"] == "accepted" and reserved.json()["response"] == {"status": "Accepted"}
                assert cp.last("ReserveNow") == {"connector_id": 1, "expiry_date": "2027-01-15T08:30:00.000Z",
                                                 "id_tag": "DRIVER-42", "reservation_id": reservation_id}
                cancelled = await http.delete(f"/api/v1/chargers/CP-16/reservations/{reservation_id}")
                assert cancelled.status_code == 200
                assert cp.last("CancelReservation") == {"reservation_id": reservation_id}

                started = await http.post("/api/v1/chargers/CP-16/sessions", json={"connector_id": 1, "id_tag": "D-7"})
                assert started.status_code == 202 and started.json()["action"] == "remote_start"
                assert cp.last("RemoteStartTransaction") == {"connector_id": 1, "id_tag": "D-7"}
                stopped = await http.post(f"/api/v1/sessions/CP-16:{tx}/stop")
                assert stopped.status_code == 200 and stopped.json()["target"] == "charger/CP-16"
                assert cp.last("RemoteStopTransaction") == {"transaction_id": int(tx)}
                reset = await http.post("/api/v1/chargers/CP-16/reset", json={"kind": "hard"})
                assert reset.status_code == 200 and cp.last("Reset") == {"type": "Hard"}

                rows = await audit_rows(api, http)
                assert [(r["action"], r["target"], r["who"], r["outcome"]) for r in rows] == [
                    ("set_mode", "site", "operator", "done"),
                    ("set_site_limit", "limit/car-park", "operator", "done"),
                    ("set_site_limit", "limit/car-park", "operator", "done"),
                    ("set_charger_limit", "charger/CP-16", "operator", "done"),
                    ("reserve", "charger/CP-16", "operator", "accepted"),
                    ("cancel_reservation", "charger/CP-16", "operator", "accepted"),
                    ("remote_start", "charger/CP-16", "operator", "accepted"),
                    ("remote_stop", "charger/CP-16", "operator", "accepted"),
                    ("reset", "charger/CP-16", "operator", "accepted")]
                assert [r["audit_id"] for r in rows] == [
                    r.json()["audit_id"] for r in (mode, lowered, restored, paused, reserved, cancelled, started,
                                                   stopped, reset)]
                assert rows[2]["parameters"] == {"max_current_a": 30.0}  # a restore shows the file's value
                assert rows[4]["parameters"] == {"connector_id": 1, "expiry_s": 1_800_001_800.0, "id_tag": "DRIVER-42"}
                assert len((await http.get("/api/v1/audit", params={"limit": 2})).json()["entries"]) == 2

    run(scenario())


ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("PUT", "/api/v1/site/mode", {"mode": "active"}),
    ("PUT", "/api/v1/site/limits/car-park", {"max_current_a": 10}),
    ("PUT", "/api/v1/chargers/CP-16/limit", {"max_current_a": 10}),
    ("POST", "/api/v1/chargers/CP-16/reservations", {"connector_id": 1, "expiry": EXPIRY, "id_tag": "T"}),
    ("DELETE", "/api/v1/chargers/CP-16/reservations/1", None),
    ("POST", "/api/v1/chargers/CP-16/sessions", {"connector_id": 1, "id_tag": "T"}),
    ("POST", "/api/v1/sessions/CP-16:1/stop", None),
    ("POST", "/api/v1/chargers/CP-16/reset", {"kind": "soft"}),
]


def test_acting_needs_a_control_token(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path), public=("site", "chargers")) as api:
            async with api.client() as anonymous, api.client(api.read_token) as reader:
                for method, path, body in ACTIONS:
                    refused = await anonymous.request(method, path, json=body)
                    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM, path
                    assert "scope control" in refused.json()["detail"]
                    forbidden = await reader.request(method, path, json=body)
                    assert forbidden.status_code == 403, path
                    assert forbidden.json()["detail"] == "token 'reader-app' has scope read; this needs scope control"
                assert (await anonymous.get("/api/v1/audit")).status_code == 401  # never public
                assert (await reader.get("/api/v1/audit")).json() == {"entries": []}  # nothing was done
            assert api.live.mode == "shadow"

    run(scenario())


def test_unknown_targets_are_404_and_bad_values_422_naming_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, api.client(api.control_token) as http:
            async def problem(method: str, path: str, body: Any, status: int) -> str:
                response = await http.request(method, path, json=body)
                assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM), response.text
                return str(response.json()["detail"])

            for method, path, body in ACTIONS[2:]:
                if "CP-16" in path:
                    detail = await problem(method, path.replace("CP-16", "CP-9"), body, 404)
                    assert "'CP-9" in detail and "CP-16, CP-201" in detail, detail
            assert await problem("PUT", "/api/v1/site/limits/fuse", {"max_current_a": 1}, 404) == (
                "unknown limit 'fuse'; valid: car-park")
            assert await problem("POST", "/api/v1/chargers/CP-16/sessions", {"connector_id": 2, "id_tag": "T"}, 404) == (
                "unknown connector 2 on charger 'CP-16'; valid: 1")
            assert await problem("POST", "/api/v1/sessions/CP-16:77/stop", None, 404) == (
                "unknown transaction '77' open on charger 'CP-16'; valid: none")

            assert await problem("PUT", "/api/v1/site/limits/car-park", {"max_current_a": 31}, 422) == (
                "max_current_a: got 31.0; expected a number of A from 0 to 30 (the site file's value for 'car-park'), "
                "or null for the site file's value")
            assert "max_current_a: got 3.0" in await problem("PUT", "/api/v1/chargers/CP-16/limit",
                                                             {"max_current_a": 3}, 422)
            assert "expiry_s: got 1799999940.0; expected epoch seconds after now" in await problem(
                "POST", "/api/v1/chargers/CP-16/reservations",
                {"connector_id": 1, "expiry": "2027-01-15T07:59:00Z", "id_tag": "T"}, 422)
            assert "body.expiry" in await problem("POST", "/api/v1/chargers/CP-16/reservations",
                                                  {"connector_id": 1, "expiry": "2027-01-15T09:00:00", "id_tag": "T"}, 422)
            assert "body.id_tag" in await problem("POST", "/api/v1/chargers/CP-16/sessions",
                                                  {"connector_id": 1, "id_tag": "X" * 21}, 422)
            assert "body.mode" in await problem("PUT", "/api/v1/site/mode", {"mode": "auto"}, 422)
            assert "body.kind" in await problem("POST", "/api/v1/chargers/CP-16/reset", {"kind": "warm"}, 422)
            assert "body.max_current_a" in await problem("PUT", "/api/v1/chargers/CP-16/limit", {}, 422)
            api.live.store.commit()
            assert api.live.store.audit() == []  # nothing was done: nothing is audited

    run(scenario())


def test_refusals_missing_connections_and_timeouts_are_problems(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path), call_timeout_s=0.2) as api, api.client(api.control_token) as http:
            async with connected(api.server, "CP-16", Rejecting16) as cp:
                await cp.call(boot16())
                await until(lambda: not api.live._tasks)
                rejected = await http.post("/api/v1/chargers/CP-16/reservations",
                                           json={"connector_id": 1, "expiry": EXPIRY, "id_tag": "T"})
                assert rejected.status_code == 409 and rejected.headers["content-type"] == PROBLEM
                assert rejected.json()["type"].endswith("/charger-rejected")
                assert rejected.json()["detail"].startswith("the charger rejected reserve: Rejected (charger/CP-16, "
                                                            "audit row ")
                reset = await http.post("/api/v1/chargers/CP-16/reset", json={"kind": "soft"})
                assert reset.status_code == 409 and "rejected reset: Rejected" in reset.json()["detail"]
            offline = await http.post("/api/v1/chargers/CP-201/reset", json={"kind": "soft"})
            assert offline.status_code == 409 and offline.json()["type"].endswith("/charger-not-connected")
            assert offline.json()["detail"].startswith("charger 'CP-201' is not connected: reset was not sent")
            async with connected(api.server, "CP-16", Silent16) as cp:
                await cp.call(boot16())
                await until(lambda: not api.live._tasks)
                timed_out = await http.post("/api/v1/chargers/CP-16/reset", json={"kind": "hard"})
                assert timed_out.status_code == 504 and timed_out.json()["type"].endswith("/charger-timeout")
                assert "the charger did not answer reset in time" in timed_out.json()["detail"]
            rows = await audit_rows(api, http)
            assert [(r["action"], r["outcome"], r["who"]) for r in rows] == [
                ("reserve", "rejected", "operator"), ("reset", "rejected", "operator"),
                ("reset", "not_connected", "operator"), ("reset", "timeout", "operator")]

    run(scenario())


Wanted = Callable[[str | None, dict[str, Any]], bool]


async def updates(lines: AsyncIterator[str], *wanted: Wanted) -> list[dict[str, Any]]:
    """The data of the first stream update each ``wanted(kind, data)`` accepts, in the order of
    ``wanted`` (they may arrive in any order: a charger's status can overtake the action's update)."""
    found: dict[int, dict[str, Any]] = {}
    kind = None
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))["data"]
            for i, accepts in enumerate(wanted):
                if i not in found and accepts(kind, data):
                    found[i] = data
            if len(found) == len(wanted):
                return [found[i] for i in range(len(wanted))]
    raise AssertionError("the stream ended")


def is_event(event_type: str, **fields: Any) -> Wanted:
    return lambda kind, data: kind == "event" and data.get("type") == event_type and all(
        data.get(name) == value for name, value in fields.items())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_reserve_a_simulated_charger_and_follow_the_session_on_the_stream(tmp_path: Path, version: str) -> None:
    """The docs' example (docs/api.md): reserve, see the connector reserved, start the session for the
    reservation's id tag, read the session, stop it; the stream shows each step."""
    cid = identity(version)

    async def scenario() -> None:
        clock = SimClock(speed=1.0, origin_s=T0_S)
        async with running_api(write_site(tmp_path), clock=clock) as api:
            fleet = asyncio.create_task(run_fleet([fleet_of(version, clock)], api.server.url, linger=True))
            try:
                await until(lambda: api.live.tracker.capabilities(cid) is not None and not api.live._tasks)
                async with api.client(api.read_token) as follower, api.client(api.control_token) as http:
                    async with follower.stream("GET", "/api/v1/stream") as stream:
                        lines = stream.aiter_lines()
                        assert await anext(lines) == ": connected"
                        reserved = await http.post(f"/api/v1/chargers/{cid}/reservations",
                                                   json={"connector_id": 1, "expiry": EXPIRY, "id_tag": "DRIVER-42"})
                        assert reserved.status_code == 201
                        action, _ = await updates(lines, lambda kind, data: kind == "action",
                                                  is_event("StatusChanged", charger_id=cid, status="Reserved"))
                        assert (action["action"], action["who"], action["reservation_id"]) == (
                            "reserve", "operator", reserved.json()["reservation_id"])

                        started = await http.post(f"/api/v1/chargers/{cid}/sessions",
                                                  json={"connector_id": 1, "id_tag": "DRIVER-42"})
                        assert started.status_code == 202
                        [session] = await updates(lines, is_event("SessionStarted", charger_id=cid, id_tag="DRIVER-42"))
                        session_id = f"{cid}:{session['transaction_id']}"
                        api.live.store.commit()  # the stream may be ahead of the store's group commit
                        one = await http.get(f"/api/v1/sessions/{session_id}")
                        assert one.status_code == 200 and one.json()["open"]

                        stopped = await http.post(f"/api/v1/sessions/{session_id}/stop")
                        assert stopped.status_code == 200 and stopped.json()["outcome"] == "accepted"
                        [ended] = await updates(lines, is_event("SessionEnded", transaction_id=session["transaction_id"]))
                        assert ended["reason"] == "Remote"
            finally:
                fleet.cancel()
                await asyncio.gather(fleet, return_exceptions=True)

    run(scenario())


def test_the_documented_choices_match_the_operator() -> None:
    """The request bodies' enums are the operator's modes and reset kinds."""
    from sim.api.actions import ModeIn, ResetIn

    assert tuple(ModeIn.model_json_schema()["properties"]["mode"]["enum"]) == tuple(MODES)
    assert set(ResetIn.model_json_schema()["properties"]["kind"]["enum"]) == set(RESET_KINDS)
