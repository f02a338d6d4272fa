"""Who is calling: bearer tokens, the site's public sections, and scope checks as dependencies.

``Authorization: Bearer <token>`` names a token of ``sim.api.tokens``. Without one, only the
sections the site file lists in ``[api] public`` are readable (401 otherwise); a token that is
unknown or revoked is refused (401) even on a public section, so a client learns at once that its
token no longer works. ``read`` endpoints take any token; ``require_scope("control")`` is for
the actions (403 for a read token) and gives the caller's token name, for the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sim.api.problems import ApiProblem
from sim.api.tokens import SCOPES, TokenInfo, TokenStore

_BEARER = HTTPBearer(auto_error=False, description="An API token: `feedertwin token create SITE.toml`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="feedertwin"'}


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", detail, headers=_CHALLENGE)


async def caller(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> TokenInfo | None:
    """The token of the request, ``None`` without an ``Authorization`` header; 401 for a header that
    is not a bearer token, or a token that is unknown or revoked."""
    if credentials is None:
        if "authorization" in request.headers:
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        return None
    tokens: TokenStore = request.app.state.tokens
    found = tokens.verify(credentials.credentials)
    if found is None:
        raise _unauthorized("the bearer token is unknown or revoked; create one with "
                            "'feedertwin token create SITE.toml --scope read --name NAME'")
    return found


def readable(section: str) -> Callable[..., Awaitable[TokenInfo | None]]:
    """A dependency: the section may be read by this caller (public, or any valid token)."""

    async def check(request: Request, token: Annotated[TokenInfo | None, Depends(caller)]) -> TokenInfo | None:
        if token is None and section not in request.app.state.public:
            raise _unauthorized(f"'{section}' is not public on this site: send 'Authorization: Bearer <token>' "
                                "(a token of scope read or control)")
        return token

    return check


def require_scope(scope: str) -> Callable[..., Awaitable[str]]:
    """A dependency for endpoints that need ``scope`` (``read`` or ``control``); it gives the
    caller's token name (``who``, for the audit log). 401 without a token, 403 for a token whose
    scope is too small."""
    if scope not in SCOPES:
        raise ValueError(f"scope: got {scope!r}; expected one of {SCOPES}")

    async def check(token: Annotated[TokenInfo | None, Depends(caller)]) -> str:
        if token is None:
            raise _unauthorized(f"this needs a token of scope {scope}: send 'Authorization: Bearer <token>'")
        if not token.allows(scope):
            raise ApiProblem(403, "forbidden", f"token '{token.name}' has scope {token.scope}; this needs scope {scope}")
        return token.name

    return check
