"""``feedertwin export``: a live store's sessions and meter values as Parquet (``sim.live.export``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write a live store's sessions and meter values as Parquet")
    export.add_argument("store", metavar="STORE", help="the SQLite store of a live site")
    export.add_argument("--out", metavar="DIR", required=True, help="output directory")
    export.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.live.export import export_store

    exported = export_store(args.store, args.out)
    print(f"{exported.n_sessions} sessions:     {Path(exported.sessions_path).resolve()}")
    print(f"{exported.n_meter_values} meter values: {Path(exported.meter_values_path).resolve()}")
    return 0
