"""Proxy mode between two independent strict peers: ocpp-rpc's charger -> ``feedertwin live
--mode active --upstream`` -> ocpp-rpc's CSMS (the back office, scripted to call the charger).

What it shows, from the store's raw frames and both peers' own logs:

- frames arrive unchanged both ways, in order: the frames sent upstream are exactly the charger's
  (same text, same order); the frames sent to the charger are exactly the back office's, calls in
  their order and replies in theirs (a reply may overtake a call that waits for the call slot);
- feedertwin's own calls (capability read, safe default, TxProfile) reach the charger with the
  ``INJECTED_ID_PREFIX`` ids, and neither they nor their replies ever reach the back office;
- at most one call to the charger is outstanding at any time (the back office's and feedertwin's
  calls are serialised), and both strict peers accept every frame (no schema failure, no error);
- the twin observed the session on the way through (1.6: with the back office's transaction id).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sim.live.proxy import INJECTED_ID_PREFIX
from sim.live.store import LiveStore
from tests.live.ocpp_peers import Peers, ocpp_rpc  # noqa: F401  (the fixture)
from tests.live.test_peers import CSMS_CALLS, SITE

# what the charger waits for: the back office's script plus feedertwin's read and profiles
WAIT_FOR = {"ocpp1.6": "GetConfiguration:2,SetChargingProfile:3,GetCompositeSchedule,ClearChargingProfile,"
                       "ChangeConfiguration,TriggerMessage",
            "ocpp2.0.1": "GetVariables:2,SetChargingProfile:3,GetCompositeSchedule,ClearChargingProfile,"
                         "SetVariables,TriggerMessage"}
IDENTITY = {"ocpp1.6": "RPC-16", "ocpp2.0.1": "RPC-201"}


@contextmanager
def feedertwin_proxy(tmp_path: Path, upstream_url: str) -> Iterator[str]:
    """``feedertwin live --mode active --upstream URL`` as a subprocess; yields its URL."""
    site = tmp_path / "site.toml"
    site.write_text(SITE.format(store=(tmp_path / "store.sqlite").as_posix()))
    log = tmp_path / "live.log"
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", "active", "--listen",
                                "127.0.0.1:0", "--upstream", upstream_url + "ocpp"],
                               stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on ws://"), (line, log.read_text())
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=30)


def frame_ids(frames: list[str]) -> list[tuple[int, str]]:
    return [(int(f[0]), str(f[1])) for f in (json.loads(text) for text in frames)]


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_proxy_between_strict_peers(ocpp_rpc: Peers, tmp_path: Path, protocol: str) -> None:  # noqa: F811
    identity = IDENTITY[protocol]
    script = {protocol: CSMS_CALLS[protocol]}
    with ocpp_rpc.csms(script, workdir=tmp_path) as (upstream_url, office):
        with feedertwin_proxy(tmp_path, upstream_url) as url:
            charger = ocpp_rpc.charger(url, identity, protocol, wait_for=WAIT_FOR[protocol])
    failures = [line for line in charger + office if line["event"] in ("strict-failure", "call-error", "fatal")]
    assert charger[-1]["ok"] and not failures, (failures, charger[-1])
    scripted = [line["method"] for line in office if line["event"] == "result" and line["identity"] == identity]
    assert scripted == [call["method"] for call in CSMS_CALLS[protocol]]  # each answered by the charger
    charger_calls = [line["method"] for line in charger if line["event"] == "result"]
    office_saw = [line["method"] for line in office if line["event"] == "call-in"]
    assert office_saw == charger_calls  # the charger's calls reached the back office, in order

    with LiveStore(tmp_path / "store.sqlite") as store:
        frames = store.frames()
        events = [(kind, data) for kind, data in _events(store) if data.get("charger_id") == identity]
    down = [(d, f) for cid, d, f in frames if cid == identity]
    up = [(d, f) for cid, d, f in frames if cid == f"upstream/{identity}"]
    from_charger = [f for d, f in down if d == "in" and not _injected(f)]
    to_charger = [f for d, f in down if d == "out" and not _injected(f)]
    assert [f for d, f in up if d == "out"] == from_charger  # unchanged, in order
    from_office = [f for d, f in up if d == "in"]
    for types in ((2,), (3, 4)):  # a reply may overtake a call waiting for the call slot; each keeps its order
        assert [f for f in from_office if json.loads(f)[0] in types] == [f for f in to_charger if json.loads(f)[0] in types]
    assert sorted(from_office) == sorted(to_charger)
    assert not [f for _, f in up if _injected(f)]  # feedertwin's calls and replies stay local
    injected = [json.loads(f) for d, f in down if d == "out" and _injected(f)]
    assert {call[2] for call in injected} >= {"SetChargingProfile"}
    purposes = [(c[3].get("csChargingProfiles") or c[3].get("chargingProfile"))["chargingProfilePurpose"]
                for c in injected if c[2] == "SetChargingProfile"]
    assert purposes[0] == "TxDefaultProfile" and "TxProfile" in purposes

    outstanding: set[str] = set()  # calls to the charger not yet answered, in the order of the wire
    for direction, (kind, message_id) in zip([d for d, _ in down], frame_ids([f for _, f in down]), strict=True):
        if direction == "out" and kind == 2:
            assert not outstanding, f"a call sent while {outstanding} was outstanding"
            outstanding.add(message_id)
        elif direction == "in" and kind in (3, 4):
            outstanding.discard(message_id)

    kinds = [kind for kind, _ in events]
    assert "SessionStarted" in kinds and "MeterSample" in kinds and "SessionEnded" in kinds
    if protocol == "ocpp1.6":
        started = json.loads(next(f for d, f in up if d == "in" and '"transactionId"' in f))[2]
        session = next(data for kind, data in events if kind == "SessionStarted")
        assert session["transaction_id"] == str(started["transactionId"])


def _injected(frame: str) -> bool:
    return str(json.loads(frame)[1]).startswith(INJECTED_ID_PREFIX)


def _events(store: LiveStore) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, json.loads(data)) for kind, data in
            store._query("SELECT kind, data FROM events ORDER BY id")]
