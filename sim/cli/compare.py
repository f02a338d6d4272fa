"""``feedertwin compare``: several strategies on identical sessions and feeder."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from sim import __version__
from sim.cli._common import add_overrides
from sim.errors import StrategyError


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmp_ = sub.add_parser("compare", help="run several strategies on identical sessions and feeder")
    cmp_.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    cmp_.add_argument("--strategies", required=True, metavar="A,B,...",
                      help="comma-separated strategy names, e.g. uncontrolled,equal_share,edf")
    cmp_.add_argument("--param", metavar="NAME.KEY=VALUE", action="append", default=[], dest="params",
                      help="a strategy parameter, e.g. --param peak_shaving.target_kw=80 (repeatable)")
    cmp_.add_argument("--out", metavar="DIR", help="output directory (default: out/<scenario name>-compare/)")
    add_overrides(cmp_)
    cmp_.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.report.compare import save_comparison_figure
    from sim.scenario import default_scenario_path, load_scenario
    from sim.study import compare

    names = strategy_names(args.strategies)
    params = strategy_params(args.params, names)
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


def strategy_names(text: str, option: str = "--strategies") -> list[str]:
    """``"edf, llf"`` -> ``["edf", "llf"]``, every name a registered strategy (else a StrategyError)."""
    from sim.strategies import available

    names = [n.strip() for n in text.split(",") if n.strip()]
    known = available()
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise StrategyError(f"{option}: unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; "
                            f"available: {', '.join(sorted(known))}")
    return names


def strategy_params(items: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, object]]:
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
