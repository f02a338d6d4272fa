#!/bin/sh
# Installs Debian's headless browser and its WebDriver for tests/browser (idempotent).
#
# Does nothing when `chromium` and `chromedriver` are already on PATH. Otherwise it needs root and
# Debian's package mirror: `apt-get install chromium chromium-driver` (about 100 MB the first time).
# Exit status: 0 installed (or already there); 3 cannot install here (not root, no apt-get) with the
# reason on stderr; anything else: apt-get failed (its output says why).
set -eu

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get on this machine: install chromium and its chromedriver by hand" >&2
    exit 3
fi
if [ "$(id -u)" != 0 ]; then
    echo "chromium and chromium-driver are not installed and installing them needs root" \
         "(run: sudo apt-get install -y chromium chromium-driver)" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
# -o DPkg::Lock::Timeout: wait (up to 2 minutes) for another apt-get or dpkg rather than fail at once.
install() {
    apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends chromium chromium-driver >/dev/null
}
# Refresh the package lists first only when they are missing (a fresh container has none), and
# again when the install fails (stale lists name a chromium the mirror has replaced).
if ! apt-cache show chromium-driver >/dev/null 2>&1; then
    apt-get update -qq -o DPkg::Lock::Timeout=120
fi
if ! install; then
    apt-get update -qq -o DPkg::Lock::Timeout=120
    install
fi
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
