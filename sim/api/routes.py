"""The read endpoints of ``/api/v1`` (see ``docs/api.md``). Each names its section of the site
(``[api] public``) in its ``readable(...)`` dependency; errors are problem documents.

The twin's state is read on the event loop (it is the loop's); the store's history is read in a
worker thread (``asyncio.to_thread``), so a request that reads many rows does not hold up the
chargers' messages (it shares the interpreter with them, it does not stop them).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from sim.api.auth import readable
from sim.api.models import (
    ChargerOut,
    ChargersOut,
    CommandsOut,
    DecisionsOut,
    FeederOut,
    LogOut,
    SessionDetailOut,
    SessionsOut,
    SetpointsOut,
    SiteOut,
    SitePowerOut,
)
from sim.api.problems import ApiProblem, problem_responses
from sim.api.stream import StreamHub
from sim.api.views import SiteReader

router = APIRouter(prefix="/api/v1")
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_POWER_HOURS = 168.0  # a week of power history at most per request (a tick a minute: 10,080 points)
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many, newest first")]
ChargerFilter = Annotated[str | None, Query(description="only this charger")]
_READ_ERRORS = problem_responses(401, 422)
_ONE_ERRORS = problem_responses(401, 404, 422)


def reader(request: Request) -> SiteReader:
    site_reader: SiteReader = request.app.state.reader
    return site_reader


Reader = Annotated[SiteReader, Depends(reader)]


def _known_charger(site: SiteReader, charger_id: str | None) -> str | None:
    if charger_id is not None and charger_id not in site.charger_ids():
        known = ", ".join(site.charger_ids()) or "none"
        raise ApiProblem(404, "unknown-charger", f"no charger {charger_id!r} on this site; chargers: {known}")
    return charger_id


@router.get("/site", response_model=SiteOut, dependencies=[Depends(readable("site"))], responses=_READ_ERRORS,
            summary="The site now: power, limits, mode, control period")
async def get_site(site: Reader) -> SiteOut:
    return site.site()


@router.get("/site/power", response_model=SitePowerOut, dependencies=[Depends(readable("site"))],
            responses=_READ_ERRORS, summary="The site's power at each control tick of the last hours: charging, "
                                            "import, import limit (kW)")
async def get_site_power(site: Reader, hours: Annotated[float, Query(
        gt=0, le=MAX_POWER_HOURS, description="this many hours back from now (0 < hours <= 168)")] = 6.0,
                         ) -> SitePowerOut:
    return await asyncio.to_thread(site.site_power, hours)


@router.get("/chargers", response_model=ChargersOut, dependencies=[Depends(readable("chargers"))],
            responses=_READ_ERRORS, summary="Every charger: status per connector, capabilities, online, power now")
async def get_chargers(request: Request, site: Reader) -> ChargersOut:
    ids = site.charger_ids()
    history = await asyncio.to_thread(site.charger_history, ids, None)
    return ChargersOut(t_s=request.app.state.live.now_s(), chargers=site.chargers(ids, history))


@router.get("/chargers/{charger_id}", response_model=ChargerOut, dependencies=[Depends(readable("chargers"))],
            responses=_ONE_ERRORS, summary="One charger")
async def get_charger(site: Reader, charger_id: Annotated[str, Path(description="the OCPP identity")]) -> ChargerOut:
    _known_charger(site, charger_id)
    history = await asyncio.to_thread(site.charger_history, [charger_id], charger_id)
    return site.chargers([charger_id], history)[0]


@router.get("/sessions", response_model=SessionsOut, dependencies=[Depends(readable("sessions"))],
            responses=_ONE_ERRORS, summary="Sessions, open and ended, newest first, with the energy so far")
async def get_sessions(request: Request, site: Reader, charger_id: ChargerFilter = None,
                       state: Annotated[Literal["open", "ended", "all"], Query()] = "all",
                       limit: Limit = 20) -> SessionsOut:
    chosen = await asyncio.to_thread(site.sessions, _known_charger(site, charger_id), state, limit)
    return SessionsOut(t_s=request.app.state.live.now_s(), sessions=[site.session_out(s) for s in chosen])


@router.get("/sessions/{session_id}", response_model=SessionDetailOut, dependencies=[Depends(readable("sessions"))],
            responses=_ONE_ERRORS, summary="One session with its meter samples")
async def get_session(site: Reader,
                      session_id: Annotated[str, Path(description="<charger>:<transaction>")]) -> SessionDetailOut:
    found = await asyncio.to_thread(site.session, session_id, site.charger_ids())
    if found is not None:
        return await asyncio.to_thread(site.session_detail, *found)
    raise ApiProblem(404, "unknown-session", f"no session {session_id!r} on this site; a session id is "
                     "<charger>:<transaction>, as GET /api/v1/sessions lists them")


@router.get("/feeder", response_model=FeederOut, dependencies=[Depends(readable("feeder"))], responses=_READ_ERRORS,
            summary="The feeder now: the latest live load flow (null without [grid])")
async def get_feeder(request: Request, site: Reader) -> FeederOut:
    live = request.app.state.live
    return FeederOut(has_grid=live.site.grid is not None, state=site.grid(live.last_grid))


@router.get("/setpoints", response_model=SetpointsOut, dependencies=[Depends(readable("setpoints"))],
            responses=_READ_ERRORS, summary="The strategy's latest setpoints against the measured currents")
async def get_setpoints(request: Request, site: Reader) -> SetpointsOut:
    live = request.app.state.live
    return SetpointsOut(t_s=live.now_s(), latest=site.latest_decision(live.last_decision, live.last_grid),
                        measured_now_a=site.measured_now_a())


@router.get("/decisions", response_model=DecisionsOut, dependencies=[Depends(readable("decisions"))],
            responses=_READ_ERRORS, summary="Recent control decisions: setpoints beside the currents measured then")
async def get_decisions(site: Reader, limit: Limit = 20) -> DecisionsOut:
    return DecisionsOut(decisions=await asyncio.to_thread(site.recent_decisions, limit))


@router.get("/commands", response_model=CommandsOut, dependencies=[Depends(readable("commands"))],
            responses=_ONE_ERRORS, summary="Recent calls to chargers and their outcomes")
async def get_commands(site: Reader, charger_id: ChargerFilter = None, limit: Limit = 100) -> CommandsOut:
    charger_id = _known_charger(site, charger_id)
    return CommandsOut(commands=await asyncio.to_thread(site.recent_commands, limit, charger_id))


@router.get("/log", response_model=LogOut, dependencies=[Depends(readable("log"))], responses=_READ_ERRORS,
            summary="Recent log lines: fallbacks, refused chargers, skipped values, failures")
async def get_log(site: Reader, level: Annotated[Literal["debug", "info", "warning", "error"], Query(
                      description="this level and above")] = "info", limit: Limit = 100) -> LogOut:
    levels = list(LOG_LEVELS[LOG_LEVELS.index(level):])
    return LogOut(lines=await asyncio.to_thread(site.recent_log, limit, levels))


@router.get("/stream", response_class=StreamingResponse, dependencies=[Depends(readable("stream"))],
            responses={200: {"description": "server-sent events: one per update of the site (see docs/api.md)",
                             "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                       **_READ_ERRORS},
            summary="Live updates as server-sent events (event: event | decision | command | action | log)")
async def get_stream(request: Request) -> StreamingResponse:
    hub: StreamHub = request.app.state.streams
    return StreamingResponse(hub.events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
