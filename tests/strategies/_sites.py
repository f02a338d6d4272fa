"""Hand-built and random sites for strategy tests: views without a simulator (acnportal's fake interface).

``site_views()`` is a hypothesis strategy of random ``SiteView``s: single- and three-phase chargers,
optional current steps or allowed-current sets, a random limits tree (``build_constraints``) with an
optional import row, random sessions and a random forecast. ``check_feasible`` asserts what every
managed strategy must guarantee.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

from sim.domain import (
    ActiveSessions,
    Charger,
    ChargerTable,
    Constraints,
    Forecast,
    LimitNode,
    Setpoints,
    SiteView,
    build_constraints,
)

TOL = 1e-6
ALLOWED_SET = (8.0, 16.0, 24.0, 32.0)


def make_sessions(charger_index: Sequence[int], arrival_s: Sequence[float], departure_s: Sequence[float],
                  requested_kwh: Sequence[float], max_current_a: Sequence[float],
                  delivered_kwh: Sequence[float] | None = None, ids: Sequence[str] | None = None) -> ActiveSessions:
    n = len(charger_index)
    arr = np.asarray
    return ActiveSessions(
        tuple(ids) if ids is not None else tuple(f"s{k}" for k in range(n)),
        arr(charger_index, dtype=np.int64), arr(arrival_s, dtype=float), arr(departure_s, dtype=float),
        arr(requested_kwh, dtype=float), arr(delivered_kwh if delivered_kwh is not None else np.zeros(n), dtype=float),
        arr(max_current_a, dtype=float),
    )


@st.composite
def chargers(draw: st.DrawFn, quantised: bool = True, max_n: int = 10) -> ChargerTable:
    n = draw(st.integers(1, max_n))
    out = []
    for k in range(n):
        phases = draw(st.sampled_from([1, 3]))
        phase = draw(st.sampled_from(["L1", "L2", "L3"])) if phases == 1 else "L1L2L3"
        max_a = float(draw(st.sampled_from([10, 16, 32])))
        min_a = float(draw(st.sampled_from([0, 6, 6, 8])))
        kind = draw(st.sampled_from(["continuous", "step", "set"])) if quantised else "continuous"
        step = draw(st.sampled_from([0.1, 1.0, 2.0])) if kind == "step" else 0.0
        allowed = tuple(a for a in ALLOWED_SET if a <= max_a) if kind == "set" and max_a >= 16 else ()
        if allowed:
            max_a, min_a = allowed[-1], max(min_a, 0.0)
        out.append(Charger(f"cp{k}", 1, phases, phase, max_a, min_a, efficiency=draw(st.sampled_from([0.9, 1.0])),
                           current_step_a=step, allowed_current_a=allowed))
    return ChargerTable(tuple(out))


@st.composite
def limit_tree(draw: st.DrawFn, table: ChargerTable) -> tuple[list[LimitNode], float | None]:
    """A root (per-phase A and/or kVA) with up to three sub-circuits, some nested; maybe an import row."""
    ids = list(table.ids)
    root_a = draw(st.one_of(st.none(), st.floats(5.0, 150.0)))
    root_kva = draw(st.one_of(st.none(), st.floats(3.0, 80.0)))
    nodes = [LimitNode("site", None, root_a, root_kva, ())]
    free = list(ids)
    for k in range(draw(st.integers(0, 3))):
        members = draw(st.lists(st.sampled_from(free), unique=True, max_size=len(free))) if free else []
        free = [c for c in free if c not in members]
        parent = draw(st.sampled_from([n.node_id for n in nodes]))
        nodes.append(LimitNode(f"sub{k}", parent, draw(st.floats(6.0, 80.0)), None, tuple(members)))
    import_kw = draw(st.one_of(st.none(), st.floats(-5.0, 60.0)))
    return nodes, import_kw


@st.composite
def site_views(draw: st.DrawFn, quantised: bool = True, with_forecast: bool = True) -> SiteView:
    table = draw(chargers(quantised))
    nodes, import_kw = draw(limit_tree(table))
    cons = build_constraints(table, nodes, import_kw)
    n_ch = len(table)
    occupied = draw(st.lists(st.integers(0, n_ch - 1), unique=True, min_size=0, max_size=n_ch))
    now = draw(st.sampled_from([0.0, 3600.0, 7300.0, 40000.0]))
    arrival, departure, requested, delivered, max_a = [], [], [], [], []
    for c in occupied:
        arrival.append(now - draw(st.floats(0.0, 4 * 3600.0)))
        departure.append(now + draw(st.floats(60.0, 14 * 3600.0)))
        requested.append(draw(st.floats(0.0, 60.0)))
        delivered.append(requested[-1] * draw(st.sampled_from([0.0, 0.3, 0.9, 1.0])))
        top = float(table.max_current_a[c])
        max_a.append(draw(st.one_of(st.just(top), st.floats(0.0, top))))
    sessions = make_sessions(occupied, arrival, departure, requested, max_a, delivered)
    base_now_kw = draw(st.floats(-30.0, 40.0))
    forecast = draw(forecasts(base_now_kw)) if with_forecast and draw(st.booleans()) else None
    return SiteView(now, 300.0, table, sessions, None, base_now_kw, cons, forecast)


@st.composite
def forecasts(draw: st.DrawFn, base_now_kw: float) -> Forecast:
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    pv = rng.uniform(0.0, 20.0, n)
    net = base_now_kw + rng.uniform(-10.0, 30.0, n)  # load minus PV, like SiteView.base_load_kw
    price = rng.choice([0.1, 0.2, 0.35], n)
    return Forecast(900.0, net, pv, price)


def drawn_a(view: SiteView, setpoints: Setpoints) -> np.ndarray:
    """Current per charger the vehicles draw: min(offer, what the vehicle takes), 0 where nobody is plugged."""
    current = np.zeros(len(view.chargers))
    ci = view.sessions.charger_index
    current[ci] = np.minimum(setpoints.current_a[ci], view.sessions.max_current_a)
    return current


def check_feasible(view: SiteView, setpoints: Setpoints, limits: bool = True) -> np.ndarray:
    """Every setpoint 0 or within [min, max], on the charger's grid, 0 where nobody is plugged; limits held."""
    ch = view.chargers
    sp = np.asarray(setpoints.current_a, dtype=float)
    assert sp.shape == (len(ch),)
    assert np.all(np.isfinite(sp))
    on = sp > TOL
    assert np.all(sp >= -TOL)
    assert np.all(sp <= ch.max_current_a + TOL), (sp, ch.max_current_a)
    assert np.all(~on | (sp >= ch.min_current_a - TOL)), (sp, ch.min_current_a)
    free = np.ones(len(ch), dtype=bool)
    free[view.sessions.charger_index] = False
    assert np.all(sp[free] == 0.0)
    for c in np.flatnonzero(on):
        assert on_grid(ch.chargers[c], float(sp[c])), (ch.chargers[c], sp[c])
    current = drawn_a(view, setpoints)
    if limits and view.constraints is not None:
        load = view.constraints.load(current)
        assert np.all(load <= np.maximum(view.constraints.limit, 0.0) + TOL), (load, view.constraints.limit)
    return current


