"""The dashboard in a real headless browser, against a real ``feedertwin live`` process.

``feedertwin live`` runs as a subprocess with its API on a free port; a simulated 1.6 charger
(``tests.live.server_helpers.Charger16``) connects over OCPP. The page is loaded, a token typed
into it (it then reads the API and follows the stream with ``Authorization: Bearer``), and the
test checks that the site's chargers appear, that the power chart shows the stored ticks at once
and appends new ones from the stream, that a charger's state and power on the page change
when it starts a session and sends a meter value (pushed by the stream, the page is never
reloaded), and that the mode switch, once confirmed, switches the site to active.

Every wait is for a condition on the page, bounded by ``PAGE_WAIT_S`` (a failure, not a timing).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v16 import call as call16
from websockets.typing import Subprotocol

from tests.browser.conftest import browser_errors
from tests.live.server_helpers import Charger16, boot16, write_site

PAGE_WAIT_S = 20.0
STARTUP_LINES = 10  # feedertwin live prints a few lines before it serves; "api on URL" is among them


def feedertwin(*args: str) -> list[str]:
    """The command line of ``feedertwin ARGS`` in this environment."""
    return [sys.executable, "-m", "sim", *args]


ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def create_token(site: Path) -> str:
    """A control token made by ``feedertwin token create`` (its first output line)."""
    done = subprocess.run(feedertwin("token", "create", str(site), "--scope", "control", "--name", "browser-test"),
                          capture_output=True, text=True, check=True, timeout=60, env=ENV)
    return done.stdout.splitlines()[0].strip()


@pytest.fixture
def live_site(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """``feedertwin live`` (shadow mode) on free ports: yields the OCPP URL, the API URL and a token."""
    site = write_site(tmp_path)
    token = create_token(site)
    log = tmp_path / "live.log"
    with log.open("w") as stderr:  # the child keeps its own copy of the file
        process = subprocess.Popen(feedertwin("live", str(site), "--mode", "shadow", "--listen", "127.0.0.1:0",
                                              "--api", "127.0.0.1:0"),
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, env=ENV)
    assert process.stdout is not None
    urls: dict[str, str] = {}
    for _ in range(STARTUP_LINES):
        line = process.stdout.readline()
        for prefix in ("listening on ", "api on "):
            if line.startswith(prefix) and prefix not in urls:
                urls[prefix] = line.split()[2]  # "listening on ws://...", "api on http://..."
        if len(urls) == 2 or not line:
            break
    try:
        assert len(urls) == 2, f"feedertwin live did not start: {urls}\n{log.read_text()}"
        yield urls["listening on "], urls["api on "], token
    finally:
        process.terminate()
        process.wait(timeout=30)


def charger_cell(driver: Any, charger_id: str, field: str) -> str:
    """The text of one cell of a charger's row ('' while the row is not there)."""
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, f'tr[data-charger-id="{charger_id}"] td[data-field="{field}"]')
    return str(cells[0].text) if cells else ""


def chart_points(driver: Any) -> int:
    """How many ticks the power chart shows (its ``data-points``)."""
    from selenium.webdriver.common.by import By

    return int(driver.find_element(By.ID, "power-chart").get_attribute("data-points") or 0)


def test_dashboard_shows_the_chargers_and_follows_the_site_live(browser: Any,
                                                                live_site: tuple[str, str, str]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ocpp_url, api_url, token = live_site
    wait = WebDriverWait(browser, PAGE_WAIT_S)
    browser.get(api_url.rstrip("/") + "/")  # redirected to /dashboard
    assert browser.current_url.endswith("/dashboard")
    box = browser.find_element(By.ID, "token")
    box.send_keys(token)
    box.submit()

    def shown(driver: Any) -> bool:
        return (driver.find_element(By.ID, "live-status").text == "live"
                and charger_cell(driver, "CP-16", "charger") == "CP-16"
                and charger_cell(driver, "CP-201", "charger") == "CP-201")

    wait.until(shown)  # the site's chargers, read with the token; the stream is open
    wait.until(lambda d: chart_points(d) >= 1)  # the start-up tick, read from /api/v1/site/power on load
    assert charger_cell(browser, "CP-16", "online") == "no"
    assert charger_cell(browser, "CP-16", "power") == "0.0"
    assert browser.find_element(By.ID, "mode").text == "shadow"
    assert browser.find_element(By.ID, "feeder-none").is_displayed()  # the test site has no [grid]

    async def charge_and_watch() -> None:
        """A charger boots, starts a session, meters 7.2 kW; the page follows without a reload."""
        async with websockets.connect(f"{ocpp_url.rstrip('/')}/CP-16", subprotocols=[Subprotocol("ocpp1.6")]) as ws:
            cp = Charger16("CP-16", ws)
            serving = asyncio.create_task(cp.start())
            await cp.call(boot16())
            await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=0,
                                                            timestamp="2027-01-15T08:00:05Z"))
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[{
                "timestamp": "2027-01-15T08:01:00Z", "sampledValue": [
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "10.5", "measurand": "Current.Import", "phase": "L1", "unit": "A"}]}]))
            await asyncio.to_thread(wait.until, lambda d: (charger_cell(d, "CP-16", "power") == "7.2"
                                                           and charger_cell(d, "CP-16", "state") == "Charging"
                                                           and charger_cell(d, "CP-16", "online") == "yes"))
            assert charger_cell(browser, "CP-16", "session") == f"CP-16:{started.transaction_id}"
            assert browser.find_element(By.ID, "charging-kw").text == "7.2"
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)

    asyncio.run(asyncio.wait_for(charge_and_watch(), 3 * PAGE_WAIT_S))
    wait.until(lambda d: chart_points(d) >= 2)  # the session's re-plan tick, appended from the stream

    # the mode switch: a confirmation dialog, then PUT /api/v1/site/mode with the token
    browser.find_element(By.ID, "mode-switch").click()
    dialog = browser.find_element(By.ID, "mode-dialog")
    wait.until(lambda d: dialog.is_displayed())
    assert "ACTIVE" in browser.find_element(By.ID, "mode-question").text
    browser.find_element(By.ID, "mode-confirm").click()
    wait.until(lambda d: d.find_element(By.ID, "mode").text == "active")
    assert browser.find_element(By.ID, "mode-message").text == "switched to active"
    assert browser_errors(browser) == []  # no script error, nothing blocked (every file is served here)
