"""``feedertwin token create|list|revoke`` and ``feedertwin live --api``: a token created on the
command line is shown once, works against a running live process (a subprocess, real HTTP), and is
refused once revoked; bad input exits 2 naming what is wrong."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sim.api.tokens import TokenStore, token_digest
from sim.cli import main
from sim.live.site_file import load_site
from tests.live.server_helpers import write_site


def _create(site: Path, capsys: pytest.CaptureFixture[str], name: str, scope: str) -> str:
    assert main(["token", "create", str(site), "--scope", scope, "--name", name]) == 0
    token, message = capsys.readouterr().out.splitlines()
    assert f"token '{name}' (scope {scope}) created" in message
    return token


def test_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = write_site(tmp_path)
    token = _create(site, capsys, "fleet-app", "read")
    assert token.startswith("ft_") and len(token) > 40
    _create(site, capsys, "operator", "control")
    store_path = load_site(site).store_path
    assert token not in store_path.read_bytes().decode("latin-1")  # only its digest is stored
    with TokenStore(store_path) as tokens:
        found = tokens.verify(token)
        assert found is not None and found.name == "fleet-app" and found.allows("read") and not found.allows("control")

    assert main(["token", "list", str(site)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["fleet-app", "read"], ["operator", "control"]]
    assert token not in "".join(listed) and token_digest(token) not in "".join(listed)

    assert main(["token", "revoke", str(site), "--name", "fleet-app"]) == 0
    assert capsys.readouterr().out.strip() == "token 'fleet-app' (scope read) revoked"
    with TokenStore(store_path) as tokens:
        assert tokens.verify(token) is None
    assert main(["token", "list", str(site)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["operator"]
    assert main(["token", "list", str(site), "--all"]) == 0
    assert "revoked" in capsys.readouterr().out.splitlines()[0]


def test_token_errors_exit_2_naming_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = write_site(tmp_path)
    _create(site, capsys, "app", "read")
    assert main(["token", "create", str(site), "--scope", "read", "--name", "app"]) == 2
    assert "'app' is already used by an active token" in capsys.readouterr().err
    assert main(["token", "revoke", str(site), "--name", "nobody"]) == 2
    assert "no active token named 'nobody'; active tokens: app" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: the choices are named
        main(["token", "create", str(site), "--scope", "admin", "--name", "x"])
    assert "invalid choice: 'admin'" in capsys.readouterr().err


def test_live_serves_the_api_with_a_cli_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = write_site(tmp_path)
    token = _create(site, capsys, "fleet-app", "read")
    log = tmp_path / "live.log"
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", "shadow",
                                "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=log.open("a"), text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on ws://127.0.0.1:")
        line = process.stdout.readline()
        assert line.startswith("api on http://127.0.0.1:"), (line, log.read_text())
        url = line.split()[-1]
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("api/v1/chargers").status_code == 401  # nothing public by default
            chargers = http.get("api/v1/chargers", headers={"Authorization": f"Bearer {token}"})
            assert chargers.status_code == 200 and len(chargers.json()["chargers"]) == 2
            assert http.get("openapi.json").json()["info"]["title"] == "feedertwin live API: test-site"
            assert "swagger" in http.get("docs").text.lower()  # the interactive docs
            assert main(["token", "revoke", str(site), "--name", "fleet-app"]) == 0  # while it runs
            assert http.get("api/v1/chargers", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_live_api_port_in_use_exits_2_naming_it(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "sim", "live", str(site), "--mode", "shadow", "--listen",
                               "127.0.0.1:0", "--api", f"127.0.0.1:{port}"], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"feedertwin: error: --api 127.0.0.1:{port}: cannot listen there:")
