"""``feedertwin replay``: a live store's recorded sessions run through the simulator.

The composition (the CLI may import the engine; ``sim.live`` must not): the store's sessions
(``sim.live.recorded``: arrival, departure, the metered energy as the demand, the charger) become a
session CSV, and the site file's chargers, limits, tariff, strategy and feeder a scenario around
it (``[fleet] source = "csv"``), so the scenario loader checks it as it checks any scenario. The
scenario runs as ``feedertwin run`` runs it and writes the same results and report, plus
``summary.json["replay"]``: what the strategy would have done against what was measured (energy
delivered, peak charging power, minutes above a site limit, sessions), and the measured total
charging power per tick as the timeseries column ``measured_charging_p_kw``; the report shows both
(``sim.report.replay_section``).

Modelling differences a reader must know: the simulated window is the recorded one widened to
whole control periods; the simulator's base load comes from the feeder model (a site without
``[grid]`` is replayed on ``--grid NETWORK`` with no base load), not the site file's
``base_load_kw``; the measured peak and limit minutes use the same tick means as the simulator.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import FeedertwinError

if TYPE_CHECKING:
    from sim.live.recorded import RecordedSession
    from sim.live.site_file import LiveSite
    from sim.results import Results

SESSIONS_CSV = "recorded_sessions.csv"
LIVE_ONLY_KEYS = ("store", "time_zone", "base_load_kw", "accept_unknown_chargers", "control", "unknown_chargers")
"""Site-file keys a scenario does not have."""


class ReplayError(FeedertwinError):
    """The store and site file cannot be replayed (no sessions, no feeder)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from sim.scenario.schema import NETWORK_NAMES

    replay = sub.add_parser("replay", help="run a live store's recorded sessions through the simulator",
                            description="Runs the sessions a live site recorded (arrival, departure, metered energy "
                                        "as the demand) through the simulator with the site's chargers and limits, "
                                        "and compares what the strategy would have delivered with what was measured.")
    replay.add_argument("store", metavar="STORE", help="the SQLite store of a live site")
    replay.add_argument("--site", metavar="SITE.toml",
                        help="the live site file (chargers, limits, strategy, feeder); default: the one "
                             "recorded in the store by the last `feedertwin live` start")
    replay.add_argument("--strategy", metavar="NAME", help="the strategy to replay (default: the site file's)")
    replay.add_argument("--grid", metavar="NETWORK", choices=NETWORK_NAMES,
                        help="the feeder for a site file without [grid] (no base load then)")
    replay.add_argument("--out", metavar="DIR", help="output directory (default: out/<site name>-replay/)")
    replay.add_argument("--no-report", action="store_true", help="write data files only, no report.html")
    replay.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.live.recorded import recorded_sessions
    from sim.live.store import read_events

    site, raw = _site(args.store, args.site)
    recorded = recorded_sessions(read_events(args.store))
    if not any(s.departure_t_s > s.arrival_t_s for s in recorded):
        raise ReplayError(f"store {args.store}: no recorded session to replay (a session needs a start and a "
                          "later stop or meter value)")
    out_dir = Path(args.out) if args.out else Path("out") / f"{site.name}-replay"
    results = replay(site, raw, recorded, out_dir, strategy=args.strategy, grid_network=args.grid)
    report = None
    if not args.no_report:
        from sim.report import write_report

        report = write_report(results, out_dir / "report.html")
    r = results.summary["replay"]
    for what, unit in (("energy_delivered_kwh", "kWh"), ("peak_charging_kw", "kW"),
                       ("minutes_site_limit_violation", "min")):
        print(f"  {what:30s} measured {r['measured'][what]:9.1f} {unit:3s}  "
              f"{r['strategy']} {r['simulated'][what]:9.1f} {unit}")
    print(f"results: {out_dir.resolve()}")
    if report is not None:
        print(f"report:  {Path(report).resolve()}")
    return 0


def _site(store: str, site_file: str | None) -> tuple[LiveSite, dict[str, Any]]:
    """The site (validated) and its raw TOML mapping: from ``--site``, else the one the store recorded."""
    import tomllib

    from sim.live.site_file import site_from_dict
    from sim.live.store import read_site_file
    from sim.scenario.load import read_toml

    if site_file is not None:
        raw = read_toml(Path(site_file))
        return site_from_dict(raw, site_file), raw
    recorded = read_site_file(store)
    if recorded is None:
        raise ReplayError(f"store {store}: no site file recorded in it (a store written before `feedertwin live` "
                          "recorded its site file); give --site SITE.toml")
    path, text = recorded
    raw = tomllib.loads(text)
    return site_from_dict(raw, path), raw


