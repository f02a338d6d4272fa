"""The charger identity read from the websocket request path (OCPP-J: the last path segment)."""

import pytest

from sim.live.server import identity_of


@pytest.mark.parametrize(("path", "expected"), [
    ("/CP-1", "CP-1"),
    ("//CP-1", "CP-1"),            # ocpp-rpc with an endpoint ending in "/"
    ("/ocpp/CP-1", "CP-1"),
    ("/ocpp//CP-1/", "CP-1"),
    ("/ocpp/CP%201?token=x", "CP 1"),
    ("/", ""),
    ("", ""),
])
def test_identity_is_last_path_segment(path: str, expected: str) -> None:
    assert identity_of(path) == expected
