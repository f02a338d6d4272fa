"""Issue 5: a sweep of year-long runs of a realistic LV feeder on 1 and on 2 Dask workers.

The study: ``scenarios/ieee_eu_lv_grid_aware.toml`` (the IEEE European LV feeder, 907 buses, a 22 kW
home charger at each of its 55 households, a year at 15-minute ticks, 35,040 AC load flows per run)
under ``edf``, with 20 % ... 100 % of the households charging (``chargers.0.share``) x N seeds: by
default 5 x 8 = 40 runs. The same study runs on a local cluster of 1 worker process and of 2 (each a
single thread, BLAS pinned to one thread), each cluster started and warmed up (imports, first run
set-up) before the clock starts. Printed: runs per minute, the speed-up of 2 workers over 1 (target
at least 1.8x on 2 cores), the mean time of one run on its worker (a run slower on 2 workers than on
1 means the two processes compete for memory bandwidth or another process's load) and how busy the
workers were (below 100 %: waiting for the last runs), the peak memory (RSS) of each worker process,
and whether both sweeps gave identical KPIs.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--seeds 8] [--duration 365d] [--workers 1,2]``
(fewer seeds or a shorter duration for a quick look; the default is the issue's measurement).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import pandas as pd  # noqa: E402

from sim.results import KPI_KEYS  # noqa: E402
from sim.study import dask_client, load_study, sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "ieee_eu_lv_grid_aware.toml"
SHARES = (0.2, 0.4, 0.6, 0.8, 1.0)
TARGET_SPEED_UP = 1.8


def _study_file(folder: Path, n_seeds: int, duration: str) -> Path:
    path = folder / "bench_sweep.toml"
    path.write_text(
        f'[study]\nname = "bench-sweep"\nbase = "{BASE.as_posix()}"\nseeds = {n_seeds}\n\n'
        f'[grid]\n"simulation.duration" = ["{duration}"]\n"chargers.0.share" = {list(SHARES)}\n'
        'strategy = [{ name = "edf" }]\n',
        encoding="utf-8",
    )
    return path


def _peak_rss_mb() -> float:
    """This process's peak resident memory (run inside each worker)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _warm_up() -> float:
    """One day of the base scenario in the worker: the imports and the once-per-process set-up (the
    feeder is built once per process) are paid before the clock starts, as in a long sweep."""
    started = time.perf_counter()
    from sim.engine import simulate

    simulate(BASE, overrides=["simulation.duration=1d"])
    return time.perf_counter() - started


def _measure(study_path: Path, n_workers: int, out_dir: Path) -> tuple[float, pd.DataFrame, list[float]]:
    study = load_study(study_path)
    t0 = time.perf_counter()
    with dask_client(workers=n_workers) as client:
        client.run(_warm_up)
        ready_s = time.perf_counter() - t0
        started = time.perf_counter()
        result = sweep(study, out=out_dir, client=client, progress=False)
        elapsed_s = time.perf_counter() - started
        peaks_mb = sorted(client.run(_peak_rss_mb).values())
    table = result.table
    failed = int((table["status"] != "ok").sum())
    rate = 60.0 * result.n_done / elapsed_s
    run_s = table["wall_time_s"]
    busy = run_s.sum() / (n_workers * elapsed_s)  # the share of the workers' time spent in runs
    print(f"{n_workers} worker{'s' if n_workers > 1 else ' '}: {result.n_done} runs in {elapsed_s:6.1f} s "
          f"= {rate:5.2f} runs/min ({failed} failed; cluster start and warm-up {ready_s:.1f} s); one run "
          f"{run_s.mean():.2f} s on average ({run_s.min():.2f}-{run_s.max():.2f}), workers busy {100 * busy:.0f} % "
          f"of the time; peak RSS per worker {', '.join(f'{mb:.0f}' for mb in peaks_mb)} MB", flush=True)
    return rate, result.table, peaks_mb


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds per variant (5 variants; default 8: 40 runs)")
    parser.add_argument("--duration", default="365d", help="simulated time per run (default 365d)")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        study_path = _study_file(folder, args.seeds, args.duration)
        study = load_study(study_path)
        print(f"{study.n_runs} runs: IEEE European LV feeder, edf, {args.duration} at 15-minute ticks, charger share "
              f"{', '.join(f'{s:g}' for s in SHARES)} x {args.seeds} seeds; cores here: {os.cpu_count()}", flush=True)
        rates: dict[int, float] = {}
        tables: dict[int, pd.DataFrame] = {}
        for n in counts:
            rates[n], tables[n], _ = _measure(study_path, n, folder / f"workers-{n}")
        if 1 in rates and 2 in rates:
            print(f"speed-up 2 workers over 1: x{rates[2] / rates[1]:.2f} (target at least x{TARGET_SPEED_UP})")
        first, *others = tables.values()
        columns = ["run_key", *KPI_KEYS]
        same = all(first[columns].equals(other[columns]) for other in others)
        print(f"KPIs identical across worker counts: {same}")


if __name__ == "__main__":
    main(sys.argv[1:])
