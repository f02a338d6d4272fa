"""Load-flow speed over a year of 15-minute steps, measured in one run.

Prints, all measured in this process:
* the IEEE European LV feeder (907 buses): the fast path's block solve of the year (35,040 steps),
  wall and CPU time, ns per bus per step; beside it the memory floor: a streaming copy of as many
  bytes as the results hold, into fresh memory (what writing the results costs at the least) and
  into memory already touched;
* a plain pandapower ``runpp`` (default options, what a time loop would call) on a sample of the
  same steps, extrapolated to the year, and the engine's warm-started, recycled ``runpp``;
* one warm-started step of the fast path (what a grid-aware strategy pays at every tick);
* why the kernel does its own triangular solves: scipy's ``splu.solve`` with the same 64 right-hand
  sides, against the kernel ``lu_solve`` (on the full Y_pp);
* a synthetic 10,000-bus radial MV/LV network (``sim.grid.synthetic``, seeded; 2,976 households,
  PV on 40 % of them, 1,000 chargers): the same year in blocks of four weeks (the year's results
  would take 5.6 GB at once), with its memory floor.

BLAS is pinned to one thread before numpy loads: SuperLU's multi-right-hand-side solve in the
comparison calls BLAS, and every number here is meant per core. The fast path's solve calls no BLAS
routine. Not part of the test suite (timings are not tests).
Run: ``.venv/bin/python benchmarks/bench_loadflow.py`` (or ``main(steps=..., big_steps=...)`` for a
shorter run).
"""

from __future__ import annotations

import copy
import os
import tempfile
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from datetime import datetime, timedelta, timezone  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandapower as pp  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import splu  # noqa: E402

from core_ext import pf  # noqa: E402
from sim.domain import Charger, ChargerTable, Timebase  # noqa: E402
from sim.grid import FastLoadFlow, PandapowerLoadFlow, build_feeder  # noqa: E402
from sim.grid.synthetic import radial_network  # noqa: E402
from sim.scenario.schema import BaseLoadSpec, GridSpec, PvSpec  # noqa: E402

