"""OCPP security profiles 1 and 2 over real connections on 127.0.0.1 (``sim.live.security``).

A test CA and a server certificate for 127.0.0.1 are made by the test with the ``openssl`` CLI.
The site has a profile 0, a profile 1 and a profile 2 charger. Each refusal is an HTTP 401 with
``WWW-Authenticate: Basic`` and a log line in the store (never the password); the right password
connects and boots (profile 1 over ws://, profile 2 over wss:// checked against the test CA); a
TLS 1.1 client is refused; ``feedertwin chargers`` connects with credentials to ``feedertwin live``
serving wss://; ``feedertwin hash-password`` makes a hash the site file accepts.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus
from websockets.headers import build_authorization_basic
from websockets.typing import Subprotocol

from sim.cli import main
from sim.errors import ScenarioError
from sim.live.app import LiveApp
from sim.live.events import ChargerBooted
from sim.live.security import (
    WWW_AUTHENTICATE,
    CredentialsError,
    PasswordHash,
    TlsSpec,
    hash_password,
    read_password_file,
    server_ssl_context,
)
from sim.live.server import LiveServer
from sim.live.site_file import load_site
from sim.live.store import LiveStore, read_events
from tests.live.server_helpers import Charger16, Clock, boot16, live_server, run, write_site
from tests.system_packages import ensure_commands

PASSWORDS = {"CP-1": "password-of-cp-1-0123", "CP-2": "password-of-cp-2-4567"}
HASHES = {identity: str(hash_password(password)) for identity, password in PASSWORDS.items()}

SITE_TOML = f"""
name = "secure-site"
store = "store.sqlite"

[security]
tls_cert = "server.pem"
tls_key = "server.key"

[site]
import_limit_kw = 50

[[chargers]]
id = "CP-0"
bus = 1

[[chargers]]
id = "CP-1"
bus = 1
security_profile = 1
password_hash = "{HASHES['CP-1']}"

[[chargers]]
id = "CP-2"
bus = 1
security_profile = 2
password_hash = "{HASHES['CP-2']}"

[strategy]
name = "equal_share"
"""


@dataclass(frozen=True)
class Pki:
    """A test CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ensure_commands(("openssl",), ("openssl",), "the test CA and server certificate need the openssl command")
    folder = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", "-new", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=feedertwin test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                       "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                       "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
                                       "authorityKeyIdentifier=keyid:always\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
             "-days", "2", "-out", "server.pem", "-extfile", "server.ext", cwd=folder)
    return Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")


def write_secure_site(directory: Path, pki: Pki) -> Path:
    shutil.copy(pki.cert, directory / "server.pem")
    shutil.copy(pki.key, directory / "server.key")
    path = directory / "site.toml"
    path.write_text(SITE_TOML)
    return path


@dataclass
class Servers:
    app: LiveApp
    plain: LiveServer
    tls: LiveServer

    def log_lines(self) -> list[tuple[str, str | None, str]]:
        self.app.store.commit()
        return self.app.store.log_lines()


@asynccontextmanager
async def secure_servers(site_path: Path) -> AsyncIterator[Servers]:
    """The site's app with a plain (ws://) and a TLS (wss://) server on free ports of 127.0.0.1."""
    site = load_site(site_path)
    assert site.security.tls is not None
    store = LiveStore(site.store_path)
    app = LiveApp(site, "shadow", store, clock=Clock(), call_timeout_s=5.0)
    plain = LiveServer(app, "127.0.0.1", 0)
    tls = LiveServer(app, "127.0.0.1", 0, ssl_context=server_ssl_context(site.security.tls))
    await plain.start()
    await tls.start()
    try:
        yield Servers(app, plain, tls)
    finally:
        await plain.close()
        await tls.close()
        await app.close()
        store.close()


def client_tls(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": build_authorization_basic(user, password)}


async def boot_once(url: str, identity: str, headers: dict[str, str] | None = None,
                    tls: ssl.SSLContext | None = None) -> str:
    """Connect as ``identity``, send a BootNotification; its status."""
    extra: dict[str, Any] = {"ssl": tls} if tls is not None else {}
    async with websockets.connect(f"{url}{identity}", subprotocols=[Subprotocol("ocpp1.6")], additional_headers=headers,
                                  **extra) as ws:
        charger = Charger16(identity, ws)
        serving = asyncio.create_task(charger.start())
        try:
            return str((await charger.call(boot16())).status)
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)


