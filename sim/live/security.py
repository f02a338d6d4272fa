"""OCPP security profiles 1 and 2: charger passwords (scrypt), the handshake check, the TLS context.

- **Profile 0** (the default): no check, as before.
- **Profile 1**: HTTP basic auth in the websocket handshake; the user name must equal the charger
  identity (the last path segment), the password is checked against the site file's
  ``password_hash``. Plain ``ws://`` or ``wss://``.
- **Profile 2**: profile 1 over TLS only (``wss://``); a plain connection is refused.

Passwords are stored as ``scrypt$N$r$p$SALT$HASH`` (``hashlib.scrypt``, a random 16-byte salt,
base64 without padding; the parameters travel in the string so they can be raised later without
breaking old hashes), made by ``feedertwin hash-password``. The check runs ``hashlib.scrypt``
(about 50 ms and 16 MB at the default cost) in a worker thread, so a burst of reconnecting chargers
does not stall the event loop, and compares with ``hmac.compare_digest`` (constant time).

A refused handshake gets HTTP 401 with the same body whatever the reason, so a client cannot tell an
unknown identity from a wrong password; the reason goes to the site's log (never the password).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import InvalidHeader
from websockets.headers import parse_authorization_basic

from sim.errors import FeedertwinError, ScenarioError
from sim.scenario._reader import Table, as_table

SCRYPT_N = 2**14  # CPU/memory cost: 128 * N * r bytes = 16 MB, about 50 ms per check
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_SCRYPT_N = 2**20  # bounds on parameters read from a site file: a typo must not take 100 GB
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
HASH_FORMAT = "scrypt$N$r$p$SALT$HASH"
SECURITY_PROFILES = (0, 1, 2)
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
"""The values of ``[security] tls_min_version``: TLS 1.2 or newer, nothing older."""
SECURITY_KEYS = ("default_profile", "tls_cert", "tls_key", "tls_min_version")
CHARGER_SECURITY_KEYS = ("security_profile", "password_hash")
"""The keys a ``[[chargers]]`` entry (and ``[unknown_chargers]``) may carry beside a scenario's."""
REALM = "feedertwin"
WWW_AUTHENTICATE = f'Basic realm="{REALM}"'


class PasswordHashError(ValueError):
    """A string that is not a ``scrypt$N$r$p$SALT$HASH`` password hash (the reason is the message)."""


class CredentialsError(FeedertwinError):
    """A simulated charger's credentials cannot be read (``--password-file``, ``--cafile``)."""


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise PasswordHashError(f"the {what} is not base64") from None


