"""The headless browser for tests/browser: Debian's ``chromium`` driven through its
``chromedriver`` by selenium (WebDriver, the standard way to drive a browser from a test).

``chromium_paths`` (session) runs ``setup_chromium.sh`` once per run: it installs ``chromium`` and
``chromium-driver`` with apt-get when they are missing (idempotent: nothing to do the second time).
The test skips, with the script's reason, only when installing is impossible here (not root, no
apt-get, or the package mirror unreachable); any other failure of the install is a test failure.
``browser`` gives a fresh headless Chrome for one test, closed afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SETUP_SCRIPT = Path(__file__).parent / "setup_chromium.sh"
CANNOT_INSTALL = 3  # setup_chromium.sh: not root, or no apt-get
OFFLINE = ("Could not resolve", "Temporary failure resolving", "Could not connect", "Network is unreachable",
           "Connection timed out")  # apt-get's words for a mirror it cannot reach
APT_TIMEOUT_S = 900  # the first install downloads about 100 MB


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    """The paths of ``chromium`` and ``chromedriver``, installed first when missing."""
    done = subprocess.run(["sh", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=APT_TIMEOUT_S)
    if done.returncode == CANNOT_INSTALL:
        pytest.skip(f"no headless chromium: {done.stderr.strip()}")
    if done.returncode != 0:
        if any(reason in done.stderr for reason in OFFLINE):
            pytest.skip(f"no headless chromium: Debian's package mirror is unreachable ({done.stderr.strip()[-300:]})")
        pytest.fail(f"setup_chromium.sh failed with status {done.returncode}:\n{done.stdout}\n{done.stderr}")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "setup_chromium.sh succeeded but chromium or chromedriver is not on PATH"
    return chromium, driver


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