YEAR_STEPS = 35_040
STEP_S = 900.0
BIG_BUSES = 10_000
BIG_CHUNK_STEPS = 2_688  # four weeks
TIMEBASE = Timebase(datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def _setup(steps: int):
    """The feeder with PV on 40 % of the houses, one 11 kW charger per house charging 20 % of the
    time (seeded), and the injections of every step."""
    spec = GridSpec(network="ieee_european_lv", pv=PvSpec(share=0.4, kwp=6.0), base_load=BaseLoadSpec(peak_kw=4.0))
    feeder = build_feeder(spec, Path("."), TIMEBASE, np.random.default_rng(1))
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


def _copy_floor_s(n_values: int) -> tuple[float, float]:
    """Seconds to copy ``n_values`` doubles (streaming, numpy ``copyto``) into freshly allocated
    memory and into memory already touched: the least that writing that many results costs."""
    src = np.ones(n_values)
    _, fresh, _ = _timed(lambda: np.copyto(np.empty_like(src), src))
    dst = np.zeros_like(src)
    _, touched, _ = _timed(lambda: np.copyto(dst, src))
    return fresh, touched


def _result_values(fast: FastLoadFlow) -> int:
    """Doubles of results per step: voltages, line and transformer loadings, three flows."""
    return len(fast.bus_ids) + len(fast.line_ids) + len(fast.trafo_ids) + 3


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
    """Seconds per solve with ``n_rhs`` right-hand sides on the full Y_pp: scipy splu.solve vs the
    kernel lu_solve."""
    f = fast.model.factors
    n = f.u_diag_inv.shape[1]
    x = np.random.default_rng(3).standard_normal((2, n, n_rhs))
    lower = sp.csc_matrix((f.l_data[0] + 1j * f.l_data[1], f.l_indices, f.l_indptr), shape=(n, n))
    upper = sp.csc_matrix((f.u_data[0] + 1j * f.u_data[1], f.u_indices, f.u_indptr), shape=(n, n))
    y_pp = (sp.eye(n) + lower) @ (upper + sp.diags(1.0 / (f.u_diag_inv[0] + 1j * f.u_diag_inv[1])))
    lu = splu(sp.csc_matrix(y_pp))
    b = np.asfortranarray(x[0] + 1j * x[1])
    t_splu = _median_s(lambda k: lu.solve(b), 200)
    system = f.system(np.zeros((2, n)))
    t_kernel = _median_s(lambda k: system.lu_solve(x), 200)
    return t_splu, t_kernel


def ieee_european_lv(steps: int = YEAR_STEPS, runpp_sample: int = 40) -> None:
    feeder, chargers, t_s, inputs = _setup(steps)
    fast = FastLoadFlow(feeder, chargers)
    n_bus = len(feeder.bus_ids)
    print(f"IEEE European LV: {n_bus} buses, {len(chargers)} chargers, {steps} steps of 15 min; kernels: "
          f"{pf.BACKEND}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; the fixed point iterates "
          f"on {fast.model.n_kept} of {fast.model.pq.size} PQ buses, {fast.block_steps} steps per block")

    block, wall, cpu = _timed(lambda: fast.solve_block(*inputs, t_s=t_s))
    print(f"fast path, block solve of all steps: {wall:.2f} s wall, {cpu:.2f} s CPU (target: 1.5 s); "
          f"{1e9 * cpu / (steps * n_bus):.0f} ns per bus per step (CPU); iterations mean "
          f"{block.iterations.mean():.2f}, max {block.iterations.max()}; fallbacks {block.n_fallbacks}; "
          f"vm {np.nanmin(block.vm_pu):.3f}..{np.nanmax(block.vm_pu):.3f} pu")
    del block
    block, again_wall, again_cpu = _timed(lambda: fast.solve_block(*inputs, t_s=t_s))
    print(f"  the same again, its results in memory this process used before: {again_wall:.2f} s wall, "
          f"{again_cpu:.2f} s CPU, {1e9 * again_cpu / (steps * n_bus):.0f} ns per bus per step")
    fresh, touched = _copy_floor_s(steps * _result_values(fast))
    print(f"memory floor, a streaming copy of the results' {8 * steps * _result_values(fast) / 1e6:.0f} MB: "
          f"{1e9 * fresh / (steps * n_bus):.1f} ns per bus per step into fresh memory, "
          f"{1e9 * touched / (steps * n_bus):.1f} ns into memory already touched")
    state_s = _median_s(lambda k: block.state(k), steps)
    print(f"reading it back: BlockResult.state(k) {1e6 * state_s:.1f} us per step")

    sample = np.random.default_rng(4).choice(steps, size=min(runpp_sample, steps), replace=False)
    plain_s = _plain_runpp(feeder, chargers, inputs, sample)
    engine = PandapowerLoadFlow(feeder, chargers)
    engine_s = _median_s(lambda k: engine.solve(k, 0.0, *(a[int(sample[k])] for a in inputs)), sample.size)
    print(f"pandapower runpp, plain: {1000 * plain_s:.1f} ms per step -> {plain_s * steps:.0f} s for all steps "
          f"(x{plain_s * steps / wall:.0f} the fast block); warm-started and recycled (the engine's): "
          f"{1000 * engine_s:.1f} ms -> {engine_s * steps:.0f} s (x{engine_s * steps / wall:.0f})")

    fast.solve(0, 0.0, *(a[0] for a in inputs))
    single_s = _median_s(lambda k: fast.solve(k + 1, 0.0, *(a[k + 1] for a in inputs)), min(1000, steps - 1))
    print(f"fast path, one warm-started step: {1e6 * single_s:.0f} us (x{engine_s / single_s:.0f} faster than "
          f"the engine's runpp, x{plain_s / single_s:.0f} than a plain runpp)")

    t_splu, t_kernel = _solver_comparison(fast)
    print(f"triangular solves with 64 right-hand sides: scipy splu.solve {1e6 * t_splu:.0f} us, kernel lu_solve "
          f"{1e6 * t_kernel:.0f} us (x{t_splu / t_kernel:.1f})")


def synthetic_radial(steps: int = YEAR_STEPS, n_bus: int = BIG_BUSES) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pp.to_json(radial_network(n_bus, seed=0), str(Path(tmp) / "radial.json"))
        spec = GridSpec(file=Path("radial.json"), pv=PvSpec(share=0.4, kwp=6.0))
        feeder = build_feeder(spec, Path(tmp), TIMEBASE, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    homes = feeder.load_bus_ids()
    chargers = ChargerTable(tuple(Charger(f"ev{k}", int(b))
                                  for k, b in enumerate(np.sort(rng.choice(homes, size=len(homes) // 3, replace=False)))))
    fast, build_s, _ = _timed(lambda: FastLoadFlow(feeder, chargers))
    print(f"synthetic radial network: {len(feeder.bus_ids)} buses, {len(feeder.load_ids)} households, "
          f"{len(feeder.sgen_ids)} PV, {len(chargers)} chargers, {steps} steps of 15 min in blocks of "
          f"{BIG_CHUNK_STEPS}; the fixed point iterates on {fast.model.n_kept} of {fast.model.pq.size} PQ buses, "
          f"{fast.block_steps} steps per block (model built in {build_s:.1f} s)")
    wall = cpu = 0.0
    iterations, fallbacks, vm_min = [], 0, np.inf
    for start in range(0, steps, BIG_CHUNK_STEPS):
        t_s = np.arange(start, min(steps, start + BIG_CHUNK_STEPS)) * STEP_S
        base = feeder.base_injections(t_s)
        charging = 11.0 * (rng.random((t_s.size, len(chargers))) < 0.2)
        block, w, c = _timed(partial(fast.solve_block, base.load_p_kw, base.load_q_kvar, base.sgen_p_kw, charging,
                                     t_s=t_s))
        wall, cpu = wall + w, cpu + c
        iterations.append(block.iterations)
        fallbacks += block.n_fallbacks
        vm_min = min(vm_min, float(np.nanmin(block.vm_pu)))
        del block
    its = np.concatenate(iterations)
    n = len(feeder.bus_ids)
    print(f"fast path, all steps: {wall:.1f} s wall, {cpu:.1f} s CPU (target: 20 s); {1e9 * cpu / (steps * n):.0f} ns "
          f"per bus per step (CPU); iterations mean {its.mean():.2f}, max {its.max()}; fallbacks {fallbacks}; "
          f"vm min {vm_min:.3f} pu")
    fresh, touched = _copy_floor_s(BIG_CHUNK_STEPS * _result_values(fast))
    print(f"memory floor, a streaming copy of the results' bytes: {1e9 * fresh / (BIG_CHUNK_STEPS * n):.1f} ns per "
          f"bus per step into fresh memory, {1e9 * touched / (BIG_CHUNK_STEPS * n):.1f} ns into memory already "
          f"touched")


def main(steps: int = YEAR_STEPS, runpp_sample: int = 40, big_steps: int = YEAR_STEPS) -> None:
    ieee_european_lv(steps, runpp_sample)
    print()
    synthetic_radial(big_steps)


if __name__ == "__main__":
    main()
