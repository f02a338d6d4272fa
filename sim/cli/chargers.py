"""``feedertwin chargers``: a fleet of simulated OCPP charge points playing a scenario's sessions.

The chargers and sessions are the ones ``feedertwin run`` simulates for the same scenario (built by
``sim.engine.build_setup``, same seed, same streams); they connect to ``--csms`` as
``<URL>/<charger id>``, boot, start and stop transactions, send meter values and obey the charging
profiles they receive. ``--speed N`` runs their clock N times faster than real time.
``--password-file`` and ``--cafile`` give them OCPP security profile 1 and 2 credentials (basic
auth with user = charger id; the CA that signed a ``wss://`` server's certificate).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli._common import add_overrides, positive_number

if TYPE_CHECKING:
    from sim.live.chargepoint import ChargerConfig, SimClock, SimulatedCharger
    from sim.scenario import Scenario


def csms_url(text: str) -> str:
    """A ``ws://`` or ``wss://`` URL, as an argparse ``type``."""
    if not text.startswith(("ws://", "wss://")) or len(text.split("://", 1)[1]) == 0:
        raise argparse.ArgumentTypeError(f"expected a websocket URL such as ws://127.0.0.1:9000/; got {text!r}")
    return text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chargers", help="run simulated OCPP charge points from a scenario against a CSMS",
                       description="A simulated charge point per scenario charger, playing the scenario's sessions "
                                   "over OCPP 1.6J or 2.0.1 against a central system (e.g. feedertwin live).")
    p.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in default scenario)")
    p.add_argument("--csms", type=csms_url, required=True, metavar="URL",
                   help="the central system, e.g. ws://127.0.0.1:9000/ (each charger appends its id)")
    p.add_argument("--speed", type=positive_number(), default=1.0, metavar="N",
                   help="run the chargers' clock N times faster than real time (default 1)")
    p.add_argument("--ocpp", choices=("1.6", "2.0.1", "mixed"), default="1.6",
                   help="protocol version; mixed alternates 1.6 and 2.0.1 by charger (default 1.6)")
    p.add_argument("--meter-interval", type=positive_number(), default=60.0, metavar="SECONDS",
                   help="simulated seconds between meter values during a transaction (default 60)")
    p.add_argument("--clock", choices=("now", "scenario"), default="now",
                   help="what scenario time 0 is on the chargers' clock: the moment they start (default) or "
                        "the scenario's [simulation] start")
    p.add_argument("--stagger", type=float, default=0.0, metavar="SECONDS",
                   help="spread the connections over this many real seconds (default 0)")
    p.add_argument("--password-file", metavar="FILE", default=None,
                   help="basic-auth passwords (security profiles 1 and 2): one IDENTITY:PASSWORD per line, "
                        "*:PASSWORD for every other charger; the user name is the charger id")
    p.add_argument("--cafile", metavar="CA.pem", default=None,
                   help="wss:// only: trust the server certificate signed by these CA certificates (PEM) "
                        "instead of the system's")
    p.add_argument("--linger", action="store_true", help="stay connected after the last session (until Ctrl-C)")
    add_overrides(p)
    p.add_argument("--verbose", "-v", action="store_true", help="log every connection and refusal (INFO)")
    p.set_defaults(func=command)


def fleet_from_scenario(scenario: Scenario, clock: SimClock, *, ocpp: str = "1.6",
                        config: ChargerConfig | None = None) -> list[SimulatedCharger]:
    """The simulated chargers of ``scenario`` with the very chargers and sessions ``feedertwin run``
    simulates (``sim.engine.build_setup``: same seed, same random streams, same placement)."""
    from sim.domain import BatteryModel
    from sim.engine import build_setup
    from sim.live.chargepoint import build_fleet

    setup = build_setup(scenario)
    battery = BatteryModel(scenario.battery.model, scenario.battery.transition_soc)
    return build_fleet(setup.chargers.chargers, setup.sessions.sessions, battery, clock, ocpp=ocpp, config=config)


def command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sim.live.chargepoint import ChargerConfig, SimClock, run_fleet, summarise
    from sim.live.security import CredentialsError, client_ssl_context, password_for, read_password_file
    from sim.scenario import default_scenario_path, load_scenario

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    path = Path(args.scenario) if args.scenario else default_scenario_path()
    scenario = load_scenario(path, args.overrides)
    origin_s = scenario.simulation.start.timestamp() if args.clock == "scenario" else None
    clock = SimClock(args.speed, origin_s)
    if args.cafile is not None and not args.csms.startswith("wss://"):
        raise CredentialsError(f"--cafile {args.cafile}: only for a wss:// --csms URL; got {args.csms!r}")
    ssl_context = client_ssl_context(args.cafile) if args.cafile is not None else None
    passwords = read_password_file(args.password_file) if args.password_file is not None else {}
    fleet = fleet_from_scenario(scenario, clock, ocpp=args.ocpp,
                                config=ChargerConfig(meter_interval_s=args.meter_interval, ssl_context=ssl_context))
    for charger in fleet:
        charger.config = replace(charger.config, password=password_for(passwords, charger.charger_id))
    n_sessions = sum(len(c.sessions) for c in fleet)
    duration_s = scenario.simulation.duration_s
    print(f"{len(fleet)} simulated chargers (OCPP {args.ocpp}), {n_sessions} sessions of scenario "
          f"'{scenario.name}' -> {args.csms}; {duration_s / 3600:g} h of scenario time take "
          f"{duration_s / args.speed / 60:.1f} min at speed {args.speed:g}", flush=True)
    started = time.perf_counter()
    asyncio.run(run_fleet(fleet, args.csms, stagger_s=args.stagger, linger=args.linger))
    s = summarise(fleet)
    print(f"done in {time.perf_counter() - started:.1f} s: {s.transactions} transactions, {s.energy_kwh:.1f} kWh "
          f"metered, {s.calls_sent} calls ({s.call_errors} CALLERRORs), {s.connects} connections")
    return 0
