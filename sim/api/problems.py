"""RFC 9457 problem documents: every error of the API, as ``application/problem+json``.

``{"type", "title", "status", "detail"}`` (and ``errors`` for a request that fails validation).
Endpoints raise ``ApiProblem``; ``install_problem_handlers`` turns it, Starlette's HTTP errors
(unknown route, wrong method), validation errors (422) and any unexpected exception (500, logged
with its traceback) into problem documents, so a client always gets the same shape.
"""

from __future__ import annotations

import http
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

LOG = logging.getLogger("sim.api")
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://feedertwin.dev/problems/"
"""Problem ``type`` URIs name the kind of error (``.../unknown-charger``); they identify, they need
not resolve."""


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class ApiProblem(Exception):
    """Raised by an endpoint: answered as a problem document with ``status``."""

    def __init__(self, status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.headers = status, kind, detail, headers

    def problem(self) -> Problem:
        return Problem(type=PROBLEM_TYPE_BASE + self.kind, title=_title(self.status), status=self.status,
                       detail=self.detail)


def _title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(problem, exclude_none=True), status_code=problem.status,
                        media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for these error statuses (the OpenAPI document then lists
    them; ``problem_openapi`` moves their schema to the problem media type)."""
    return {status: {"model": Problem, "description": _title(status)} for status in statuses}


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Document error responses as ``application/problem+json`` (FastAPI puts a route's extra
    response models under ``application/json``)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema


async def _api_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiProblem)
    return problem_response(error.problem(), error.headers)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else _title(error.status_code)
    if error.status_code == 404:
        detail = f"no such path: {request.url.path}; the API is under /api/v1 (see /docs)"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    kind = {404: "unknown-path", 405: "method-not-allowed"}.get(error.status_code, "http-error")
    return problem_response(Problem(type=PROBLEM_TYPE_BASE + kind, title=_title(error.status_code),
                                    status=error.status_code, detail=detail), getattr(error, "headers", None))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "input": _plain(e.get("input"))} for e in error.errors()]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']} (got {e['input']!r})" for e in errors)
    return problem_response(Problem(type=PROBLEM_TYPE_BASE + "invalid-request", title=_title(422), status=422,
                                    detail=detail or "the request is not valid", errors=errors))


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    LOG.error("API %s %s failed", request.method, request.url.path, exc_info=error)
    return problem_response(Problem(type=PROBLEM_TYPE_BASE + "internal-error", title=_title(500), status=500,
                                    detail=f"the server failed on {request.method} {request.url.path}: "
                                           f"{type(error).__name__}; see the live process's log"))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