@dataclass(frozen=True)
class PasswordHash:
    """A stored password: scrypt parameters, salt and derived key. ``str()`` gives the site-file form."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """Read ``scrypt$N$r$p$SALT$HASH``; ``PasswordHashError`` saying what is wrong otherwise."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise PasswordHashError(f"not of the form {HASH_FORMAT}")
        try:
            n, r, p = (int(part) for part in parts[1:4])
        except ValueError:
            raise PasswordHashError("N, r and p must be integers") from None
        if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0):
            raise PasswordHashError(f"N = {n} must be a power of 2 in [2, {MAX_SCRYPT_N}]")
        if not (1 <= r <= MAX_SCRYPT_R and 1 <= p <= MAX_SCRYPT_P):
            raise PasswordHashError(f"r = {r} must be in [1, {MAX_SCRYPT_R}] and p = {p} in [1, {MAX_SCRYPT_P}]")
        salt, digest = _b64decode(parts[4], "salt"), _b64decode(parts[5], "hash")
        if len(salt) < 8 or len(digest) < 16:
            raise PasswordHashError(f"the salt ({len(salt)} bytes) must have at least 8 bytes and the hash "
                                    f"({len(digest)} bytes) at least 16")
        return cls(n, r, p, salt, digest)

    def __str__(self) -> str:
        return f"scrypt${self.n}${self.r}${self.p}${_b64encode(self.salt)}${_b64encode(self.digest)}"

    def matches(self, password: str) -> bool:
        """Whether ``password`` is the one hashed (constant-time compare of the derived keys)."""
        candidate = _scrypt(password, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(candidate, self.digest)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    max_memory = 128 * r * (n + p + 2) + 1024 * 1024  # what scrypt needs, with room for OpenSSL's own
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=max_memory, dklen=length)


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> PasswordHash:
    """A new hash of ``password`` with a random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    return PasswordHash(n, r, p, salt, _scrypt(password, salt, n, r, p, HASH_BYTES))


@dataclass(frozen=True)
class ChargerSecurity:
    """How one charger must authenticate: its profile (0, 1, 2) and, for 1 and 2, its password hash."""

    profile: int = 0
    password_hash: PasswordHash | None = None


@dataclass(frozen=True)
class TlsSpec:
    """The ``[security]`` TLS settings: certificate chain and key (PEM, resolved against the site
    file's folder) and the oldest TLS version served. ``site_file`` names the site file in errors."""

    cert: Path
    key: Path
    min_version: str = "1.2"
    site_file: str = "<site>"


@dataclass(frozen=True)
class SecuritySpec:
    """A site file's security settings: ``[security]`` and each charger's profile and hash.
    ``chargers``: the listed chargers by id; ``unknown``: accepted unknown chargers."""

    default_profile: int = 0
    tls: TlsSpec | None = None
    chargers: Mapping[str, ChargerSecurity] = field(default_factory=dict)
    unknown: ChargerSecurity = ChargerSecurity()

    def of(self, charger_id: str) -> ChargerSecurity:
        """How ``charger_id`` must authenticate (call only for a charger the site accepts)."""
        return self.chargers.get(charger_id, self.unknown)

    @property
    def any_secured(self) -> bool:
        """Whether some charger needs credentials (then an unknown charger gets 401, not 404)."""
        return self.unknown.profile > 0 or any(c.profile > 0 for c in self.chargers.values())


def read_security(root: Table, base_dir: Path) -> tuple[SecuritySpec, dict[str, Any]]:
    """The site file's security settings, and its mapping without the charger security keys (which
    the scenario room's charger reader does not know). Errors name the file, key, value and what is
    valid: a profile 1 or 2 charger without a password hash, a profile 2 charger without TLS, a hash
    not of the form ``scrypt$N$r$p$SALT$HASH``."""
    data = dict(root.data)
    t = root.table("security", required=False) or Table(root.file, "security", {})
    t.check_keys(SECURITY_KEYS)
    default_profile = t.integer("default_profile", 0, lo=0, hi=2)
    tls = _tls(t, base_dir)
    chargers: dict[str, ChargerSecurity] = {}
    items = data.get("chargers")
    if isinstance(items, list):
        data["chargers"] = stripped = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                security = _charger_security(as_table(root.file, f"chargers[{index}]", item), default_profile, tls)
                if isinstance(item.get("id"), str):
                    chargers[item["id"]] = security
                item = {k: v for k, v in item.items() if k not in CHARGER_SECURITY_KEYS}
            stripped.append(item)
    unknown = ChargerSecurity()
    if isinstance(data.get("unknown_chargers"), dict):
        unknown_t = as_table(root.file, "unknown_chargers", data["unknown_chargers"])
        if data.get("accept_unknown_chargers") is True:
            unknown = _charger_security(unknown_t, default_profile, tls)
        data["unknown_chargers"] = {k: v for k, v in unknown_t.data.items() if k not in CHARGER_SECURITY_KEYS}
    elif data.get("accept_unknown_chargers") is True:
        unknown = _charger_security(Table(root.file, "unknown_chargers", {}), default_profile, tls)
    return SecuritySpec(default_profile, tls, chargers, unknown), data


def _tls(t: Table, base_dir: Path) -> TlsSpec | None:
    given = [name for name in ("tls_cert", "tls_key") if t.has(name)]
    if not given:
        if t.has("tls_min_version"):
            raise t.error("tls_min_version", "only used with tls_cert and tls_key", value=t.data["tls_min_version"],
                          expected="tls_cert and tls_key beside it, or no tls_min_version")
        return None
    if len(given) == 1:
        missing = "tls_key" if given == ["tls_cert"] else "tls_cert"
        raise t.error(missing, f"missing: TLS needs both tls_cert and tls_key (only {given[0]} is set)",
                      expected="tls_cert = \"server.pem\" and tls_key = \"server.key\" (paths relative to the site "
                               "file), or neither")
    cert, key = ((base_dir / Path(t.string(name)).expanduser()).resolve() for name in ("tls_cert", "tls_key"))
    return TlsSpec(cert, key, t.string("tls_min_version", "1.2", choices=tuple(TLS_VERSIONS)), t.file)


def _charger_security(t: Table, default_profile: int, tls: TlsSpec | None) -> ChargerSecurity:
    profile = t.integer("security_profile", default_profile, lo=0, hi=2)
    where = "" if t.has("security_profile") else " (security.default_profile)"
    password_hash = None
    if t.has("password_hash"):
        text = t.string("password_hash")
        try:
            password_hash = PasswordHash.parse(text)
        except PasswordHashError as error:
            raise t.error("password_hash", f"not a password hash: {error}", value=text,
                          expected=f"{HASH_FORMAT}, the line printed by feedertwin hash-password") from None
    elif profile >= 1:
        raise t.error("password_hash", f"missing: a security profile {profile}{where} charger needs a password hash",
                      expected='password_hash = "scrypt$...", the line printed by feedertwin hash-password, or '
                               "security_profile = 0")
    if profile == 2 and tls is None:
        raise t.error("security_profile", f"security profile 2{where} needs TLS, and [security] has no tls_cert "
                      "and tls_key", value=profile, expected="[security] tls_cert and tls_key, or security_profile "
                      "0 or 1")
    return ChargerSecurity(profile, password_hash)


def server_ssl_context(tls: TlsSpec) -> ssl.SSLContext:
    """The server's TLS context (TLS ``tls.min_version`` or newer); a missing or unreadable
    certificate or key is a ``ScenarioError`` naming the site file and the key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    for name, path in (("security.tls_cert", tls.cert), ("security.tls_key", tls.key)):
        if not path.is_file():
            raise ScenarioError(tls.site_file, name, "file not found", value=str(path),
                                expected="a PEM file (a path relative to the site file)")

    def no_passphrase() -> str:  # never prompt on the terminal for an encrypted key
        raise ScenarioError(tls.site_file, "security.tls_key", "the key is encrypted", value=str(tls.key),
                            expected="an unencrypted PEM key, readable only by the user running feedertwin")

    try:
        context.load_cert_chain(tls.cert, tls.key, password=no_passphrase)
    except ssl.SSLError as error:
        raise ScenarioError(tls.site_file, "security.tls_cert", f"certificate and key cannot be used together "
                            f"({error.reason or error})", value=f"{tls.cert}, {tls.key}",
                            expected="a PEM certificate chain and the unencrypted PEM key of its first certificate"
                            ) from None
    return context


def client_ssl_context(cafile: str | Path) -> ssl.SSLContext:
    """A client context that trusts only the CA certificates in ``cafile`` (PEM), TLS 1.2 or newer."""
    try:
        context = ssl.create_default_context(cafile=str(cafile))
    except (OSError, ssl.SSLError) as error:
        raise CredentialsError(f"--cafile {cafile}: cannot read CA certificates ({error})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def refusal(security: ChargerSecurity, charger_id: str, authorization: str | None, *, tls: bool) -> str | None:
    """Why a handshake for ``charger_id`` is refused (for the log; never contains the password), or
    ``None`` when it may go on. ``authorization``: the request's Authorization header; ``tls``:
    whether it came over TLS."""
    if security.profile == 0:
        return None
    if security.profile >= 2 and not tls:
        return "a security profile 2 charger connected without TLS (ws://); it must use wss://"
    if authorization is None:
        return f"no credentials (HTTP basic auth) from a security profile {security.profile} charger"
    try:
        user, password = parse_authorization_basic(authorization)
    except (InvalidHeader, UnicodeDecodeError):  # the library does not catch a password that is not UTF-8
        return "an Authorization header that is not HTTP basic auth (base64 of user:password in UTF-8)"
    if user != charger_id:
        shown = user if len(user) <= 64 else user[:61] + "..."
        return f"basic-auth user {shown!r} is not the charger identity"
    assert security.password_hash is not None  # the site file requires one for profiles 1 and 2
    if not await asyncio.to_thread(security.password_hash.matches, password):
        return "wrong password"
    return None


def read_password_file(path: str | Path) -> dict[str, str]:
    """The passwords of simulated chargers: one ``IDENTITY:PASSWORD`` per line (split at the first
    ``:``, which a basic-auth user name cannot contain), ``*:PASSWORD`` for every charger not listed;
    blank lines and lines starting with ``#`` are skipped. Returns identity -> password."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise CredentialsError(f"--password-file {file}: cannot read it ({error.strerror or error})") from None
    passwords: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        identity, sep, password = line.partition(":")
        if not sep or not identity or not password:
            raise CredentialsError(f"--password-file {file}: line {number}: expected IDENTITY:PASSWORD (or "
                                    "*:PASSWORD for every other charger)")
        if identity in passwords:
            raise CredentialsError(f"--password-file {file}: line {number}: {identity!r} is listed twice")
        passwords[identity] = password
    return passwords


def password_for(passwords: Mapping[str, str], charger_id: str) -> str | None:
    """The password of ``charger_id`` in a password file's mapping (``*`` for the others), or ``None``."""
    return passwords.get(charger_id, passwords.get("*"))
