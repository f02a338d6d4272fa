"""The command line: ``feedertwin run | compare | validate | sweep`` (the composition root: wires rooms together).

Every error a user can cause (a bad scenario file, bad session data, a failed load flow, a bad
strategy) is printed as one clear message and exits with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim import __version__
from sim.errors import FeedertwinError, StrategyError

if TYPE_CHECKING:
    import pandas as pd

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedertwin",
        description="A digital twin of a distribution feeder with EV charging.",
    )
    parser.add_argument("--version", action="version", version=f"feedertwin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="simulate a scenario and write its results and report")
    run.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    run.add_argument("--out", metavar="DIR", help="output directory (default: out/<scenario name>/)")
    run.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                     help="override a scenario key, e.g. --set simulation.duration=2d (repeatable)")
    run.add_argument("--no-report", action="store_true", help="write data files only, no report.html")
    run.add_argument("--quiet", action="store_true", help="no progress bar, only the result paths")

    cmp_ = sub.add_parser("compare", help="run several strategies on identical sessions and feeder")
    cmp_.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    cmp_.add_argument("--strategies", required=True, metavar="A,B,...",
                      help="comma-separated strategy names, e.g. uncontrolled,equal_share,edf")
    cmp_.add_argument("--param", metavar="NAME.KEY=VALUE", action="append", default=[], dest="params",
                      help="a strategy parameter, e.g. --param peak_shaving.target_kw=80 (repeatable)")
    cmp_.add_argument("--out", metavar="DIR", help="output directory (default: out/<scenario name>-compare/)")
    cmp_.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides")

    val = sub.add_parser("validate", help="check scenario and study files without running them")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides")

    swp = sub.add_parser("sweep", help="run a study's runs on Dask: one Parquet row of KPIs per run, resumable")
    swp.add_argument("study", help="study TOML file (a [study] table naming a base scenario; see docs/studies.md)")
    swp.add_argument("--out", metavar="DIR", help="output directory (default: out/<study name>-sweep/)")
    swp.add_argument("--workers", metavar="N", type=_int_at_least(1),
                     help="worker processes of the local Dask cluster (default: one per core)")
    swp.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                     help="submit to an existing Dask cluster (dask scheduler / dask worker) instead")
    swp.add_argument("--max-runs", metavar="K", type=_int_at_least(0),
                     help="run at most K of the missing runs, then stop (the next call continues)")
    swp.add_argument("--retry-failed", action="store_true",
                     help="run the failed runs again (by default a failed run counts as finished)")
    swp.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                     help="override a key of the base scenario, e.g. --set simulation.duration=1d")
    swp.add_argument("--quiet", action="store_true", help="no progress line, only the summary")
    return parser


def _int_at_least(lowest: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}; got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}; got {value}")
        return value

    return parse


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.engine import Simulation
    from sim.progress import ProgressBar
    from sim.report import write_report
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
    report = None if args.no_report else write_report(results, out_dir / "report.html")
    kpis = results.summary["kpis"]
    print(f"  energy delivered {kpis['energy_delivered_kwh']:.1f} of {kpis['energy_requested_kwh']:.1f} kWh, "
          f"peak charging {kpis['peak_charging_kw']:.1f} kW, min voltage {kpis['vm_min_pu']:.3f} pu, "
          f"max line loading {kpis['max_line_loading_percent']:.1f} %")
    print(f"results: {out_dir.resolve()}")
    if report is not None:
        print(f"report:  {Path(report).resolve()}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.report.compare import save_comparison_figure
    from sim.scenario import default_scenario_path, load_scenario
    from sim.strategies import available
    from sim.study import compare

    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    known = available()
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise StrategyError(f"--strategies: unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; "
                            f"available: {', '.join(sorted(known))}")
    params = _strategy_params(args.params, names)
    path = Path(args.scenario) if args.scenario else default_scenario_path()
    scenario = load_scenario(path, args.overrides)
    out_dir = Path(args.out) if args.out else Path("out") / f"{scenario.name}-compare"
    print(f"feedertwin {__version__}: comparing {', '.join(names)} on '{scenario.name}'", flush=True)
    result = compare(scenario, names, params=params,
                     on_start=lambda name: print(f"  running {name} ...", flush=True))
    result.save(out_dir)
    figure = save_comparison_figure(result.table, out_dir / "comparison.png")
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(result.table.round(3).to_string())
    print(f"table:   {(out_dir / 'comparison.csv').resolve()}")
    print(f"figure:  {figure.resolve()}")
    return 0


def _strategy_params(items: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, object]]:
    """``["peak_shaving.target_kw=80"]`` -> ``{"peak_shaving": {"target_kw": 80.0}}`` (TOML values)."""
    import tomllib

    params: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        name, dot, param = key.strip().partition(".")
        if not sep or not dot or not param or name not in names:
            raise StrategyError(f"--param {item!r}: expected NAME.KEY=VALUE with NAME one of the compared "
                                f"strategies ({', '.join(names)}), e.g. --param peak_shaving.target_kw=80")
        try:
            value: object = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        params.setdefault(name, {})[param] = value
    return params


def _cmd_validate(args: argparse.Namespace) -> int:
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


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.study import load_study, sweep

    study = load_study(args.study, args.overrides)
    print(f"feedertwin {__version__}: sweep of study '{study.name}' ({args.study})", flush=True)
    result = sweep(study, out=args.out, workers=args.workers, scheduler=args.scheduler, max_runs=args.max_runs,
                   retry_failed=args.retry_failed, progress=not args.quiet)
    print(f"  {result.n_done} runs done now ({result.n_failed} failed), {result.n_skipped} skipped "
          f"(finished before), {result.n_left} left")
    table = result.table
    if len(table) and len(study.variants) <= SWEEP_TABLE_MAX_VARIANTS:
        _print_sweep_table(table, list(study.param_keys))
    failed = table[table["status"] == "failed"] if len(table) else table
    if len(failed):
        print(f"  {len(failed)} failed runs, e.g. seed {failed['seed'].iloc[0]} of variant "
              f"{failed['variant'].iloc[0]}: {failed['error'].iloc[0]}")
    if result.n_left:
        print("  run the same command again to continue")
    print(f"dataset: {(result.out_dir / 'kpis').resolve()} ({len(table)} rows; read with sim.load_sweep or "
          "pandas.read_parquet)")
    return 0


SWEEP_TABLE_MAX_VARIANTS = 30
SWEEP_TABLE_KPIS = ("energy_unmet_kwh", "peak_charging_kw", "vm_min_pu", "max_line_loading_percent",
                    "max_trafo_loading_percent")


def _print_sweep_table(table: pd.DataFrame, param_keys: list[str]) -> None:
    """The mean of a few KPIs over the seeds of each variant (the successful runs)."""
    import pandas as pd

    ok = table[table["status"] == "ok"]
    if not len(ok):
        return
    columns = [key for key in param_keys if ok[key].nunique() > 1] or ["variant"]  # the keys that vary
    means = ok.groupby(columns, sort=False)[list(SWEEP_TABLE_KPIS)].mean()
    means.insert(0, "runs", ok.groupby(columns, sort=False).size())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("  mean over seeds:")
        print(means.round(3).to_string())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"run": _cmd_run, "compare": _cmd_compare, "validate": _cmd_validate, "sweep": _cmd_sweep}
    try:
        return commands[args.command](args)
    except FeedertwinError as error:
        print(f"feedertwin: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("feedertwin: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
