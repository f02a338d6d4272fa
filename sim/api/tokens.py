"""API tokens: who may read a live site's API, and who may steer it.

A token is 256 random bits (``secrets.token_urlsafe(32)`` behind the prefix ``ft_``), shown once
when it is created and never stored: the ``api_tokens`` table of the site's SQLite store keeps its
SHA-256 digest, its name, its scope and when it was created and revoked. SHA-256, not a slow
password hash (scrypt, argon2): a slow hash protects *guessable* secrets; a 256-bit random token
cannot be guessed, so a fast digest loses nothing, costs microseconds per request, and lets the
API find the token by its digest with an index lookup instead of trying every stored hash.

Scopes: ``read`` (every read endpoint) and ``control`` (the actions, and everything ``read`` may).
Tokens live in the store file beside the live data, in their own table and through their own
connection (``TokenStore``), so ``feedertwin token create|list|revoke`` works while
``feedertwin live`` runs, and a revoked token is refused at its next request.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sim.errors import FeedertwinError

SCOPES = ("read", "control")
"""``control`` includes ``read``."""
TOKEN_PREFIX = "ft_"
TOKEN_BYTES = 32  # 256 random bits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL CHECK (scope IN ('read', 'control')),
    token_sha256 TEXT NOT NULL UNIQUE, created_t_s REAL NOT NULL, revoked_t_s REAL);
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked_t_s IS NULL;
"""


class TokenError(FeedertwinError):
    """A token command went wrong (bad scope or name, unknown token, unreadable store)."""


@dataclass(frozen=True)
class TokenInfo:
    """A stored token (never the token itself)."""

    token_id: int
    name: str
    scope: str
    created_t_s: float
    revoked_t_s: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_t_s is None

    def allows(self, scope: str) -> bool:
        """Whether this token may do what ``scope`` needs (``control`` includes ``read``)."""
        return self.active and SCOPES.index(self.scope) >= SCOPES.index(scope)


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise TokenError(f"token scope: got {scope!r}; expected one of {', '.join(SCOPES)}")
    return scope


class TokenStore:
    """The ``api_tokens`` table of a site's store file, through a connection of its own."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit; check_same_thread=False: the API may verify from a worker thread; each
            # statement is its own transaction, so no state is shared between calls.
            self._db = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")  # as the live store: readers never block its writer
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise TokenError(f"store {self.path}: cannot open the token table: {error}") from None

    def create(self, name: str, scope: str, t_s: float | None = None) -> tuple[str, TokenInfo]:
        """A new token (returned once, in clear) named ``name`` with ``scope``; the name must be
        unique among the tokens that are not revoked."""
        check_scope(scope)
        if not name.strip():
            raise TokenError(f"token name: got {name!r}; expected a non-empty name (who uses the token)")
        if self.find_active(name) is not None:
            raise TokenError(f"token name: {name!r} is already used by an active token; revoke it first or "
                             "choose another name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        created_t_s = time.time() if t_s is None else t_s
        cursor = self._db.execute("INSERT INTO api_tokens (name, scope, token_sha256, created_t_s) VALUES (?, ?, ?, ?)",
                                  (name, scope, token_digest(token), created_t_s))
        assert cursor.lastrowid is not None
        return token, TokenInfo(cursor.lastrowid, name, scope, created_t_s)

    def verify(self, token: str) -> TokenInfo | None:
        """The active token ``token`` is, or ``None`` (unknown or revoked)."""
        row = self._db.execute("SELECT id, name, scope, created_t_s, revoked_t_s FROM api_tokens "
                               "WHERE token_sha256 = ? AND revoked_t_s IS NULL", (token_digest(token),)).fetchone()
        return TokenInfo(*row) if row is not None else None

    def tokens(self, include_revoked: bool = False) -> list[TokenInfo]:
        sql = "SELECT id, name, scope, created_t_s, revoked_t_s FROM api_tokens"
        sql += " ORDER BY id" if include_revoked else " WHERE revoked_t_s IS NULL ORDER BY id"
        return [TokenInfo(*row) for row in self._db.execute(sql)]

    def find_active(self, name: str) -> TokenInfo | None:
        row = self._db.execute("SELECT id, name, scope, created_t_s, revoked_t_s FROM api_tokens "
                               "WHERE name = ? AND revoked_t_s IS NULL", (name,)).fetchone()
        return TokenInfo(*row) if row is not None else None

    def revoke(self, name: str, t_s: float | None = None) -> TokenInfo:
        """Revoke the active token named ``name`` (its next request is refused)."""
        found = self.find_active(name)
        if found is None:
            active = ", ".join(t.name for t in self.tokens()) or "none"
            raise TokenError(f"token name: no active token named {name!r}; active tokens: {active}")
        revoked_t_s = time.time() if t_s is None else t_s
        self._db.execute("UPDATE api_tokens SET revoked_t_s = ? WHERE id = ?", (revoked_t_s, found.token_id))
        return TokenInfo(found.token_id, found.name, found.scope, found.created_t_s, revoked_t_s)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TokenStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