# -- the right credentials --------------------------------------------------------------------------

def test_the_right_password_connects_and_boots(tmp_path: Path, pki: Pki) -> None:
    async def scenario() -> None:
        async with secure_servers(write_secure_site(tmp_path, pki)) as s:
            assert await boot_once(s.plain.url, "CP-0") == "Accepted"  # profile 0: as before, no credentials
            assert await boot_once(s.plain.url, "CP-1", basic("CP-1", PASSWORDS["CP-1"])) == "Accepted"
            assert s.tls.url.startswith("wss://127.0.0.1:")
            assert await boot_once(s.tls.url, "CP-2", basic("CP-2", PASSWORDS["CP-2"]), client_tls(pki)) == "Accepted"
            assert await boot_once(s.tls.url, "CP-1", basic("CP-1", PASSWORDS["CP-1"]), client_tls(pki)) == "Accepted"
            s.app.store.commit()
            booted = [e.charger_id for e in s.app.store.events_of(ChargerBooted)]
            assert booted == ["CP-0", "CP-1", "CP-2", "CP-1"]
            assert not [line for line in s.log_lines() if "refused" in line[2]]

    run(scenario())


# -- each refusal: 401, WWW-Authenticate, a log line without the password ---------------------------

REFUSALS = [
    # (case, over TLS, path identity, Authorization header or None, what the log line says)
    ("wrong password", False, "CP-1", build_authorization_basic("CP-1", "not-the-password-0000"), "wrong password"),
    ("wrong password over TLS", True, "CP-2", build_authorization_basic("CP-2", PASSWORDS["CP-1"]), "wrong password"),
    ("missing credentials", False, "CP-1", None, "no credentials (HTTP basic auth) from a security profile 1"),
    ("missing credentials over TLS", True, "CP-2", None, "no credentials (HTTP basic auth) from a security profile 2"),
    ("identity mismatch", False, "CP-1", build_authorization_basic("CP-2", PASSWORDS["CP-2"]),
     "basic-auth user 'CP-2' is not the charger identity"),
    ("not basic auth", False, "CP-1", "Bearer abc", "an Authorization header that is not HTTP basic auth"),
    ("not UTF-8", False, "CP-1", "Basic " + base64.b64encode(b"CP-1:\xff\xfe-binary").decode(),
     "an Authorization header that is not HTTP basic auth"),
    ("unknown charger with credentials", False, "CP-9", build_authorization_basic("CP-9", "whatever-0123456789"),
     "refused unknown charger 'CP-9'"),
    ("unknown charger without credentials", True, "CP-9", None, "refused unknown charger 'CP-9'"),
    ("profile 2 over plain ws://", False, "CP-2", build_authorization_basic("CP-2", PASSWORDS["CP-2"]),
     "a security profile 2 charger connected without TLS (ws://); it must use wss://"),
]


