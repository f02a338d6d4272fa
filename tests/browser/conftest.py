"""The headless browser for tests/browser: Debian's ``chromium`` driven through its
``chromedriver`` by selenium (WebDriver, the standard way to drive a browser from a test).

``chromium_paths`` (session) installs ``chromium`` and ``chromium-driver`` with apt-get when they are
missing (``tests.system_packages.ensure_commands``: skips only where installing is impossible).
``browser`` gives a fresh headless Chrome for one test, closed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system_packages import ensure_commands


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    """The paths of ``chromium`` and ``chromedriver``, installed first when missing."""
    paths = ensure_commands(("chromium", "chromedriver"), ("chromium", "chromium-driver"), "no headless chromium")
    return paths["chromium"], paths["chromedriver"]


@pytest.fixture
def browser(chromium_paths: tuple[str, str], tmp_path: Path) -> Iterator[object]:
    """A headless chromium under selenium (its own profile directory; no sandbox: tests run as root)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for browser_errors
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=chromium_paths[1]))
    try:
        yield driver
    finally:
        driver.quit()


def browser_errors(driver: object) -> list[str]:
    """The page's console errors so far (a script error, a resource the Content-Security-Policy
    blocked), except the 401 answers a page gets before its token is entered."""
    entries = driver.get_log("browser")  # type: ignore[attr-defined]
    return [e["message"] for e in entries if e["level"] == "SEVERE" and "status of 401" not in e["message"]]
