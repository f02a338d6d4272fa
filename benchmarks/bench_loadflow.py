"""Load-flow speed on the IEEE European LV feeder (907 buses), a year of 15-minute steps, in one run.

Prints, all measured in this process:
* the fast path's block solve of the whole year (35,040 steps): wall and CPU time, ns per bus per step;
* a plain pandapower ``runpp`` (default options, what a time loop would call) on a sample of the
  same steps, extrapolated to the year, and the engine's warm-started, recycled ``runpp``;
* one warm-started step of the fast path (what a grid-aware strategy pays at every tick);
* why the kernel does its own triangular solves: scipy's ``splu.solve`` with the same 64 right-hand
  sides, against the kernel ``lu_solve``.

BLAS is pinned to one thread before numpy loads: SuperLU's multi-right-hand-side solve calls BLAS
(with more threads it burns two cores for a 20 % gain), and every number here is meant per core.
The fast path's own loop calls no BLAS routine. Not part of the test suite (timings are not tests).
Run: ``.venv/bin/python benchmarks/bench_loadflow.py`` (or ``main(steps=...)`` for a shorter run).
"""

from __future__ import annotations

import copy
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandapower as pp  # noqa: E402
from scipy.sparse.linalg import splu  # noqa: E402

from core_ext import pf  # noqa: E402
from sim.domain import Charger, ChargerTable, Timebase  # noqa: E402
from sim.grid import FastLoadFlow, PandapowerLoadFlow, build_feeder  # noqa: E402
from sim.scenario.schema import BaseLoadSpec, GridSpec, PvSpec  # noqa: E402

YEAR_STEPS = 35_040
STEP_S = 900.0


def _setup(steps: int):
    """The feeder with PV on 40 % of the houses, one 11 kW charger per house charging 20 % of the
    time (seeded), and the injections of every step."""
    timebase = Timebase(datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    spec = GridSpec(network="ieee_european_lv", pv=PvSpec(share=0.4, kwp=6.0), base_load=BaseLoadSpec(peak_kw=4.0))
    feeder = build_feeder(spec, Path("."), timebase, np.random.default_rng(1))
    chargers = ChargerTable(tuple(Charger(f"ev{k}", int(b)) for k, b in enumerate(feeder.load_bus_ids())))
    rng = np.random.default_rng(2)
    t_s = np.arange(steps) * STEP_S
    base = feeder.base_injections(t_s)
    charging = 11.0 * (rng.random((steps, len(chargers))) < 0.2)
    return feeder, chargers, t_s, (base.load_p_kw, base.load_q_kvar, base.sgen_p_kw, charging)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn()
    return result, time.perf_counter() - wall, time.thread_time() - cpu


def _median_s(fn, calls: int) -> float:
    times = []
    for k in range(calls):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _plain_runpp(feeder, chargers, inputs, sample):
    """Median seconds of a plain ``runpp`` (default options, cold) with the step's injections written."""
    net = copy.deepcopy(feeder.net)
    n_load = len(feeder.load_ids)
    for bus in chargers.bus:
        pp.create_load(net, bus=int(bus), p_mw=0.0)
    load_p, load_q, sgen_p, charging = inputs

    def call(k: int) -> None:
        s = int(sample[k % sample.size])
        net.load.loc[net.load.index[:n_load], "p_mw"] = load_p[s] / 1000.0
        net.load.loc[net.load.index[:n_load], "q_mvar"] = load_q[s] / 1000.0
        net.load.loc[net.load.index[n_load:], "p_mw"] = charging[s] / 1000.0
        net.sgen["p_mw"] = sgen_p[s] / 1000.0
        pp.runpp(net)

    call(0)  # warm up (numba compilation)
    return _median_s(call, sample.size)


def _solver_comparison(fast: FastLoadFlow, n_rhs: int = 64) -> tuple[float, float]:
    """Seconds per solve with ``n_rhs`` right-hand sides: scipy splu.solve vs the kernel lu_solve."""
    f = fast.model.factors
    n = f.u_diag_inv.shape[1]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, n, n_rhs))
    lower = _csc(f.l_indptr, f.l_indices, f.l_data, n)
    upper = _csc(f.u_indptr, f.u_indices, f.u_data, n)
    import scipy.sparse as sp

    y_pp = (sp.eye(n) + lower) @ (upper + sp.diags(1.0 / (f.u_diag_inv[0] + 1j * f.u_diag_inv[1])))
    lu = splu(sp.csc_matrix(y_pp))
    b = np.asfortranarray(x[0] + 1j * x[1])
    t_splu = _median_s(lambda k: lu.solve(b), 200)
    system = fast.model.system
    t_kernel = _median_s(lambda k: system.lu_solve(x), 200)
    return t_splu, t_kernel


def _csc(indptr, indices, data, n):
    import scipy.sparse as sp

    return sp.csc_matrix((data[0] + 1j * data[1], indices, indptr), shape=(n, n))


def main(steps: int = YEAR_STEPS, runpp_sample: int = 40) -> None:
    feeder, chargers, t_s, inputs = _setup(steps)
    fast = FastLoadFlow(feeder, chargers)
    n_bus = len(feeder.bus_ids)
    print(f"IEEE European LV: {n_bus} buses, {len(chargers)} chargers, {steps} steps of 15 min; "
          f"kernels: {pf.BACKEND}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")

    block, wall, cpu = _timed(lambda: fast.solve_block(*inputs, t_s=t_s))
    print(f"fast path, block solve of all steps: {wall:.2f} s wall, {cpu:.2f} s CPU; "
          f"{1e9 * cpu / (steps * n_bus):.0f} ns per bus per step (CPU); iterations mean "
          f"{block.iterations.mean():.2f}, max {block.iterations.max()}; fallbacks {block.n_fallbacks}; "
          f"vm {np.nanmin(block.vm_pu):.3f}..{np.nanmax(block.vm_pu):.3f} pu")

    sample = np.random.default_rng(4).choice(steps, size=min(runpp_sample, steps), replace=False)
    plain_s = _plain_runpp(feeder, chargers, inputs, sample)
    engine = PandapowerLoadFlow(feeder, chargers)
    engine_s = _median_s(lambda k: engine.solve(k, 0.0, *(a[int(sample[k])] for a in inputs)), sample.size)
    print(f"pandapower runpp, plain: {1000 * plain_s:.1f} ms per step -> {plain_s * steps:.0f} s for all steps "
          f"(x{plain_s * steps / wall:.0f} the fast block); warm-started and recycled (the engine's): "
          f"{1000 * engine_s:.1f} ms -> {engine_s * steps:.0f} s (x{engine_s * steps / wall:.0f})")

    fast.solve(0, 0.0, *(a[0] for a in inputs))
    single_s = _median_s(lambda k: fast.solve(k + 1, 0.0, *(a[k + 1] for a in inputs)), min(300, steps - 1))
    print(f"fast path, one warm-started step: {1e6 * single_s:.0f} us (x{engine_s / single_s:.0f} faster than "
          f"the engine's runpp, x{plain_s / single_s:.0f} than a plain runpp)")

    t_splu, t_kernel = _solver_comparison(fast)
    print(f"triangular solves with 64 right-hand sides: scipy splu.solve {1e6 * t_splu:.0f} us, kernel lu_solve "
          f"{1e6 * t_kernel:.0f} us (x{t_splu / t_kernel:.1f})")


if __name__ == "__main__":
    main()
