"""Commands a test needs from the system (a browser, Node.js, openssl), installed when missing.

``ensure_commands`` runs ``tests/apt_install.sh`` once per set of commands: it installs the Debian
packages with apt-get when a command is missing, and does nothing the second time. The test skips,
with the reason, only where installing is impossible (not root, no apt-get, the package mirror
unreachable); any other failure of the install is a test failure with apt-get's output.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "apt_install.sh"
CANNOT_INSTALL = 3  # apt_install.sh: not root, or no apt-get
OFFLINE = ("Could not resolve", "Temporary failure resolving", "Could not connect", "Network is unreachable",
           "Connection timed out")  # apt-get's words for a mirror it cannot reach
APT_TIMEOUT_S = 900  # chromium is about 100 MB the first time


@cache
def _install(commands: tuple[str, ...], packages: tuple[str, ...]) -> tuple[int, str, str]:
    done = subprocess.run(["sh", str(SCRIPT), " ".join(commands), *packages], capture_output=True, text=True,
                          timeout=APT_TIMEOUT_S)
    return done.returncode, done.stdout, done.stderr


def ensure_commands(commands: tuple[str, ...], packages: tuple[str, ...], what: str) -> dict[str, str]:
    """The paths of ``commands``, installing ``packages`` first when one is missing; ``what`` names
    the tests that need them in a skip or failure message."""
    status, stdout, stderr = _install(commands, packages)
    if status == CANNOT_INSTALL:
        pytest.skip(f"{what}: {stderr.strip()}")
    if status != 0:
        if any(reason in stderr for reason in OFFLINE):
            pytest.skip(f"{what}: Debian's package mirror is unreachable ({stderr.strip()[-300:]})")
        pytest.fail(f"installing {' '.join(packages)} for {what} failed with status {status}:\n{stdout}\n{stderr}")
    paths = {command: shutil.which(command) for command in commands}
    missing = [command for command, path in paths.items() if path is None]
    assert not missing, f"apt_install.sh succeeded but {missing} is not on PATH"
    return {command: str(path) for command, path in paths.items()}
