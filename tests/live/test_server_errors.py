"""Malformed frames and schema violations over a raw websocket: the CALLERROR OCPP defines (with
each version's error codes), or logged and dropped where OCPP gives no reply; the connection and
the server survive every one of them.

"No reply" is shown without waiting: after the bad frame a Heartbeat is sent, and the very next
frame that arrives must be the Heartbeat's reply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.live.server_helpers import (
    Charger16,
    Charger201,
    boot16,
    boot201,
    connected,
    live_server,
    run,
    write_site,
)

HEARTBEAT_ID = "hb"

# (frame, the CALLERROR code expected from a 1.6 link, from a 2.0.1 link); None = no reply.
CASES: list[tuple[str, str, str | None, str | None]] = [
    ("not JSON", "{not json", None, None),
    ("JSON but not an array", '{"a": 1}', None, None),
    ("an array without a message id", "[2]", None, None),
    ("a CALL with elements missing", '[2, "m-1"]', "ProtocolError", "RpcFrameworkError"),
    ("an unknown message type", '[7, "m-2", "Heartbeat", {}]', None, "MessageTypeNotSupported"),
    ("a CALLRESULT nobody asked for", '[3, "m-3", {}]', None, None),
    ("a CALLERROR nobody asked for", '[4, "m-4", "InternalError", "", {}]', None, None),
    ("an action OCPP does not have", '[2, "m-5", "MakeCoffee", {}]', "NotSupported", "NotSupported"),
    ("a required field missing", '[2, "m-6", "BootNotification", {}]', "ProtocolError", "ProtocolError"),
    ("a field of the wrong type", '[2, "m-7", "Heartbeat", []]', "TypeConstraintViolation",
     "TypeConstraintViolation"),
    ("an extra field", '[2, "m-8", "Heartbeat", {"extra": 1}]', "FormationViolation", "FormatViolation"),
]
# Valid for OCPP but not handled by feedertwin: NotImplemented, per version.
NOT_HANDLED = {"1.6": '[2, "m-9", "DataTransfer", {"vendorId": "acme"}]',
               "2.0.1": '[2, "m-9", "NotifyReport", {"requestId": 1, "generatedAt": "2027-01-15T08:00:00Z", "seqNo": 0}]'}


async def _next_reply(ws: Any, frame: str) -> Any:
    """Send ``frame`` then a Heartbeat; the reply to ``frame`` if one came first, else ``None``."""
    await ws.send(frame)
    await ws.send(json.dumps([2, HEARTBEAT_ID, "Heartbeat", {}]))
    first = json.loads(await ws.recv())
    if first[1] == HEARTBEAT_ID:
        return None
    heartbeat = json.loads(await ws.recv())
    assert heartbeat[:2] == [3, HEARTBEAT_ID]
    return first


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_malformed_frames_get_the_right_callerror_or_none_and_never_end_the_connection(
        tmp_path: Path, version: str) -> None:
    identity = "CP-16" if version == "1.6" else "CP-201"

    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with websockets.connect(f"{server.url}{identity}", subprotocols=[f"ocpp{version}"]) as ws:
                for what, frame, code16, code201 in CASES:
                    expected = code16 if version == "1.6" else code201
                    reply = await _next_reply(ws, frame)
                    if expected is None:
                        assert reply is None, what
                    else:
                        assert reply is not None and reply[0] == 4, what
                        assert (reply[1], reply[2]) == (json.loads(frame)[1], expected), what
                        assert isinstance(reply[3], str) and isinstance(reply[4], dict), what
                reply = await _next_reply(ws, NOT_HANDLED[version])
                assert reply[:3] == [4, "m-9", "NotImplemented"]
            # Every bad frame is in the store as it came, and the drops are explained in the log.
            frames_in = [f for _, direction, f in app.store.frames(identity) if direction == "in"]
            assert [frame for _, frame, _, _ in CASES] == [f for f in frames_in if '"hb"' not in f][:len(CASES)]
            assert any("dropped" in message for _, _, message in app.store.log_lines())
            # The server still serves: a charger of the same version connects and boots.
            cls, boot = (Charger16, boot16) if version == "1.6" else (Charger201, boot201)
            async with connected(server, identity, cls) as charger:
                assert (await charger.call(boot())).status == "Accepted"

    run(scenario())


def test_a_bad_value_inside_a_valid_message_is_logged_and_the_rest_is_kept(tmp_path: Path) -> None:
    # The schema allows any text as a 1.6 meter value; a non-number is skipped with a log line and
    # the other values of the sample are kept; the charger gets its normal (empty) reply.
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with websockets.connect(f"{server.url}CP-16", subprotocols=["ocpp1.6"]) as ws:
                frame = [2, "m-1", "MeterValues", {"connectorId": 1, "meterValue": [{
                    "timestamp": "not a time", "sampledValue": [
                        {"value": "lots", "measurand": "Power.Active.Import", "unit": "W"},
                        {"value": "1234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}]
                reply = await _next_reply(ws, json.dumps(frame))
                assert reply == [3, "m-1", {}]
            sample = next(e for e in app.store.events() if type(e).__name__ == "MeterSample")
            assert (sample.energy_wh, sample.power_w, sample.t_s) == (1234.0, None, app.now_s())
            assert any("'lots' is not a number" in message for _, _, message in app.store.log_lines())

    run(scenario())
