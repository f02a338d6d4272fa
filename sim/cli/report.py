"""``feedertwin report DIR``: the self-contained HTML report of a sweep, hosting-capacity or run directory."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    rep = sub.add_parser("report", help="render the HTML report of a sweep, hosting-capacity or run output directory")
    rep.add_argument("dir", metavar="DIR",
                     help="output directory of feedertwin sweep, hosting-capacity or run")
    rep.add_argument("--out", metavar="FILE", help="where to write the report (default: DIR/report.html)")
    rep.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.report.directory import report_kind, write_dir_report

    kind = report_kind(args.dir)
    print(f"rendering the {kind} report of {args.dir} ...", flush=True)
    path = write_dir_report(args.dir, args.out)
    print(f"report:  {Path(path).resolve()}")
    return 0
