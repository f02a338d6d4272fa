"""What every command module shares: the exit status for user errors and argument parsers."""

from __future__ import annotations

import argparse
from collections.abc import Callable

EXIT_USER_ERROR = 2


def int_at_least(lowest: int) -> Callable[[str], int]:
    """An argparse ``type`` that accepts integers >= ``lowest`` with a clear message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}; got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}; got {value}")
        return value

    return parse


def add_overrides(parser: argparse.ArgumentParser, what: str = "a scenario key") -> None:
    """The repeatable ``--set KEY=VALUE`` option of the commands that read a scenario."""
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                        help=f"override {what}, e.g. --set simulation.duration=2d (repeatable)")
