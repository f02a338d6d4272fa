"""``make bench``: speed measured in one run, printed as ratios against a baseline in the same process.

Timed tests would be flaky on shared machines; this script is not part of the test suite.
BLAS is pinned to one thread (the Makefile exports OPENBLAS_NUM_THREADS=1; set again here).
"""

from __future__ import annotations

import copy
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandapower as pp  # noqa: E402

import core_ext  # noqa: E402
from sim.engine import Simulation, build_setup  # noqa: E402
from sim.scenario import default_scenario_path, load_scenario  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def bench_loadflow_engine(repeats: int = 60) -> None:
    """The engine's warm-started, recycled runpp against a plain runpp on the same injections."""
    scenario = load_scenario(default_scenario_path(), ["simulation.duration=1d", "grid.loadflow=pandapower"])
    setup = build_setup(scenario)
    plain_net = copy.deepcopy(setup.feeder.net)
    sim = Simulation(setup)
    rng = np.random.default_rng(0)
    base = setup.base
    n = len(setup.chargers)
    steps = rng.integers(0, len(setup.tick_s), repeats)
    charger_p = rng.uniform(0, 11, (repeats, n))
    k = iter(range(10**9))

    def engine_call() -> None:
        i = next(k) % repeats
        s = int(steps[i])
        sim.loadflow.solve(s, float(s), base.load_p_kw[s], base.load_q_kvar[s], base.sgen_p_kw[s], charger_p[i])

    for bus in setup.chargers.bus:
        pp.create_load(plain_net, bus=int(bus), p_mw=0.0)
    n_base = len(base.load_p_kw[0])
    j = iter(range(10**9))

    def plain_call() -> None:
        i = next(j) % repeats
        s = int(steps[i])
        plain_net.load.loc[plain_net.load.index[:n_base], "p_mw"] = base.load_p_kw[s] / 1000
        plain_net.load.loc[plain_net.load.index[n_base:], "p_mw"] = charger_p[i] / 1000
        if len(plain_net.sgen):
            plain_net.sgen["p_mw"] = base.sgen_p_kw[s] / 1000
        pp.runpp(plain_net)

    engine_call(), plain_call()  # warm up (numba compilation, first-call set-up)
    engine_ms, plain_ms = _median_ms(engine_call, repeats), _median_ms(plain_call, repeats)
    print(f"load flow per tick, {len(setup.feeder.bus_ids)}-bus feeder: engine {engine_ms:.2f} ms, "
          f"plain runpp {plain_ms:.2f} ms, speed-up x{plain_ms / engine_ms:.1f}")


def bench_default_run() -> None:
    scenario = load_scenario(default_scenario_path())
    t0 = time.perf_counter()
    setup = build_setup(scenario)
    t_setup = time.perf_counter() - t0
    results = Simulation(setup).run()
    t_total = time.perf_counter() - t0
    n = results.summary["n_steps"]
    print(f"default scenario ({n} ticks, {len(setup.chargers)} chargers, {results.summary['n_sessions']} sessions): "
          f"{t_total:.1f} s end to end (set-up {t_setup:.1f} s, {1000 * (t_total - t_setup) / n:.2f} ms per tick)")


def bench_month_edf() -> None:
    """Issue 3: one simulated month of a 54-charger site (~950 sessions) under edf, end to end."""
    from sim.scenario import scenario_from_dict

    data = {
        "name": "month-54",
        "simulation": {"start": "2026-03-02T00:00:00+01:00", "duration": "30d", "control_period_s": 300, "seed": 54},
        "grid": {"network": "cigre_lv"},
        "chargers": [{"place": "random_load_buses", "count": 54, "max_current_a": 32, "kind": "work"}],
        "fleet": {"source": "generate", "kinds": {"work": {"sessions_per_day": 1.17}}},
        "site": {"limits": [{"id": "main", "max_current_a": 400}]},
        "strategy": {"name": "edf"},
    }
    setup_s, run_s, total_s = [], [], []
    for _ in range(3):  # the median of three runs in this process (the first also pays one-off imports)
        t0 = time.perf_counter()
        setup = build_setup(scenario_from_dict(data))
        t1 = time.perf_counter()
        results = Simulation(setup).run()
        t2 = time.perf_counter()
        setup_s.append(t1 - t0)
        run_s.append(t2 - t1)
        total_s.append(t2 - t0)
    print(f"one month, 54 chargers, {results.summary['n_sessions']} sessions, edf, {results.summary['n_steps']} ticks "
          f"with AC load flow ({results.summary['loadflow']}): {np.median(total_s):.2f} s end to end, median of 3 "
          f"(set-up {np.median(setup_s):.2f} s, run {np.median(run_s):.2f} s; first {total_s[0]:.2f} s; "
          "target under 1.5 s)")


def main() -> None:
    import acnportal_agreement
    import bench_chargers
    import bench_core
    import bench_loadflow
    import bench_mpc
    import bench_strategies
    import bench_sweep
    import bench_year

    print(f"core_ext backend: {core_ext.BACKEND}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    sections = [
        ("engine load flow per tick (pandapower path)", bench_loadflow_engine),
        ("default scenario end to end", bench_default_run),
        ("scheduling core: compiled vs twin", bench_core.main),
        ("strategies: time per scheduling call", bench_strategies.main),
        ("mpc: one solve", bench_mpc.main),
        ("one month under edf", bench_month_edf),
        ("fast load flow: a year on the IEEE European LV feeder", bench_loadflow.main),
        ("unbalanced load flow: a year, 55 single-phase chargers", lambda: __import__("bench_unbalanced").main()),
        ("grid_aware per phase: two days, unbalanced against balanced",
         lambda: __import__("bench_grid_aware_unbalanced").main(["--days", "2"])),
        ("a year end to end on the IEEE European LV feeder: edf and grid_aware", bench_year.main),
        ("a sweep of 40 year-long runs on Dask: 1 and 2 workers", bench_sweep.main),
        ("agreement with acnportal", acnportal_agreement.main),
        ("live: 1,000 simulated chargers against one feedertwin live, active edf",
         lambda: bench_chargers.main(["--chargers", "1000", "--seconds", "60"])),
    ]
    for title, fn in sections:
        print(f"\n== {title} ==", flush=True)
        fn()


if __name__ == "__main__":
    main()
