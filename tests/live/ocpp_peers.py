"""The independent OCPP peers (npm ``ocpp-rpc`` in strict mode) as pytest sees them.

``ocpp_rpc`` (a session fixture; import it into a test module to use it) makes sure the peers in
``tests/live/peers`` are installed: it runs ``npm ci`` there (exact versions from
``package-lock.json``) when ``node_modules`` is missing or older than the lock file. Node.js and npm
are installed with apt when missing (``tests.system_packages``); it skips the test with the reason
only where that is impossible or Node.js is older than ocpp-rpc needs (17.3); a failing ``npm ci`` is a test failure with npm's output (the registry is
reachable where these tests run). ``Peers`` starts the two scripts:

- ``charger.js``: a strict charger (1.6 or 2.0.1) that plays one session and exits; its JSON
  lines come back as a list of dicts;
- ``csms.js``: a strict central system (both versions on one port), optionally scripted to call
  each charger after its boot; it runs until stopped, its JSON lines read afterwards.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.system_packages import ensure_commands

PEERS_DIR = Path(__file__).parent / "peers"
MIN_NODE = (17, 3)
NPM_TIMEOUT_S = 300
RUN_TIMEOUT_S = 60


def _node_version(node: str) -> tuple[int, ...]:
    text = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return tuple(int(part) for part in text.lstrip("v").split(".")[:2])


def _installed() -> bool:
    marker = PEERS_DIR / "node_modules" / ".package-lock.json"  # npm writes it after every install
    return marker.exists() and marker.stat().st_mtime >= (PEERS_DIR / "package-lock.json").stat().st_mtime


@dataclass(frozen=True)
class Peers:
    node: str
    directory: Path = PEERS_DIR

    def charger(self, url: str, identity: str, protocol: str, *, meters: int = 3, wait_for: str = "",
                hold_ms: int = 20_000) -> list[dict[str, Any]]:
        """Run ``charger.js`` to the end; its output lines (the last is ``done``). ``wait_for``: the
        CSMS calls it waits for before it stops (``METHOD[:COUNT],...``), at most ``hold_ms``."""
        done = subprocess.run([self.node, str(self.directory / "charger.js"), "--url", url, "--id", identity,
                               "--protocol", protocol, "--meters", str(meters), "--wait-for", wait_for,
                               "--hold-ms", str(hold_ms)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert lines and lines[-1]["event"] == "done", (done.stdout, done.stderr)
        return lines

    @contextmanager
    def csms(self, calls: dict[str, list[dict[str, Any]]] | None = None, *,
             workdir: Path | None = None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Run ``csms.js``; yields its URL and a list that fills with its output lines when it stops."""
        args = [self.node, str(self.directory / "csms.js")]
        if calls is not None:
            assert workdir is not None, "a call script needs a directory to be written to"
            script = workdir / "csms_calls.json"
            script.write_text(json.dumps(calls))
            args += ["--calls", str(script)]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        first = process.stdout.readline()
        if not first.startswith("listening on ws://"):
            process.kill()
            raise AssertionError(f"csms.js did not start: {first!r} {process.communicate()[1]}")
        lines: list[dict[str, Any]] = []
        try:
            yield first.split()[-1], lines
        finally:
            process.terminate()
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
            lines += [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="session")
def ocpp_rpc() -> Peers:
    paths = ensure_commands(("node", "npm"), ("nodejs", "npm"), "the ocpp-rpc peer tests need Node.js and npm")
    node, npm = paths["node"], paths["npm"]
    if _node_version(node) < MIN_NODE:
        pytest.skip(f"ocpp-rpc needs Node.js >= 17.3; this is {'.'.join(map(str, _node_version(node)))}")
    if not _installed():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PEERS_DIR, capture_output=True, text=True,
                              timeout=NPM_TIMEOUT_S)
        if done.returncode != 0:
            pytest.fail(f"`npm ci` in {PEERS_DIR} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return Peers(node)
