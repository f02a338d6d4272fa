"""The unbalanced (three-phase) load flow over a year of 15-minute steps, measured in one run.

The IEEE European LV feeder (907 buses) with its 55 single-phase households on their own phases (peak
4 kW each, the household profile, as ``bench_loadflow``), PV on 40 % of the houses (three-phase), and
55 single-phase 7.4 kW home chargers, each on its house's phase, charging in the evening (seeded: on
60 % of the days a session arriving between 17:00 and 22:00 for one to five hours). Prints, measured
in this process:

* the fast path (``FastUnbalancedLoadFlow.solve_block``) over the year (35,040 steps) in blocks of
  four weeks (the year's per-phase results would take 2.5 GB at once): wall and CPU time, time per
  step, fixed-point iterations, fallbacks to ``runpp_3ph``, what it found (lowest phase voltage,
  largest unbalance factor), and the memory floor: filling as many values into fresh memory;
* pandapower's ``runpp_3ph`` (``Pandapower3phLoadFlow``, numba on, after a warm-up) on a sample of
  the same steps: time per step, the year extrapolated, the ratio, and the largest difference of a
  phase voltage between the two on those steps.

BLAS is pinned to one thread before numpy loads. Not part of the test suite (timings are not tests).
Run: ``.venv/bin/python benchmarks/bench_unbalanced.py`` (or ``main(steps=...)`` for a shorter run).
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

from core_ext import pf3  # noqa: E402
from sim.domain import Charger, ChargerTable, Timebase  # noqa: E402
from sim.grid import build_feeder  # noqa: E402
from sim.grid.unbalanced import FastUnbalancedLoadFlow, Pandapower3phLoadFlow, element_phase_shares  # noqa: E402
from sim.scenario.schema import BaseLoadSpec, GridSpec, PvSpec  # noqa: E402

YEAR_STEPS = 35_040
STEP_S = 900.0
CHUNK_STEPS = 2_688  # four weeks
CHARGER_KW = 7.4  # 32 A at 230 V, one phase
TIMEBASE = Timebase(datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def _evening_charging(steps: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(steps, n) kW: per charger and day, with probability 0.6, one session at ``CHARGER_KW`` arriving
    uniformly between 17:00 and 22:00 and charging for one to five hours."""
    per_day = int(86400 / STEP_S)
    days = -(-steps // per_day)
    arrive = rng.uniform(17.0, 22.0, (days, n)) * 3600.0 / STEP_S
    length = rng.uniform(1.0, 5.0, (days, n)) * 3600.0 / STEP_S
    plugged = rng.random((days, n)) < 0.6
    step_of_day = np.arange(per_day)[None, :, None]
    on = plugged[:, None, :] & (step_of_day >= arrive[:, None, :]) & (step_of_day < (arrive + length)[:, None, :])
    # sessions running past midnight continue into the next morning
    late = plugged[:, None, :] & (step_of_day < (arrive + length - per_day)[:, None, :])
    on[1:] |= late[:-1]
    return (CHARGER_KW * on).reshape(days * per_day, n)[:steps]


def _setup(steps: int):
    spec = GridSpec(network="ieee_european_lv", pv=PvSpec(share=0.4, kwp=6.0), base_load=BaseLoadSpec(peak_kw=4.0))
    feeder = build_feeder(spec, Path("."), TIMEBASE, np.random.default_rng(1))
    # each house's charger on the house's own phase (the load's phase share is 1 on it)
    share = element_phase_shares(feeder.net.load, feeder.load_ids)
    phase_of_bus = {int(b): f"L{int(np.argmax(s)) + 1}" for b, s in zip(feeder.net.load.bus, share, strict=True)}
    chargers = ChargerTable(tuple(Charger(f"ev{k}", b, phases=1, phase=phase_of_bus[b], max_current_a=32.0)
                                  for k, b in enumerate(feeder.load_bus_ids())))
    t_s = np.arange(steps) * STEP_S
    base = feeder.base_injections(t_s)
    charging = _evening_charging(steps, len(chargers), np.random.default_rng(2))
    return feeder, chargers, t_s, (base.load_p_kw, base.load_q_kvar, base.sgen_p_kw, charging)


def _fresh_memory_floor(block, steps: int) -> tuple[float, int]:
    """Seconds to allocate and fill, block by block, as many float64 values as the results of ``steps``
    steps hold (what writing them costs at the least), and their bytes."""
    per_step = sum(a[0].size for a in vars(block).values() if isinstance(a, np.ndarray) and a.ndim >= 1
                   and a.shape[0] == len(block) and a.dtype == np.float64)
    t0 = time.perf_counter()
    for start in range(0, steps, CHUNK_STEPS):
        np.empty(((min(steps, start + CHUNK_STEPS) - start), per_step)).fill(1.0)
    return time.perf_counter() - t0, 8 * per_step * steps


def main(steps: int = YEAR_STEPS, reference_sample: int = 12) -> None:
    feeder, chargers, t_s, inputs = _setup(steps)
    t0 = time.perf_counter()
    fast = FastUnbalancedLoadFlow(feeder, chargers)
    build_s = time.perf_counter() - t0
    phases = np.bincount([int(c.phase[1]) - 1 for c in chargers.chargers], minlength=3)
    print(f"IEEE European LV: {len(feeder.bus_ids)} buses, {fast.sequence_model.n_kept} kept in the iteration; "
          f"{len(chargers)} single-phase chargers (L1/L2/L3: {'/'.join(map(str, phases))}), "
          f"{inputs[3].sum() * STEP_S / 3.6e6:.0f} MWh charged; kernels: {pf3.BACKEND}; model built in {build_s:.2f} s")
    fast.solve_block(*(a[:64] for a in inputs))  # first-call set-up outside the timing
    iterations, fallbacks, vm_min, vuf_max, loading_max = [], 0, np.inf, 0.0, 0.0
    wall, cpu = time.perf_counter(), time.thread_time()
    for start in range(0, steps, CHUNK_STEPS):
        stop = min(steps, start + CHUNK_STEPS)
        block = fast.solve_block(*(a[start:stop] for a in inputs), t_s=t_s[start:stop], first_step=start)
        iterations.append(block.iterations)
        fallbacks += block.n_fallbacks
        vm_min = min(vm_min, float(np.nanmin(block.vm_pu)))
        vuf_max = max(vuf_max, float(np.nanmax(block.vuf_percent)))
        loading_max = max(loading_max, float(np.nanmax(block.line_loading_percent)))
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    its = np.concatenate(iterations)
    print(f"fast path, {steps} steps in blocks of {CHUNK_STEPS}: {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"({1e6 * wall / steps:.0f} us per step; target: a year in at most 10 s), fixed-point iterations mean "
          f"{its.mean():.1f} max {its.max()}, fallbacks to runpp_3ph {fallbacks}")
    print(f"  found: lowest phase voltage {vm_min:.4f} pu, largest unbalance factor {vuf_max:.2f} %, "
          f"largest line loading {loading_max:.1f} %")
    floor_s, n_bytes = _fresh_memory_floor(block, steps)
    print(f"  memory floor: writing the {n_bytes / 1e9:.1f} GB of results once into fresh memory takes "
          f"{floor_s:.2f} s of that")

    reference = Pandapower3phLoadFlow(feeder, chargers)  # numba on: what a time loop calling runpp_3ph pays
    evening = np.flatnonzero(inputs[3].sum(axis=1) > 0)
    sample = np.random.default_rng(3).choice(evening if evening.size else np.arange(steps), reference_sample,
                                             replace=False)
    reference.solve(0, 0.0, *(a[int(sample[0])] for a in inputs))  # warm-up (numba compilation)
    times, plain_times, worst = [], [], 0.0
    for k in sample:
        k = int(k)
        t1 = time.perf_counter()
        state = reference.solve(k, float(t_s[k]), *(a[k] for a in inputs))
        times.append(time.perf_counter() - t1)
        # plain runpp_3ph, default options, on the feeder's own 100 MVA base (its stopping test is looser)
        plain = copy.deepcopy(reference.net)
        plain.sn_mva = feeder.net.sn_mva
        t1 = time.perf_counter()
        pp.runpp_3ph(plain)
        plain_times.append(time.perf_counter() - t1)
        mine = fast.solve(k, float(t_s[k]), *(a[k] for a in inputs))
        worst = max(worst, float(np.nanmax(np.abs(mine.vm_phase_pu - state.vm_phase_pu))))
    fast_step = wall / steps
    for what, sampled in (("runpp_3ph as the reference runs it (1 MVA base)", times),
                          (f"plain runpp_3ph (default options, {feeder.net.sn_mva:g} MVA base)", plain_times)):
        per_step = float(np.median(sampled))
        print(f"{what}, {reference_sample} evening steps: {1000 * per_step:.1f} ms per step (median), a year "
              f"{per_step * YEAR_STEPS / 60:.0f} min; the fast path x{per_step / fast_step:.0f} faster per step")
    print(f"largest phase-voltage difference fast path - reference on those steps: {worst:.1e} pu")


if __name__ == "__main__":
    main()
