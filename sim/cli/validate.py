"""``feedertwin validate``: check scenario and study files without running them."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli._common import add_overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    val = sub.add_parser("validate", help="check scenario and study files without running them")
    val.add_argument("files", nargs="+", metavar="FILE")
    add_overrides(val)
    val.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario
    from sim.scenario.load import read_toml

    # Parse every file first: that needs no pandapower, so syntax errors come back fast.
    # A file with a top-level [study] table is a study: every variant of it is checked too.
    studies = {file for file in args.files if isinstance(read_toml(Path(file)).get("study"), dict)}
    if studies:
        from sim.study import load_study
    parsed = [(file, load_study(file, args.overrides) if file in studies else load_scenario(file, args.overrides))
              for file in args.files]
    from sim.engine import build_setup

    for file, item in parsed:
        if file in studies:
            study = item
            setup = build_setup(study.base)
            repeated = f" ({study.n_repeated} repeated variants dropped)" if study.n_repeated else ""
            print(f"{file}: OK: study '{study.name}', {len(study.variants)} variants{repeated} x "
                  f"{len(study.seeds)} seeds = {study.n_runs} runs; base '{study.base.name}': "
                  f"{len(setup.chargers)} chargers, {len(setup.feeder.bus_ids)} buses")
            continue
        scenario = item
        setup = build_setup(scenario)
        print(f"{file}: OK: '{scenario.name}', {len(setup.chargers)} chargers, "
              f"{len(setup.sessions.sessions)} sessions, {len(setup.tick_s)} control ticks, "
              f"{len(setup.feeder.bus_ids)} buses")
    return 0
