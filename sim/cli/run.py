"""``feedertwin run``: simulate one scenario, write its results and report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sim import __version__
from sim.cli._common import add_overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="simulate a scenario and write its results and report")
    run.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    run.add_argument("--out", metavar="DIR", help="output directory (default: out/<scenario name>/)")
    add_overrides(run)
    run.add_argument("--no-report", action="store_true", help="write data files only, no report.html")
    run.add_argument("--quiet", action="store_true", help="no progress bar, only the result paths")
    run.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.engine import Simulation
    from sim.progress import ProgressBar
    from sim.scenario import default_scenario_path, load_scenario

    path = Path(args.scenario) if args.scenario else default_scenario_path()
    scenario = load_scenario(path, args.overrides)
    out_dir = Path(args.out) if args.out else Path("out") / scenario.name
    if not args.quiet:
        print(f"feedertwin {__version__}: scenario '{scenario.name}' ({path})", flush=True)
    started = time.perf_counter()
    simulation = Simulation.from_scenario(scenario)
    setup = simulation.setup
    if not args.quiet:
        print(f"  {len(setup.chargers)} chargers, {len(setup.sessions.sessions)} sessions, "
              f"{simulation.n_steps} control ticks of {simulation.period_s:g} s "
              f"(built in {time.perf_counter() - started:.1f} s)", flush=True)
    progress = None if args.quiet else ProgressBar(scenario.simulation.duration_s)
    results = simulation.run(progress)
    results.save(out_dir)
    report = None
    if not args.no_report:
        from sim.report import write_report  # matplotlib and the HTML report: only when asked for

        report = write_report(results, out_dir / "report.html")
    kpis = results.summary["kpis"]
    print(f"  energy delivered {kpis['energy_delivered_kwh']:.1f} of {kpis['energy_requested_kwh']:.1f} kWh, "
          f"peak charging {kpis['peak_charging_kw']:.1f} kW, min voltage {kpis['vm_min_pu']:.3f} pu, "
          f"max line loading {kpis['max_line_loading_percent']:.1f} %")
    print(f"results: {out_dir.resolve()}")
    if report is not None:
        print(f"report:  {Path(report).resolve()}")
    return 0
