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


def positive_number(what: str = "a number") -> Callable[[str], float]:
    """An argparse ``type`` that accepts numbers > 0, naming ``what`` in its message otherwise."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} > 0; got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected {what} > 0; got {value:g}")
        return value

    return parse


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` / ``--scheduler tcp://HOST:PORT`` of the commands that run on Dask."""
    parser.add_argument("--workers", metavar="N", type=int_at_least(1),
                        help="worker processes of the local Dask cluster (default: one per core)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="submit to an existing Dask cluster (dask scheduler / dask worker) instead")


def add_overrides(parser: argparse.ArgumentParser, what: str = "a scenario key") -> None:
    """The repeatable ``--set KEY=VALUE`` option of the commands that read a scenario."""
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                        help=f"override {what}, e.g. --set simulation.duration=2d (repeatable)")
