"""The command line (the composition root: wires rooms together).

One module per command, each with ``add_parser(sub)`` that registers its arguments and its
``command(args) -> int``. To add a command, write its module and add it to ``COMMANDS``.

Every error a user can cause (a bad scenario file, bad session data, a failed load flow, a bad
strategy) is printed as one clear message and exits with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim import __version__
from sim.cli import (
    chargers,
    compare,
    export,
    hash_password,
    hosting,
    live,
    replay,
    report,
    run,
    sweep,
    token,
    validate,
)
from sim.cli._common import EXIT_USER_ERROR
from sim.errors import FeedertwinError

COMMANDS = (run, compare, validate, sweep, hosting, report, live, chargers, export, replay, hash_password, token)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedertwin",
        description="A digital twin of a distribution feeder with EV charging.",
    )
    parser.add_argument("--version", action="version", version=f"feedertwin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FeedertwinError as error:
        print(f"feedertwin: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("feedertwin: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