@pytest.mark.parametrize(("case", "over_tls", "identity", "authorization", "logged"), REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_each_refusal_is_a_401_and_a_log_line(tmp_path: Path, pki: Pki, case: str, over_tls: bool, identity: str,
                                              authorization: str | None, logged: str) -> None:
    async def scenario() -> None:
        async with secure_servers(write_secure_site(tmp_path, pki)) as s:
            url = s.tls.url if over_tls else s.plain.url
            headers = {"Authorization": authorization} if authorization is not None else None
            with pytest.raises(InvalidStatus) as refused:
                await boot_once(url, identity, headers, client_tls(pki) if over_tls else None)
            response = refused.value.response
            assert response.status_code == 401, case
            assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE == 'Basic realm="feedertwin"'
            assert response.body == b"authentication failed\n"  # the same whatever the reason
            lines = s.log_lines()
            assert [(level, charger) for level, charger, message in lines if logged in message] == \
                [("warning", identity)], lines
            assert not any(password in message for _, _, message in lines for password in PASSWORDS.values())
            assert identity not in s.app.links and not list(s.app.store.events_of(ChargerBooted))

    run(scenario())


def test_an_unknown_charger_on_a_site_without_credentials_still_gets_404(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (_, server):
            with pytest.raises(InvalidStatus) as refused:
                await boot_once(server.url, "CP-9")
            assert refused.value.response.status_code == 404

    run(scenario())


# -- TLS versions ------------------------------------------------------------------------------------

def _old_client(pki: Pki, newest: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that trusts the test CA and speaks TLS 1.0 up to ``newest`` (old ciphers allowed)."""
    context = client_tls(pki)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = newest
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def _negotiated(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> str:
    """The TLS version a plain TLS echo server and the client agree on (raises if none)."""
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_context)
    port = next(iter(server.sockets)).getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context, server_hostname="127.0.0.1")
        version = str(writer.get_extra_info("ssl_object").version())
        writer.close()
        return version
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(("min_version", "client_max", "client_name"), [
    ("1.2", ssl.TLSVersion.TLSv1_1, "TLSv1.1"),
    ("1.3", ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
])
def test_tls_older_than_the_minimum_is_refused(tmp_path: Path, pki: Pki, min_version: str,
                                               client_max: ssl.TLSVersion, client_name: str) -> None:
    old_client = _old_client(pki, client_max)
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(pki.cert, pki.key)
    try:  # the client really speaks the old version: a server that allows it agrees on it
        assert run(_negotiated(permissive, old_client)) == client_name
    except (ssl.SSLError, OSError) as error:
        pytest.skip(f"this OpenSSL cannot speak {client_name} even at SECLEVEL=0 ({error}): the refusal cannot be shown")

    site = write_secure_site(tmp_path, pki)
    site.write_text(SITE_TOML.replace('tls_key = "server.key"', f'tls_key = "server.key"\ntls_min_version = "{min_version}"'))

    async def scenario() -> None:
        async with secure_servers(site) as s:
            # the server ends the handshake: a protocol-version alert or, when the connection is
            # dropped before the alert is read, a reset
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                await boot_once(s.tls.url, "CP-0", tls=old_client)
            # the same client, allowed the minimum, gets in
            newest = ssl.TLSVersion.TLSv1_3 if min_version == "1.3" else ssl.TLSVersion.TLSv1_2
            assert await boot_once(s.tls.url, "CP-0", tls=_old_client(pki, newest)) == "Accepted"

    run(scenario())


def test_a_missing_certificate_names_the_key_and_the_file(tmp_path: Path, pki: Pki) -> None:
    site = load_site(write_secure_site(tmp_path, pki))
    assert site.security.tls is not None
    (tmp_path / "server.key").unlink()
    with pytest.raises(ScenarioError, match=r"site\.toml: security\.tls_key: file not found; got '.*server\.key'"):
        server_ssl_context(site.security.tls)
    wrong_key = TlsSpec(pki.cert, pki.ca, "1.2", "site.toml")  # a certificate is not a key
    with pytest.raises(ScenarioError, match=r"security\.tls_cert: certificate and key cannot be used together"):
        server_ssl_context(wrong_key)


# -- the commands ------------------------------------------------------------------------------------

SCENARIO_TOML = """
name = "secure-chargers"

[simulation]
start = "2026-04-13T05:00:00+00:00"
duration = "3h"
control_period_s = 600
seed = 7

[grid]
network = "cigre_lv"

[fleet]
source = "generate"
vehicles = ["Renault Zoe"]

[fleet.kinds.work]
sessions_per_day = 3.0
arrival_h_mean = 6.0
arrival_h_std = 0.5
dwell_h_mean = 1.0
dwell_h_std = 0.2
energy_kwh_mean = 10.0
energy_kwh_std = 1.0

[battery]
model = "ideal"
""" + "".join(f"""
[[chargers]]
id = "CP-{k}"
bus = 36
max_current_a = 32
kind = "work"
""" for k in range(3))


def test_live_over_tls_and_the_simulated_chargers_with_credentials(tmp_path: Path, pki: Pki,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``feedertwin live`` (a subprocess) serves ws:// and wss://; ``feedertwin chargers`` with a
    password file and the test CA gets all three chargers (profiles 0, 1, 2) in and booted."""
    site = write_secure_site(tmp_path, pki)
    (tmp_path / "scenario.toml").write_text(SCENARIO_TOML)
    passwords = tmp_path / "passwords.txt"
    passwords.write_text(f"# identity:password\nCP-2:{PASSWORDS['CP-2']}\n*:{PASSWORDS['CP-1']}\n")
    log = tmp_path / "live.log"
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", "shadow", "--listen",
                                "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=log.open("a"), text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert process.stdout is not None
        plain_line, tls_line = process.stdout.readline(), process.stdout.readline()
        assert plain_line.startswith("listening on ws://127.0.0.1:"), (plain_line, log.read_text())
        assert tls_line.startswith("listening on wss://127.0.0.1:") and "TLSv1_2 or newer" in tls_line, tls_line
        wss_url = tls_line.split()[2]
        status = main(["chargers", str(tmp_path / "scenario.toml"), "--csms", wss_url, "--speed", "20000",
                       "--password-file", str(passwords), "--cafile", str(pki.ca)])
        assert status == 0
        out = capsys.readouterr().out
        assert "(0 CALLERRORs), 3 connections" in out, out
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()
    booted = sorted(e.charger_id for e in read_events(tmp_path / "store.sqlite") if isinstance(e, ChargerBooted))
    assert booted == ["CP-0", "CP-1", "CP-2"]
    with LiveStore(tmp_path / "store.sqlite") as store:
        assert not [line for line in store.log_lines() if "refused" in line[2]]


def test_the_command_errors(tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    site = write_secure_site(tmp_path, pki)
    (tmp_path / "server.pem").unlink()
    assert main(["live", str(site), "--mode", "shadow", "--listen", "127.0.0.1:0"]) == 2
    assert "security.tls_cert: file not found" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    plain_site = write_site(tmp_path / "plain")
    assert main(["live", str(plain_site), "--mode", "shadow", "--listen-tls", "127.0.0.1:0"]) == 2
    assert "has no TLS certificate; set [security] tls_cert and tls_key" in capsys.readouterr().err
    assert main(["chargers", "--csms", "ws://127.0.0.1:9/", "--cafile", str(pki.ca)]) == 2
    assert "--cafile" in (err := capsys.readouterr().err) and "only for a wss:// --csms URL" in err, err


def test_password_file_format(tmp_path: Path) -> None:
    path = tmp_path / "passwords.txt"
    path.write_text("# comment\n\nCP-1:a:b c\n*:other\n")
    assert read_password_file(path) == {"CP-1": "a:b c", "*": "other"}
    path.write_text("CP-1 secret\n")
    with pytest.raises(CredentialsError, match="line 1: expected IDENTITY:PASSWORD"):
        read_password_file(path)
    with pytest.raises(CredentialsError, match="cannot read it"):
        read_password_file(tmp_path / "missing.txt")


def test_hash_password_round_trip(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    """The command's line pasted into a site file: the charger's password matches, others do not."""
    import tomllib

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORDS["CP-1"] + "\n"))
    assert main(["hash-password"]) == 0
    captured = capsys.readouterr()
    assert PASSWORDS["CP-1"] not in captured.out + captured.err
    line = captured.out.strip()
    stored = PasswordHash.parse(tomllib.loads(line)["password_hash"])
    assert stored.matches(PASSWORDS["CP-1"]) and not stored.matches(PASSWORDS["CP-1"] + "x")
    assert (stored.n, stored.r, stored.p, len(stored.salt), len(stored.digest)) == (2**14, 8, 1, 16, 32)
    site = tmp_path / "site.toml"
    site.write_text(f'[[chargers]]\nid = "CP-1"\nbus = 1\nsecurity_profile = 1\n{line}\n')
    assert load_site(site).security.of("CP-1").password_hash == stored
    # two hashes of one password differ (random salt); an empty password is refused
    assert str(hash_password("same-password-0123")) != str(hash_password("same-password-0123"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["hash-password"]) == 2
    assert "the password is empty" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["hash-password"]) == 0
    assert "OCPP asks for 16 to 40" in capsys.readouterr().err
