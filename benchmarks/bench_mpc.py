"""Time one ``mpc`` solve: 54 three-phase chargers, 12-hour horizon, 5-minute forecast steps.

Not a test (timings are not asserted anywhere); prints the median of several solves on random,
seeded sites. Target from issue 3: under 50 ms per solve.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from sim.domain import ActiveSessions, Charger, ChargerTable, Forecast, LimitNode, SiteView, build_constraints  # noqa: E402
from sim.strategies._mpc_lp import horizon_of  # noqa: E402
from sim.strategies.mpc import solve_plan  # noqa: E402


def site_view(rng: np.random.Generator, n_chargers: int = 54, step_s: float = 300.0, horizon_h: float = 12.0) -> SiteView:
    """A fully occupied site: 54 x 32 A three-phase chargers behind a 400 A fuse and a 250 kW import limit."""
    chargers = ChargerTable(tuple(Charger(f"cp{i}", 1, max_current_a=32.0) for i in range(n_chargers)))
    nodes = [LimitNode("site", None, max_current_a=400.0, max_kva=280.0),
             LimitNode("row_a", "site", max_current_a=200.0, charger_ids=tuple(f"cp{i}" for i in range(n_chargers // 2)))]
    n_steps = int(horizon_h * 3600 / step_s)
    hours = np.arange(n_steps) * step_s / 3600.0
    base_kw = 60.0 + 40.0 * np.sin(np.pi * hours / 12.0) + rng.normal(0, 3, n_steps)
    price = np.where((hours >= 4) & (hours < 9), 0.15, 0.35)
    cons = build_constraints(chargers, nodes, import_limit_kw=250.0).with_limit("import_kw", 250.0 - base_kw[0])
    sessions = ActiveSessions(
        session_ids=tuple(f"s{i}" for i in range(n_chargers)),
        charger_index=np.arange(n_chargers, dtype=np.int64),
        arrival_s=np.zeros(n_chargers),
        departure_s=rng.uniform(2, 14, n_chargers) * 3600.0,
        energy_requested_kwh=rng.uniform(5, 60, n_chargers),
        energy_delivered_kwh=np.zeros(n_chargers),
        max_current_a=np.full(n_chargers, 32.0),
    )
    forecast = Forecast(step_s, base_kw, np.zeros(n_steps), price)
    return SiteView(0.0, 60.0, chargers, sessions, None, float(base_kw[0]), cons, forecast)


def _median_ms(views: list[SiteView], **params: float) -> tuple[float, float, int]:
    """Median wall and CPU time (ms) of one solve per view, and the number of periods of the first view.

    CPU time is printed too because a busy shared machine inflates wall time."""
    wall_ms, cpu_ms = [], []
    for view in views:
        t0, c0 = time.perf_counter(), time.process_time()
        solve_plan(view, horizon_h=12.0, **params)
        wall_ms.append((time.perf_counter() - t0) * 1000.0)
        cpu_ms.append((time.process_time() - c0) * 1000.0)
    n_periods = horizon_of(views[0], 12.0, params.get("fine_h", 1.0), params.get("coarse_step_s", 1800.0)).n_periods
    return float(np.median(wall_ms)), float(np.median(cpu_ms)), n_periods


def main(repeats: int = 21) -> None:
    rng = np.random.default_rng(3)
    views = [site_view(rng) for _ in range(repeats)]
    solve_plan(views[0])  # warm up imports
    wall, cpu, n = _median_ms(views)
    fine_wall, fine_cpu, n_fine = _median_ms(views[: max(3, repeats // 3)], fine_h=12.0)
    print("mpc solve, 54 chargers, 12 h horizon, 5-min forecast steps, median over random sites (target < 50 ms):")
    print(f"  default (5-min periods for 1 h, then 30-min): {n} periods, {wall:.1f} ms wall, {cpu:.1f} ms CPU")
    print(f"  every period 5 min (fine_h = 12):            {n_fine} periods, {fine_wall:.1f} ms wall, {fine_cpu:.1f} ms CPU")


if __name__ == "__main__":
    main()
