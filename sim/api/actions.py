"""The "act" endpoints of ``/api/v1`` (see ``docs/api.md``): the operator's actions over HTTP.

Each endpoint needs a token of scope ``control`` (``require_scope``) and calls one method of
``LiveApp.operator`` (``sim.live.actions``) with ``who`` = the token's name, so the audit row and the
``action`` update on the stream say who did it. The operator checks the values and targets; this
module only turns its answers into HTTP:

- ``done`` (a local action) and ``accepted`` (the charger took the call) are the ``ActionOut`` body
  (201 for a reservation made, 202 for a remote start: the session follows on the stream);
- a charger that refused, has no connection, does not support the call (409), answered with an
  error (502) or did not answer in time (504) is a problem document saying so (never a 500);
- ``UnknownTargetError`` is a 404 naming the target, ``ActionError`` a 422 naming the field.

``GET /api/v1/audit`` lists the audit log with any token (read or control): the same rows already
reach every reader of the stream as ``action`` updates, so hiding them behind control would hide
nothing. It is never public.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sim.api.auth import require_scope
from sim.api.models import ActionOut, AuditEntryOut, AuditOut
from sim.api.problems import ApiProblem, problem_responses
from sim.api.views import SiteReader
from sim.live.actions import ID_TAG_MAX_CHARS, ActionError, ActionResult, Operator, UnknownTargetError

router = APIRouter(prefix="/api/v1", tags=["act"])
Who = Annotated[str, Depends(require_scope("control"))]
ChargerId = Annotated[str, Path(description="the OCPP identity", examples=["CP-001"])]
_LOCAL_ERRORS = problem_responses(400, 401, 403, 404, 422)  # 400: a body that is not JSON
_CALL_ERRORS = problem_responses(400, 401, 403, 404, 409, 422, 502, 504)
_CALL_ERRORS_NO_BODY = problem_responses(401, 403, 404, 409, 422, 502, 504)

_REFUSALS: dict[str, tuple[int, str, str]] = {
    # outcome: (HTTP status, problem kind, what to say; {action} and {detail} are filled in)
    "rejected": (409, "charger-rejected", "the charger rejected {action}: {detail}"),
    "not_supported": (409, "charger-not-supported", "the charger does not support {action}: {detail}"),
    "not_implemented": (409, "charger-not-supported", "the charger does not implement {action}: {detail}"),
    "not_connected": (409, "charger-not-connected", "{detail}: {action} was not sent; retry once it is online"),
    "error": (502, "charger-error", "the charger answered {action} with an error: {detail}"),
    "timeout": (504, "charger-timeout", "the charger did not answer {action} in time: {detail}"),
}


# -- request bodies ------------------------------------------------------------------------------

class ModeIn(BaseModel):  # the values of sim.live.controller.MODES (a test checks they agree)
    model_config = ConfigDict(json_schema_extra={"examples": [{"mode": "active"}]})
    mode: Literal["shadow", "active"] = Field(description="shadow: record only; active: profiles are sent")


class LimitIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"max_current_a": 20.0}, {"max_current_a": None}]})
    max_current_a: float | None = Field(allow_inf_nan=False, description=(
        "the new limit per phase (A), at most the site file's value; null restores the site file's value"))


class ReservationIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"connector_id": 1, "expiry": "2027-01-15T09:30:00+01:00", "id_tag": "DRIVER-42"}]})
    connector_id: int = Field(ge=1, description="the connector (1.6 connectorId / 2.0.1 evseId) to hold")
    expiry: AwareDatetime = Field(description="until when (ISO 8601 with a zone, e.g. 2027-01-15T09:30:00Z); "
                                              "after now")
    id_tag: str = Field(min_length=1, max_length=ID_TAG_MAX_CHARS, description="the only id tag it takes meanwhile")


class RemoteStartIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"connector_id": 1, "id_tag": "DRIVER-42"}]})
    connector_id: int = Field(ge=1, description="the connector (1.6 connectorId / 2.0.1 evseId)")
    id_tag: str = Field(min_length=1, max_length=ID_TAG_MAX_CHARS, description="the session's id tag")


class ResetIn(BaseModel):  # the kinds of sim.live.actions.RESET_KINDS (a test checks they agree)
    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "soft"}]})
    kind: Literal["soft", "hard"] = Field(description="soft: 1.6 Soft / 2.0.1 OnIdle (after the transactions); "
                                                      "hard: 1.6 Hard / 2.0.1 Immediate")


# -- carrying out --------------------------------------------------------------------------------

def operator(request: Request) -> Operator:
    live_operator: Operator = request.app.state.live.operator
    return live_operator


Op = Annotated[Operator, Depends(operator)]


async def act(action: str, target: str, who: str, doing: Awaitable[ActionResult]) -> ActionOut:
    """Await the operator's action and answer it: ``ActionOut`` when done or accepted, else the
    problem document of ``_REFUSALS``; unknown targets 404, bad values 422."""
    try:
        result = await doing
    except UnknownTargetError as error:
        raise ApiProblem(404, f"unknown-{error.kind}", str(error)) from error
    except ActionError as error:
        raise ApiProblem(422, "invalid-value", str(error)) from error
    if result.outcome in _REFUSALS:
        status, kind, text = _REFUSALS[result.outcome]
        detail = text.format(action=action, detail=result.detail or result.outcome)
        raise ApiProblem(status, kind, f"{detail} ({target}, audit row {result.audit_id})")
    return ActionOut(action=action, target=target, who=who, outcome=result.outcome, detail=result.detail,
                     audit_id=result.audit_id, reservation_id=result.reservation_id, response=result.response)


# -- endpoints -----------------------------------------------------------------------------------

@router.put("/site/mode", response_model=ActionOut, responses=_LOCAL_ERRORS,
            summary="Switch the site between shadow and active, live")
async def put_mode(body: ModeIn, who: Who, op: Op) -> ActionOut:
    return await act("set_mode", "site", who, op.set_mode(body.mode, who))


@router.put("/site/limits/{limit_id}", response_model=ActionOut, responses=_LOCAL_ERRORS,
            summary="Lower a [[site.limits]] node's current (or restore it with null)")
async def put_site_limit(limit_id: Annotated[str, Path(description="a [[site.limits]] id", examples=["car-park"])],
                         body: LimitIn, who: Who, op: Op) -> ActionOut:
    return await act("set_site_limit", f"limit/{limit_id}", who,
                     op.set_site_limit(limit_id, body.max_current_a, who))


@router.put("/chargers/{charger_id}/limit", response_model=ActionOut, responses=_LOCAL_ERRORS,
            summary="Set a charger's maximum current (0 pauses; null restores its rating)")
async def put_charger_limit(charger_id: ChargerId, body: LimitIn, who: Who, op: Op) -> ActionOut:
    return await act("set_charger_limit", f"charger/{charger_id}", who,
                     op.set_charger_limit(charger_id, body.max_current_a, who))


@router.post("/chargers/{charger_id}/reservations", response_model=ActionOut, status_code=201,
             responses=_CALL_ERRORS, summary="Reserve a connector (ReserveNow); gives the reservation id")
async def post_reservation(charger_id: ChargerId, body: ReservationIn, who: Who, op: Op) -> ActionOut:
    return await act("reserve", f"charger/{charger_id}", who,
                     op.reserve(charger_id, body.connector_id, body.expiry.timestamp(), body.id_tag, who))


@router.delete("/chargers/{charger_id}/reservations/{reservation_id}", response_model=ActionOut,
               responses=_CALL_ERRORS_NO_BODY, summary="Cancel a reservation (CancelReservation)")
async def delete_reservation(charger_id: ChargerId, reservation_id: Annotated[int, Path(
                                 ge=0, description="as POST .../reservations gave it")],
                             who: Who, op: Op) -> ActionOut:
    return await act("cancel_reservation", f"charger/{charger_id}", who,
                     op.cancel_reservation(charger_id, reservation_id, who))


@router.post("/chargers/{charger_id}/sessions", response_model=ActionOut, status_code=202, responses=_CALL_ERRORS,
             summary="Start a session remotely (1.6 RemoteStartTransaction / 2.0.1 RequestStartTransaction); "
                     "the session follows on the stream")
async def post_session(charger_id: ChargerId, body: RemoteStartIn, who: Who, op: Op) -> ActionOut:
    return await act("remote_start", f"charger/{charger_id}", who,
                     op.remote_start(charger_id, body.connector_id, body.id_tag, who))


@router.post("/sessions/{session_id}/stop", response_model=ActionOut, responses=_CALL_ERRORS_NO_BODY,
             summary="Stop an open session remotely (1.6 RemoteStopTransaction / 2.0.1 RequestStopTransaction)")
async def post_session_stop(request: Request, who: Who, op: Op, session_id: Annotated[str, Path(
                                description="<charger>:<transaction>", examples=["CP-001:17"])]) -> ActionOut:
    reader: SiteReader = request.app.state.reader
    charger_id = _charger_of(session_id, reader.charger_ids())
    transaction_id = session_id[len(charger_id) + 1:]
    return await act("remote_stop", f"charger/{charger_id}", who, op.remote_stop(charger_id, transaction_id, who))


@router.post("/chargers/{charger_id}/reset", response_model=ActionOut, responses=_CALL_ERRORS,
             summary="Reset a charger (1.6 Reset Soft / Hard, 2.0.1 OnIdle / Immediate)")
async def post_reset(charger_id: ChargerId, body: ResetIn, who: Who, op: Op) -> ActionOut:
    return await act("reset", f"charger/{charger_id}", who, op.reset(charger_id, body.kind, who))


@router.get("/audit", response_model=AuditOut, dependencies=[Depends(require_scope("read"))],
            responses=problem_responses(401, 422), tags=["read"],
            summary="The audit log: the operators' actions, who did them and how they ended, newest first")
async def get_audit(request: Request, limit: Annotated[int, Query(
                        ge=1, le=1000, description="at most this many, newest first")] = 100) -> AuditOut:
    reader: SiteReader = request.app.state.reader
    return AuditOut(entries=await asyncio.to_thread(_recent_audit, reader, limit))


# -- helpers -------------------------------------------------------------------------------------

def _charger_of(session_id: str, charger_ids: tuple[str, ...]) -> str:
    """The charger of a ``<charger>:<transaction>`` session id (the longest id that fits); 404 otherwise."""
    fitting = [cid for cid in charger_ids if session_id.startswith(cid + ":") and len(session_id) > len(cid) + 1]
    if not fitting:
        raise ApiProblem(404, "unknown-session", f"no session {session_id!r} on this site: a session id is "
                         f"<charger>:<transaction> with a charger of {', '.join(charger_ids) or 'none'}, as "
                         "GET /api/v1/sessions lists them")
    return max(fitting, key=len)


def _recent_audit(reader: SiteReader, limit: int) -> list[AuditEntryOut]:
    """The latest ``limit`` audit rows, newest first, through the request's read-only connection
    (the columns are those of ``LiveStore.audit``)."""
    with reader.reading() as db:
        rows: list[Any] = db.execute("SELECT id, t_s, who, action, target, parameters, outcome, detail FROM audit "
                                     "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [AuditEntryOut(audit_id=r[0], t_s=r[1], who=r[2], action=r[3], target=r[4], parameters=json.loads(r[5]),
                          outcome=r[6], detail=r[7]) for r in rows]
