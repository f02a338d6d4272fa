"""What the server tests share: a site file, a running server in the test's event loop, and test
chargers written with the ocpp library's client side (1.6 and 2.0.1) over real websockets.

Nothing here waits for a fixed time: ``until`` polls a condition the server reaches by itself
(e.g. the capability read after a boot), bounded only by ``run``'s overall safety timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from sim.live.app import LiveApp
from sim.live.server import LiveServer
from sim.live.site_file import load_site
from sim.live.store import LiveStore

T0_S = 1_800_000_000.0  # 2027-01-15 08:00 UTC: the test clock's start
SAFETY_TIMEOUT_S = 60.0

SITE_TOML = """
name = "test-site"
store = "store.sqlite"
accept_unknown_chargers = {accept_unknown}

[control]
period_s = 30
deadband_a = 1.0
min_send_interval_s = 0
safe_limit_a = 6

[site]
import_limit_kw = 22

[[chargers]]
id = "CP-16"
bus = 1
phases = 3
max_current_a = 16

[[chargers]]
id = "CP-201"
bus = 1
phases = 3
max_current_a = 16

[strategy]
name = "equal_share"
"""


def write_site(directory: Path, accept_unknown: bool = False) -> Path:
    path = directory / "site.toml"
    path.write_text(SITE_TOML.format(accept_unknown=str(accept_unknown).lower()))
    return path


class Clock:
    """A test clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, t_s: float = T0_S) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a test coroutine; the timeout only stops a hung test, it measures nothing."""
    return asyncio.run(asyncio.wait_for(coroutine, SAFETY_TIMEOUT_S))


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (something the server does on its own, as a task)."""
    while not condition():
        await asyncio.sleep(0.005)


@asynccontextmanager
async def live_server(site_path: Path, mode: str = "shadow", *, clock: Clock | None = None,
                      call_timeout_s: float = 5.0) -> AsyncIterator[tuple[LiveApp, LiveServer]]:
    """A ``LiveApp`` and its server on 127.0.0.1 (a free port), closed afterwards."""
    site = load_site(site_path)
    store = LiveStore(site.store_path)
    app = LiveApp(site, mode, store, clock=clock or Clock(), call_timeout_s=call_timeout_s)
    server = LiveServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield app, server
    finally:
        await server.close()
        await app.close()
        store.close()


# -- test chargers ---------------------------------------------------------------------------------

class Charger16(ChargePoint16):
    """A 1.6 charger that answers GetConfiguration and SetChargingProfile and remembers the calls."""

    configuration = {"SupportedFeatureProfiles": "Core,SmartCharging", "ChargingScheduleAllowedChargingRateUnit": "Current",
                     "ChargeProfileMaxStackLevel": "3", "ChargingScheduleMaxPeriods": "24", "NumberOfConnectors": "1"}
    profile_status = "Accepted"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        self.received.append(("GetConfiguration", {"key": key}))
        known = [{"key": k, "readonly": True, "value": v} for k, v in self.configuration.items() if key is None or k in key]
        unknown = [k for k in key or [] if k not in self.configuration]
        return result16.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any) -> Any:
        self.received.append(("SetChargingProfile", {"connector_id": connector_id, "profile": cs_charging_profiles}))
        return result16.SetChargingProfile(status=self.profile_status)

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **payload: Any) -> Any:
        self.received.append(("ClearChargingProfile", payload))
        return result16.ClearChargingProfile(status="Accepted")

    def actions(self) -> list[str]:
        return [action for action, _ in self.received]


class Charger201(ChargePoint201):
    """A 2.0.1 station that answers GetVariables and SetChargingProfile and remembers the calls."""

    variables = {"Available": "true", "Enabled": "true", "RateUnit": "A,W", "ProfileStackLevel": "5",
                 "PeriodsPerSchedule": "12"}
    profile_status = "Accepted"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self.received.append(("GetVariables", {"data": get_variable_data}))
        results = []
        for item in get_variable_data:
            name = item["variable"]["name"]
            value = self.variables.get(name)
            results.append({"attribute_status": "Accepted" if value is not None else "UnknownVariable",
                            "component": item["component"], "variable": item["variable"],
                            **({"attribute_value": value} if value is not None else {})})
        return result201.GetVariables(get_variable_result=results)

    @on("SetChargingProfile")
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any) -> Any:
        self.received.append(("SetChargingProfile", {"evse_id": evse_id, "profile": charging_profile}))
        return result201.SetChargingProfile(status=self.profile_status)

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **payload: Any) -> Any:
        self.received.append(("ClearChargingProfile", payload))
        return result201.ClearChargingProfile(status="Accepted")

    def actions(self) -> list[str]:
        return [action for action, _ in self.received]


@asynccontextmanager
async def connected(server: LiveServer, identity: str, cls: type[Any],
                    subprotocols: tuple[str, ...] | None = None, path: str = "") -> AsyncIterator[Any]:
    """A test charger of class ``cls`` connected and serving (answering the server's calls)."""
    if subprotocols is None:
        subprotocols = ("ocpp2.0.1",) if issubclass(cls, ChargePoint201) else ("ocpp1.6",)
    ws = await websockets.connect(f"{server.url}{path}{identity}", subprotocols=list(subprotocols) or None)
    charger = cls(identity, ws)
    serving = asyncio.create_task(charger.start())
    try:
        yield charger
    finally:
        serving.cancel()
        await ws.close()
        await asyncio.gather(serving, return_exceptions=True)


def boot16() -> Any:
    return call16.BootNotification(charge_point_vendor="TestVendor", charge_point_model="T16",
                                   firmware_version="1.2.3", charge_point_serial_number="SN16")


def boot201() -> Any:
    return call201.BootNotification(charging_station={"model": "T201", "vendor_name": "TestVendor",
                                                      "firmware_version": "2.0.0", "serial_number": "SN201"},
                                    reason="PowerUp")
