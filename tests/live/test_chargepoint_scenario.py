"""A scenario's fleet of simulated chargers, uncontrolled, delivers what ``feedertwin run`` does.

The fleet comes from ``sim.cli.chargers.fleet_from_scenario`` (the composition ``feedertwin
chargers`` uses: the simulator's own chargers and sessions), plays a day at high speed against
the minimal ocpp-library CSMS, and every session's energy must match the simulation's
``uncontrolled`` run: same sessions, same battery model, same efficiency. They differ only where
the taper is sampled (every 300 s from each plug-in here, at each control tick in the simulator).
"""

from __future__ import annotations

import asyncio

import pytest

from sim.cli.chargers import fleet_from_scenario
from sim.engine import simulate
from sim.live.chargepoint import ChargerConfig, SimClock, run_fleet
from sim.scenario import load_scenario
from tests.live.chargepoint_csms import Csms, serve_csms

SCENARIO = "scenarios/workplace.toml"
OVERRIDES = ["simulation.duration=1d", "strategy.name=uncontrolled"]


def test_uncontrolled_fleet_delivers_what_the_simulator_does() -> None:
    scenario = load_scenario(SCENARIO, OVERRIDES)
    simulated = simulate(scenario).sessions.set_index("session_id")["energy_delivered_kwh"]

    async def play() -> dict[str, float]:
        csms = Csms()
        async with serve_csms(csms) as url:
            fleet = fleet_from_scenario(scenario, SimClock(speed=10_000.0), ocpp="mixed",
                                        config=ChargerConfig(meter_interval_s=900.0, update_interval_s=300.0))
            await asyncio.wait_for(run_fleet(fleet, url), 120)
        assert all(c.stats.call_errors == 0 for c in fleet)
        return {k: v for c in fleet for k, v in c.delivered_kwh.items()}

    delivered = asyncio.run(play())
    assert set(delivered) == set(simulated.index) and len(delivered) >= 5
    for session_id, kwh in delivered.items():
        assert kwh == pytest.approx(simulated[session_id], rel=0.01, abs=0.05), session_id
    assert sum(delivered.values()) == pytest.approx(simulated.sum(), rel=0.005)


def test_the_chargers_command(capsys: pytest.CaptureFixture[str]) -> None:
    """``feedertwin chargers`` end to end (its own event loop in a worker thread, the CSMS in ours)."""
    from sim.cli import main

    async def serve_and_run() -> int:
        csms = Csms()
        async with serve_csms(csms) as url:
            return await asyncio.to_thread(main, [
                "chargers", SCENARIO, "--csms", url, "--speed", "50000", "--ocpp", "2.0.1",
                "--meter-interval", "3600", *[a for o in OVERRIDES for a in ("--set", o)]])

    assert asyncio.run(asyncio.wait_for(serve_and_run(), 120)) == 0
    out = capsys.readouterr().out
    assert "10 simulated chargers (OCPP 2.0.1)" in out and "0 CALLERRORs" in out, out


def test_the_chargers_command_refuses_a_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["chargers", SCENARIO, "--csms", "http://127.0.0.1:9000/"])
    assert exit_.value.code == 2
    assert "expected a websocket URL such as ws://127.0.0.1:9000/; got 'http://127.0.0.1:9000/'" in capsys.readouterr().err