def replay(site: LiveSite, raw: dict[str, Any], recorded: list[RecordedSession], out_dir: Path, *,
           strategy: str | None = None, grid_network: str | None = None) -> Results:
    """Simulate ``recorded`` on ``site`` (``raw``: its site file's TOML mapping); save the results
    (with ``summary["replay"]`` and the measured power column) in ``out_dir``."""
    import numpy as np

    from sim.engine import Simulation
    from sim.live.recorded import metered_power_kw, to_domain_sessions
    from sim.report.replay_section import MEASURED_POWER_COLUMN
    from sim.scenario import scenario_from_dict

    period_s = site.control.period_s
    recorded = [s for s in recorded if s.departure_t_s > s.arrival_t_s]
    start_t_s = math.floor(min(s.arrival_t_s for s in recorded) / period_s) * period_s
    end_t_s = max(math.ceil(max(s.departure_t_s for s in recorded) / period_s) * period_s, start_t_s + period_s)
    charger_rows = _charger_rows(site, raw, recorded)
    efficiency = {row["id"]: float(row.get("efficiency", 0.95)) for row in charger_rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = _write_sessions_csv(out_dir / SESSIONS_CSV, to_domain_sessions(recorded, start_t_s, efficiency),
                                   start_t_s)
    data = _scenario_data(site, raw, charger_rows, csv_path, start_t_s, end_t_s - start_t_s, strategy, grid_network)
    simulation = Simulation.from_scenario(scenario_from_dict(data, site.path))
    results = simulation.run()
    setup = simulation.setup
    edges_t_s = start_t_s + np.append(setup.tick_s, setup.tick_s[-1] + period_s)
    measured_p_kw = metered_power_kw(recorded, setup.chargers.ids, edges_t_s)
    broken, _ = setup.site.limit_use_all(setup.chargers.current_a(measured_p_kw))
    measured_total_kw = measured_p_kw.sum(axis=1)  # one tick per timeseries row: the recorder's period is the tick
    kpis = results.summary["kpis"]
    measured = {"energy_delivered_kwh": sum(s.metered_wh / 1000.0 * efficiency[s.charger_id] for s in recorded),
                "peak_charging_kw": float(measured_total_kw.max()),
                "minutes_site_limit_violation": float(np.count_nonzero(broken)) * period_s / 60.0,
                "n_sessions": len(recorded)}
    replayed = dataclasses.replace(
        results,
        summary={**results.summary, "replay": {
            "strategy": setup.scenario.strategy.name,
            "measured": measured,
            "simulated": {k: kpis[k] for k in measured},
            "sessions_open_at_store_end": sum(not s.ended for s in recorded),
        }},
        timeseries=results.timeseries.assign(**{MEASURED_POWER_COLUMN: measured_total_kw}),
    )
    replayed.save(out_dir)
    return replayed


def _charger_rows(site: LiveSite, raw: dict[str, Any], recorded: list[RecordedSession]) -> list[dict[str, Any]]:
    """The site file's [[chargers]] rows, plus one per accepted unknown charger seen in the store."""
    rows: list[dict[str, Any]] = [dict(row) for row in raw.get("chargers", [])]
    listed = {row["id"] for row in rows}
    template = dict(raw.get("unknown_chargers", {}))
    for charger_id in dict.fromkeys(s.charger_id for s in recorded):
        if charger_id not in listed:
            if site.unknown_charger is None:
                raise ReplayError(f"store: sessions on charger {charger_id!r}, which the site file {site.file_label} "
                                  "does not list; expected the site file the store was recorded with")
            rows.append({**template, "id": charger_id, "bus": template.get("bus", 0)})
            listed.add(charger_id)
    return rows


def _write_sessions_csv(path: Path, sessions: Any, start_t_s: float) -> Path:
    """The sessions in the scenario loader's CSV format (times ISO 8601 in UTC)."""
    def iso(t_s: float) -> str:
        return datetime.fromtimestamp(start_t_s + t_s, UTC).isoformat()

    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(("session_id", "charger_id", "arrival", "departure", "energy_kwh"))
        for s in sessions:
            writer.writerow((s.session_id, s.charger_id, iso(s.arrival_s), iso(s.departure_s), repr(s.energy_kwh)))
    return path


def _scenario_data(site: LiveSite, raw: dict[str, Any], charger_rows: list[dict[str, Any]], csv_path: Path,
                   start_t_s: float, duration_s: float, strategy: str | None,
                   grid_network: str | None) -> dict[str, Any]:
    """A scenario mapping: the site file without its live-only keys, the recorded window, the CSV."""
    data = {k: v for k, v in raw.items() if k not in LIVE_ONLY_KEYS}
    if "grid" not in data:
        if grid_network is None:
            raise ReplayError(f"site file {site.file_label} has no [grid]; replay needs a feeder: give "
                              "--grid NETWORK (e.g. --grid cigre_lv), or add a [grid] table to the site file")
        data["grid"] = {"network": grid_network, "base_load": {"profile": "none"}}
    data["name"] = f"{site.name}-replay"
    data["chargers"] = charger_rows
    data["simulation"] = {"start": datetime.fromtimestamp(start_t_s, site.time_zone), "duration": f"{duration_s}s",
                          "control_period_s": site.control.period_s, "seed": 0}
    data["fleet"] = {"source": "csv", "file": str(csv_path.resolve())}
    if strategy is not None:
        data["strategy"] = {"name": strategy}
    return data