def on_grid(charger: Charger, current_a: float) -> bool:
    if charger.allowed_current_a:
        return bool(np.any(np.isclose(current_a, charger.allowed_current_a)))
    if charger.current_step_a > 0:
        ratio = current_a / charger.current_step_a
        return bool(abs(ratio - round(ratio)) < 1e-6) or bool(np.isclose(current_a, charger.max_current_a))
    return True


def slack(cons: Constraints, current: np.ndarray) -> np.ndarray:
    return np.asarray(cons.limit - cons.load(current))


def run_ticks(strategy: object, table: ChargerTable, cons: Constraints | None, plan: Sequence[tuple[int, float, float, float]],
              base_kw: np.ndarray, price: np.ndarray | None = None, pv_kw: np.ndarray | None = None,
              period_s: float = 900.0) -> dict[str, np.ndarray]:
    """A tiny closed loop (ideal batteries, perfect forecast): every session plugged in at t = 0.

    ``plan`` holds ``(charger, departure_s, requested_kwh, vehicle_max_a)`` per session. Returns the
    energy delivered per session, the site import and the charging power per tick (kW).
    """
    n_ticks = len(base_kw)
    price = np.zeros(n_ticks) if price is None else price
    pv_kw = np.zeros(n_ticks) if pv_kw is None else pv_kw
    ci = np.array([c for c, *_ in plan], dtype=np.int64)
    dep = np.array([d for _, d, _, _ in plan])
    req = np.array([e for _, _, e, _ in plan])
    vmax = np.array([a for *_, a in plan])
    eff = table.efficiency[ci]
    kw_a = table.phases[ci] * table.v_ln_v[ci] / 1000.0
    delivered = np.zeros(len(plan))
    imports, charging = np.zeros(n_ticks), np.zeros(n_ticks)
    dt_h = period_s / 3600.0
    for k in range(n_ticks):
        now = k * period_s
        here = np.flatnonzero(dep > now + 1e-9)
        accept_a = np.minimum(vmax[here], np.maximum(req[here] - delivered[here], 0.0) / eff[here] / dt_h / kw_a[here])
        sessions = make_sessions(ci[here], np.zeros(len(here)), dep[here], req[here], accept_a, delivered[here],
                                 ids=[f"s{j}" for j in here])
        forecast = Forecast(period_s, base_kw[k:], pv_kw[k:], price[k:])
        view = SiteView(now, period_s, table, sessions, None, float(base_kw[k]), cons, forecast)
        setpoints = strategy.compute(view)  # type: ignore[attr-defined]
        check_feasible(view, setpoints)
        draw_a = np.minimum(setpoints.current_a[ci[here]], accept_a)
        p_kw = draw_a * kw_a[here]
        delivered[here] += p_kw * eff[here] * dt_h
        charging[k] = p_kw.sum()
        imports[k] = base_kw[k] + charging[k]
    return {"delivered_kwh": delivered, "requested_kwh": req, "import_kw": imports, "charging_kw": charging}
