"""Time per scheduling call of every registered strategy on 54- and 432-charger sites.

A three-phase site: a main fuse over feeders of 18 chargers each, every charger occupied by a
session with random demand and departure. The view is built once per size; each strategy's
``compute`` is timed over repeated calls (median). Growth = time(432) / time(54) against the
8x growth in chargers (linear growth is the target).

Parameters that scale with the site (``peak_shaving``'s target) are set per size, so both sizes solve
the same kind of problem: ``peak_shaving`` with a target the site can keep (one deadline test), and
``peak_shaving (raised)`` with one too low for the departures (the threshold search: about 20 tests).
``edf + phase_balance``: the same site with single-phase chargers, half of them on L1, so the 20 A
imbalance limit binds (timed beside plain ``edf`` on that site).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sim.domain import (
    ActiveSessions,
    Charger,
    ChargerTable,
    Forecast,
    LimitNode,
    SiteView,
    build_constraints,
)
from sim.strategies import available, create

FEEDER_SIZE = 18
HORIZON_STEPS = 12 * 12  # 12 h of 5-minute steps


def site_view(n_chargers: int, seed: int = 0, single_phase: bool = False) -> SiteView:
    rng = np.random.default_rng(seed)
    phase = [("L1", "L1", "L2", "L3")[i % 4] if single_phase else "L1L2L3" for i in range(n_chargers)]
    chargers = ChargerTable(tuple(Charger(f"c{i:04d}", bus=1, phases=1 if single_phase else 3, phase=phase[i],
                                          max_current_a=32.0) for i in range(n_chargers)))
    feeders = [
        LimitNode(f"f{k}", "main", max_current_a=FEEDER_SIZE * 32.0 * 0.5,
                  charger_ids=tuple(chargers.ids[k * FEEDER_SIZE:(k + 1) * FEEDER_SIZE]))
        for k in range(int(np.ceil(n_chargers / FEEDER_SIZE)))
    ]
    nodes = [LimitNode("main", None, max_current_a=n_chargers * 32.0 * 0.3, max_kva=n_chargers * 22.0 * 0.3), *feeders]
    constraints = build_constraints(chargers, nodes, import_limit_kw=n_chargers * 22.0 * 0.35)
    requested = rng.uniform(5, 40, n_chargers)
    sessions = ActiveSessions(
        session_ids=tuple(f"s{i:04d}" for i in range(n_chargers)),
        charger_index=np.arange(n_chargers, dtype=np.int64),
        arrival_s=-rng.uniform(0, 4 * 3600, n_chargers),
        departure_s=rng.uniform(1 * 3600, 12 * 3600, n_chargers),
        energy_requested_kwh=requested,
        energy_delivered_kwh=requested * rng.uniform(0, 0.8, n_chargers),
        max_current_a=rng.choice([16.0, 32.0], n_chargers),
    )
    t = np.arange(HORIZON_STEPS)
    forecast = Forecast(
        step_s=300.0,
        base_load_kw=np.full(HORIZON_STEPS, n_chargers * 2.0) + 5 * np.sin(t / 20),
        pv_kw=np.clip(np.sin(t / HORIZON_STEPS * np.pi) * n_chargers * 3.0, 0, None),
        price_per_kwh=np.where((t // 12) % 24 < 7, 0.18, 0.32),
    )
    return SiteView(0.0, 300.0, chargers, sessions, None, float(forecast.base_load_kw[0]), constraints, forecast)


def median_call_ms(fn: Callable[[], object], min_calls: int = 20, budget_s: float = 1.0) -> float:
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < min_calls or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 2000:
            break
    return float(np.median(times) * 1000.0)


# Parameters a strategy needs that have no default, per site size n (base load about 2 kW per charger).
REQUIRED_PARAMS: dict[str, Callable[[int], dict[str, float]]] = {
    "peak_shaving": lambda n: {"target_kw": n * 4.0},  # enough for every departure
}
# Extra rows: (label, strategy name, parameters per site size).
VARIANTS: tuple[tuple[str, str, Callable[[int], dict[str, float]]], ...] = (
    ("peak_shaving (raised)", "peak_shaving", lambda n: {"target_kw": n * 2.0}),  # too low: threshold search
)


def main() -> None:
    views = {n: site_view(n) for n in (54, 432)}
    rows = [(name, name, REQUIRED_PARAMS.get(name)) for name in sorted(available())] + list(VARIANTS)
    print("strategy                54 chargers   432 chargers   growth (x8 chargers)")
    print("(mpc here mostly follows its stored plan between re-solves; one full solve is timed separately)")
    for label, name, params in rows:
        if getattr(create(name, params(54) if params is not None else None), "needs_grid_state", True):
            print(f"{label:<22} (reads the grid state, which these views do not have: not timed here)")
            continue
        ms = {}
        for n, view in views.items():
            strategy = create(name, params(n) if params is not None else None)
            ms[n] = median_call_ms(lambda v=view, s=strategy: s.compute(v), budget_s=0.5 if name != "mpc" else 3.0)
        print(f"{label:<22} {ms[54]:9.4f} ms  {ms[432]:10.4f} ms   x{ms[432] / ms[54]:.1f}")
    single = {n: site_view(n, single_phase=True) for n in (54, 432)}
    for label, params in (("edf (single-phase)", {}), ("edf + phase_balance", {"phase_balance": True})):
        edf = create("edf", params)
        ms = {n: median_call_ms(lambda v=view, s=edf: s.compute(v), budget_s=0.5) for n, view in single.items()}
        print(f"{label:<22} {ms[54]:9.4f} ms  {ms[432]:10.4f} ms   x{ms[432] / ms[54]:.1f}")


if __name__ == "__main__":
    main()
