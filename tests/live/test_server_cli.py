"""``feedertwin live`` as a user (or a supervisor) meets it: a subprocess that prints the port it
bound, clear errors with exit status 2, and durability: killed with SIGKILL while a charger sends
meter values, restarted, every acknowledged message is in the store and the site carries on."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call as call16

from sim.cli import main
from sim.live.events import ChargerDisconnected, MeterSample, SessionStarted
from sim.live.store import LiveStore
from tests.live.server_helpers import Charger16, boot16, run, write_site

KILL_AFTER_ACKS = 25


def start_live(site: Path, log: Path, mode: str = "shadow") -> tuple[subprocess.Popen[str], str]:
    """``feedertwin live`` on a free port; returns the process and the URL it printed."""
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", mode,
                                "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log.open("a"),
                               text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on ws://127.0.0.1:"), (line, log.read_text())
    return process, line.split()[-1]


async def _meter_values_until_killed(url: str, process: subprocess.Popen[str]) -> tuple[int, list[int]]:
    """Boot, start a transaction, send meter values; SIGKILL the server after some were acknowledged.
    Returns the transaction id and the energy readings (Wh) the server acknowledged."""
    acknowledged: list[int] = []
    async with websockets.connect(f"{url}CP-16", subprotocols=["ocpp1.6"]) as ws:
        cp = Charger16("CP-16", ws, response_timeout=10)
        ids = itertools.count()
        cp._unique_id_generator = lambda: f"m-{next(ids)}"
        serving = asyncio.create_task(cp.start())
        await cp.call(boot16())
        tx = int((await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                        timestamp="2027-01-15T08:00:00Z"))).transaction_id)
        for i in itertools.count(1):
            if len(acknowledged) == KILL_AFTER_ACKS:
                process.send_signal(signal.SIGKILL)  # no clean-up of any kind: the kernel ends it
            sending = asyncio.create_task(cp.call(call16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
                "timestamp": "2027-01-15T08:00:00Z", "sampledValue": [{"value": str(100 * i), "unit": "Wh"}]}])))
            await asyncio.wait({sending, serving}, return_when=asyncio.FIRST_COMPLETED)
            if not sending.done() or sending.exception() is not None:  # the connection is gone
                sending.cancel()
                break
            acknowledged.append(100 * i)
        await asyncio.gather(serving, sending, return_exceptions=True)
    return tx, acknowledged


async def _start_transaction(url: str) -> int:
    async with websockets.connect(f"{url}CP-16", subprotocols=["ocpp1.6"]) as ws:
        cp = Charger16("CP-16", ws)
        serving = asyncio.create_task(cp.start())
        started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                        timestamp="2027-01-15T09:00:00Z"))
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        return int(started.transaction_id)


def test_killed_with_sigkill_and_restarted_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    log = tmp_path / "live.log"
    process, url = start_live(site, log)
    try:
        tx, acknowledged = run(_meter_values_until_killed(url, process))
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
    assert len(acknowledged) == KILL_AFTER_ACKS

    restarted, url = start_live(site, log)
    try:
        assert run(_start_transaction(url)) == tx + 1  # ids continue: the first transaction is known
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0, log.read_text()
    finally:
        restarted.kill()

    with LiveStore(tmp_path / "store.sqlite") as store:
        events = list(store.events())
        stored_wh = [e.energy_wh for e in events if isinstance(e, MeterSample)]
        assert stored_wh[:len(acknowledged)] == acknowledged  # every acknowledged one, in order
        assert set(stored_wh) <= set(acknowledged) | {100 * (len(acknowledged) + 1)}  # + the one in flight
        frames_in = [f for _, d, f in store.frames("CP-16") if d == "in" and '"MeterValues"' in f]
        assert all(f'"m-{i + 2}"' in frames_in[i] for i in range(len(acknowledged)))
        assert [e.transaction_id for e in events if isinstance(e, SessionStarted)] == [str(tx), str(tx + 1)]
        # The restart closed the link the crash left open, before the charger came back.
        assert any(isinstance(e, ChargerDisconnected) for e in events)
        assert any("restored" in message for _, _, message in store.log_lines())


def test_errors_a_user_causes_exit_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", str(tmp_path / "missing.toml"), "--mode", "shadow"]) == 2
    assert "missing.toml" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["live", str(write_site(tmp_path)), "--mode", "shadow", "--listen", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"--listen 127.0.0.1:{port}: cannot listen there" in err and "Traceback" not in err
    for listen, expected in (("nonsense", "expected HOST:PORT"), ("127.0.0.1:99999", "0-65535"),
                             ("127.0.0.1:x", "must be an integer")):
        with pytest.raises(SystemExit) as exited:
            main(["live", "site.toml", "--mode", "shadow", "--listen", listen])
        assert exited.value.code == 2
        assert expected in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["live", "site.toml", "--mode", "loud"])
    assert "invalid choice: 'loud'" in capsys.readouterr().err
