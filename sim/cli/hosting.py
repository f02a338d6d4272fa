"""``feedertwin hosting-capacity``: the largest EV count each strategy keeps the feeder within limits."""

from __future__ import annotations

import argparse

from sim import __version__
from sim.cli._common import add_cluster_options, add_overrides, int_at_least

CAPACITY_COLUMNS = ("strategy", "capacity_p10", "capacity_p50", "capacity_p90", "binding_limit", "binding_element",
                    "binding_seeds")


def add_parser(sub: argparse._SubParsersAction) -> None:
    hc = sub.add_parser("hosting-capacity",
                        help="largest EV count per strategy within the feeder's limits (search over the count, "
                             "P10/P50/P90 over seeds, binding limit and element)")
    hc.add_argument("scenario", help="scenario TOML file with one [[chargers]] placement rule: the EVs")
    hc.add_argument("--strategies", required=True, metavar="A,B,...",
                    help="comma-separated strategy names, e.g. uncontrolled,edf (the scenario's own strategy "
                         "keeps its parameters)")
    hc.add_argument("--seeds", metavar="N", type=int_at_least(1), default=3, help="seeds 0..N-1 (default 3)")
    hc.add_argument("--criteria", metavar="FILE",
                    help="criteria TOML file (default: voltage 0.90-1.10 pu, lines and transformer <= 100 %%)")
    hc.add_argument("--out", metavar="DIR", help="output directory (default: out/<scenario name>-hosting/)")
    hc.add_argument("--max-count", metavar="K", type=int_at_least(1),
                    help="largest EV count tried (default: one per load bus)")
    hc.add_argument("--ev-entry", metavar="N", type=int_at_least(0),
                    help="the [[chargers]] entry that is the EV population (default: the only placement rule)")
    add_cluster_options(hc)
    add_overrides(hc, "a key of the scenario")
    hc.add_argument("--quiet", action="store_true", help="no progress lines, only the result")
    hc.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.study import hosting_capacity

    print(f"feedertwin {__version__}: hosting capacity of {args.scenario}", flush=True)
    result = hosting_capacity(args.scenario, args.strategies, seeds=args.seeds, criteria=args.criteria, out=args.out,
                              overrides=args.overrides, max_count=args.max_count, ev_entry=args.ev_entry,
                              workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    print(f"  {result.n_runs} runs now, {result.n_reused} points reused; EV count at which the feeder stays "
          "within its limits, over the seeds:")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(result.capacity[list(CAPACITY_COLUMNS)].to_string(index=False))
    errors = result.by_seed[result.by_seed["error"] != ""]
    for row in errors.itertuples():
        print(f"  strategy {row.strategy}, seed {row.seed}: search stopped, a run failed: {row.error}")
    print(f"results: {result.out_dir.resolve()} (capacity.csv, points.parquet, hosting.json, feeder.json)")
    return 0
