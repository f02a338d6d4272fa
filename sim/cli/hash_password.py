"""``feedertwin hash-password``: the ``password_hash`` line of a charger in a live site file.

The password is read from standard input when it is not a terminal (``printf %s "$PW" |
feedertwin hash-password``; one trailing newline is dropped), else from a prompt asked twice. It is
never an argument: command lines are visible to every user of the machine (``ps``) and kept in shell
histories. Prints ``password_hash = "scrypt$..."`` to paste into the charger's ``[[chargers]]``
entry (``sim.live.security``, docs/live_security.md).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sim.errors import FeedertwinError

OCPP_MIN_PASSWORD_CHARS = 16
OCPP_MAX_PASSWORD_CHARS = 40
"""OCPP 2.0.1's BasicAuthPassword is 16 to 40 characters (1.6's security whitepaper asks the same)."""


class PasswordInputError(FeedertwinError):
    """The password could not be read, was empty, or the two prompts differed."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hash-password", help="hash a charger's basic-auth password for the live site file",
                       description="Reads the password from standard input (or a prompt, twice) and prints the "
                                   "password_hash line for the charger's [[chargers]] entry (OCPP security "
                                   "profiles 1 and 2). The password is never taken from the command line.")
    p.set_defaults(func=command)


def read_password() -> str:
    """The password from standard input (one trailing newline dropped), or from a prompt asked twice."""
    if not sys.stdin.isatty():
        password = sys.stdin.read()
        password = password[:-1] if password.endswith("\n") else password
        password = password[:-1] if password.endswith("\r") else password
    else:
        password = getpass.getpass("charger password: ")
        if getpass.getpass("again: ") != password:
            raise PasswordInputError("the two passwords differ; nothing was hashed")
    if not password:
        raise PasswordInputError("the password is empty; give it on standard input or at the prompt")
    if "\n" in password:
        raise PasswordInputError("the password spans several lines; give one line on standard input")
    return password


def command(args: argparse.Namespace) -> int:
    from sim.live.security import hash_password

    password = read_password()
    if not OCPP_MIN_PASSWORD_CHARS <= len(password) <= OCPP_MAX_PASSWORD_CHARS:
        print(f"feedertwin: warning: the password has {len(password)} characters; OCPP asks for "
              f"{OCPP_MIN_PASSWORD_CHARS} to {OCPP_MAX_PASSWORD_CHARS}", file=sys.stderr)
    print(f'password_hash = "{hash_password(password)}"')
    return 0
