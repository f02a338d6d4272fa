"""Agreement with acnportal 0.3.3 (the reference simulator for the classic algorithms).

Same sessions, one aggregate current limit, an ideal battery, the same 5-minute period, run through
feedertwin and through acnportal; energy delivered per session is compared for
``uncontrolled``, ``edf``, ``llf`` and ``equal_share`` (against acnportal's ``RoundRobin``, its
discrete cousin). Run with ``make bench`` (installs acnportal from the ``bench`` extra; it is not a
runtime dependency).

Made equal on purpose, so that differences come from the algorithms and not the set-up:
- single-phase chargers on one phase at 230 V, so acnportal's one aggregate ``Current`` constraint
  and feedertwin's per-phase row of a ``[[site.limits]]`` node are the same inequality;
- efficiency 1.0 (acnportal does not model charger losses), minimum current 0 A (acnportal's EVSE
  default), continuous currents, ideal battery (acnportal's ``Battery``) with the vehicle's limit
  equal to the charger's 32 A;
- arrivals and departures on whole 5-minute periods (acnportal counts time in periods).

Tolerances: the total within 1 % (the issue's target). Per session within one period at full current
(32 A x 230 V x 5 min = 0.61 kWh): sessions of equal deadline or laxity may be ordered differently by
the two implementations (we break ties by session id), which moves at most the current of the periods
in which they tie between them; round robin hands out current in 0.1 A increments where equal share
splits it exactly. The script exits non-zero if either bound is broken.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from datetime import datetime

import numpy as np

from sim.domain import Session
from sim.engine import Simulation, build_setup
from sim.scenario import scenario_from_dict
from sim.scenario.sessions import SessionSet

PERIOD_MIN = 5
N_CHARGERS = 54
LIMIT_A = 120.0
VOLTAGE_V = 230.0
MAX_A = 32.0
DAYS = 3
PAIRS = (("uncontrolled", "uncontrolled"), ("edf", "edf"), ("llf", "llf"), ("equal_share", "round_robin"))


def scenario_dict() -> dict:
    return {
        "name": "acnportal-agreement",
        "simulation": {"start": "2018-09-03T00:00:00-07:00", "duration": f"{DAYS}d",
                       "control_period_s": PERIOD_MIN * 60, "seed": 2018},
        "grid": {"network": "cigre_lv", "base_load": {"profile": "none"}},
        "chargers": [{"place": "random_load_buses", "count": N_CHARGERS, "phases": 1, "phase": "L1",
                      "max_current_a": MAX_A, "min_current_a": 0.0, "efficiency": 1.0, "kind": "work"}],
        "fleet": {"source": "generate", "kinds": {"work": {"sessions_per_day": 1.0, "weekend_factor": 1.0}}},
        "battery": {"model": "ideal"},
        "site": {"limits": [{"id": "main", "max_current_a": LIMIT_A}]},
    }


def aligned_sessions(sessions: tuple[Session, ...]) -> tuple[Session, ...]:
    """Round arrival up and departure down to whole periods; drop sessions shorter than a period."""
    p = PERIOD_MIN * 60.0
    out = []
    for s in sessions:
        arrival, departure = np.ceil(s.arrival_s / p) * p, np.floor(s.departure_s / p) * p
        if departure - arrival >= p:
            out.append(dataclasses.replace(s, arrival_s=arrival, departure_s=departure, max_power_kw=np.inf))
    return tuple(out)


def run_feedertwin(strategy: str) -> tuple[dict[str, float], tuple[Session, ...], list[str]]:
    setup = build_setup(scenario_from_dict(scenario_dict()))
    sessions = aligned_sessions(setup.sessions.sessions)
    from sim.strategies import create

    setup = dataclasses.replace(setup, sessions=SessionSet(sessions, 0, 0, "generate"), strategy=create(strategy))
    results = Simulation(setup).run()
    delivered = dict(zip(results.sessions.session_id, results.sessions.energy_delivered_kwh, strict=True))
    return delivered, sessions, list(setup.chargers.ids)


def run_acnportal(algorithm: str, sessions: tuple[Session, ...], charger_ids: list[str]) -> dict[str, float]:
    import pytz
    from acnportal import acnsim, algorithms
    from acnportal.acnsim import events, models

    tz = pytz.timezone("America/Los_Angeles")
    start = tz.localize(datetime(2018, 9, 3))
    network = acnsim.ChargingNetwork()
    for cid in charger_ids:
        network.register_evse(models.EVSE(cid, max_rate=MAX_A, min_rate=0), VOLTAGE_V, 0)
    network.add_constraint(acnsim.Current(charger_ids), LIMIT_A, name="main")
    p_s = PERIOD_MIN * 60
    evs = [
        models.EV(int(s.arrival_s // p_s), int(s.departure_s // p_s), s.energy_kwh, s.charger_id, s.session_id,
                  # A battery as large as the request: acnportal's uncontrolled charging stops when it is
                  # full, as feedertwin stops at the request (a larger battery overcharges the request
                  # in the last period).
                  models.Battery(s.energy_kwh, 0, MAX_A * VOLTAGE_V / 1000.0))
        for s in sessions
    ]
    queue = events.EventQueue()
    queue.add_events([events.PluginEvent(ev.arrival, ev) for ev in evs])
    scheduler = {
        "uncontrolled": lambda: algorithms.UncontrolledCharging(),
        "edf": lambda: algorithms.SortedSchedulingAlgo(algorithms.earliest_deadline_first),
        "llf": lambda: algorithms.SortedSchedulingAlgo(algorithms.least_laxity_first),
        "round_robin": lambda: algorithms.RoundRobin(algorithms.first_come_first_served, continuous_inc=0.1),
    }[algorithm]()
    sim = acnsim.Simulator(network, scheduler, queue, start, period=PERIOD_MIN, verbose=False)
    with warnings.catch_warnings():
        # acnportal warns at every period its uncontrolled schedule breaks the limit (as ours does too)
        warnings.simplefilter("ignore", UserWarning)
        sim.run()
    return {ev.session_id: float(ev.energy_delivered) for ev in evs}


def main() -> int:
    try:
        import acnportal  # noqa: F401
    except ImportError:
        print("acnportal is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    print(f"acnportal agreement: {N_CHARGERS} single-phase chargers, one {LIMIT_A:g} A limit, ideal battery, "
          f"{PERIOD_MIN}-min period, {DAYS} days")
    worst_total, worst_session = 0.0, 0.0
    per_session_tol_kwh = MAX_A * VOLTAGE_V / 1000.0 * PERIOD_MIN / 60.0
    for ours, theirs in PAIRS:
        mine, sessions, ids = run_feedertwin(ours)
        ref = run_acnportal(theirs, sessions, ids)
        keys = sorted(ref)
        a = np.array([mine[k] for k in keys])
        b = np.array([ref[k] for k in keys])
        total_diff = abs(a.sum() - b.sum()) / b.sum() * 100.0
        per = np.abs(a - b)
        requested = np.array([s.energy_kwh for s in sorted(sessions, key=lambda s: s.session_id)])
        worst_total = max(worst_total, total_diff)
        worst_session = max(worst_session, float(per.max()))
        print(f"  {ours:>12} vs {theirs:<12} sessions {len(keys):4d}  total {a.sum():9.2f} vs {b.sum():9.2f} kWh "
              f"({total_diff:.3f} %)  per session |diff| median {np.median(per):.4f}, P95 "
              f"{np.percentile(per, 95):.4f}, max {per.max():.4f} kWh (requests median {np.median(requested):.1f} kWh)")
    print(f"  worst total difference: {worst_total:.3f} % (target: within 1 %); worst per session "
          f"{worst_session:.3f} kWh (tolerance: one period at full current, {per_session_tol_kwh:.3f} kWh)")
    return 0 if worst_total <= 1.0 and worst_session <= per_session_tol_kwh else 1


if __name__ == "__main__":
    raise SystemExit(main())
