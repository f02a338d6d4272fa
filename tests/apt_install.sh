#!/bin/sh
# Installs the Debian packages a test needs, when the commands it runs are missing (idempotent).
#
#     sh tests/apt_install.sh "COMMAND ..." PACKAGE ...
#
# Does nothing when every COMMAND is already on PATH. Otherwise it needs root and Debian's package
# mirror: `apt-get install PACKAGE ...`. Used for chromium + chromium-driver (tests/browser),
# nodejs + npm (the ocpp-rpc peers, tests/live) and openssl (the test CA, tests/live/test_security.py),
# so a fresh machine with only Python, gcc and make runs the whole suite.
# Exit status: 0 installed (or already there); 3 cannot install here (not root, no apt-get) with the
# reason on stderr; anything else: apt-get failed (its output says why).
set -eu

commands=$1
shift
all_there() {
    for command in $commands; do
        command -v "$command" >/dev/null 2>&1 || return 1
    done
}
if all_there; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get on this machine: install $* by hand (for: $commands)" >&2
    exit 3
fi
if [ "$(id -u)" != 0 ]; then
    echo "$commands not installed and installing them needs root (run: sudo apt-get install -y $*)" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
# -o DPkg::Lock::Timeout: wait (up to 2 minutes) for another apt-get or dpkg rather than fail at once.
install() {
    apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends "$@" >/dev/null
}
# Refresh the package lists first only when they are missing (a fresh container has none), and
# again when the install fails (stale lists name a version the mirror has replaced).
if ! apt-cache show "$1" >/dev/null 2>&1; then
    apt-get update -qq -o DPkg::Lock::Timeout=120
fi
if ! install "$@"; then
    apt-get update -qq -o DPkg::Lock::Timeout=120
    install "$@"
fi
all_there
