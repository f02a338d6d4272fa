"""``feedertwin sweep``: a study file's runs on Dask, one Parquet row of KPIs per run, resumable."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sim import __version__
from sim.cli._common import add_cluster_options, add_overrides, int_at_least

if TYPE_CHECKING:
    import pandas as pd

SWEEP_TABLE_MAX_VARIANTS = 30
SWEEP_TABLE_KPIS = ("energy_unmet_kwh", "peak_charging_kw", "vm_min_pu", "max_line_loading_percent",
                    "max_trafo_loading_percent")


def add_parser(sub: argparse._SubParsersAction) -> None:
    swp = sub.add_parser("sweep", help="run a study's runs on Dask: one Parquet row of KPIs per run, resumable")
    swp.add_argument("study", help="study TOML file (a [study] table naming a base scenario; see docs/studies.md)")
    swp.add_argument("--out", metavar="DIR", help="output directory (default: out/<study name>-sweep/)")
    add_cluster_options(swp)
    swp.add_argument("--max-runs", metavar="K", type=int_at_least(0),
                     help="run at most K of the missing runs, then stop (the next call continues)")
    swp.add_argument("--retry-failed", action="store_true",
                     help="run the failed runs again (by default a failed run counts as finished)")
    add_overrides(swp, "a key of the base scenario")
    swp.add_argument("--quiet", action="store_true", help="no progress line, only the summary")
    swp.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
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
