"""Issue 4: one simulated year on the IEEE European LV feeder, 55 home chargers, end to end.

``scenarios/ieee_eu_lv_grid_aware.toml`` (907 buses, 55 chargers of 22 kW, 35,040 ticks of 15 min,
an AC load flow at every tick) under ``edf`` and under ``grid_aware`` edf. Two measurements each:

* in this process: set-up (network, sessions, profiles), the run (decisions, look-ahead load flows
  for grid_aware, the block-solved recorded load flows), and writing the results (no report);
* ``feedertwin run --no-report --quiet`` as a fresh process: what a user waits for, imports included.

Targets (issue 4): under 10 s with edf and under 20 s with grid_aware, end to end.
Run: ``.venv/bin/python benchmarks/bench_year.py`` (``--only edf|grid_aware`` for one strategy,
``--no-cli`` for the in-process part only).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from sim.engine import Simulation, build_setup  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "ieee_eu_lv_grid_aware.toml"
TARGET_S = {"edf": 10.0, "grid_aware": 20.0}


def _scenario_file(strategy: str, out_dir: Path) -> Path:
    """The shipped scenario, or a copy whose [strategy] section is just ``name = strategy``."""
    if strategy == "grid_aware":
        return SCENARIO
    text = SCENARIO.read_text(encoding="utf-8")
    path = out_dir / f"{strategy}.toml"
    path.write_text(text[: text.index("[strategy]")] + f'[strategy]\nname = "{strategy}"\n', encoding="utf-8")
    return path


def _in_process(strategy: str, out_dir: Path) -> None:
    scenario = load_scenario(_scenario_file(strategy, out_dir))
    t0 = time.perf_counter()
    setup = build_setup(scenario)
    t1 = time.perf_counter()
    results = Simulation(setup).run()
    t2 = time.perf_counter()
    results.save(out_dir / strategy)
    t3 = time.perf_counter()
    s, k = results.summary, results.kpis
    print(f"{strategy:>10}: set-up {t1 - t0:.2f} s, run {t2 - t1:.2f} s ({1e6 * (t2 - t1) / s['n_steps']:.0f} us per "
          f"tick, {s['n_sessions']} sessions, {s['loadflow_lookahead_solves']} look-ahead load flows), save "
          f"{t3 - t2:.2f} s; total {t3 - t0:.2f} s | vm_min {k['vm_min_pu']:.3f} pu, max line "
          f"{k['max_line_loading_percent']:.0f} %, unmet {k['energy_unmet_kwh']:.0f} kWh")


def _cli(strategy: str, out_dir: Path) -> float:
    cmd = [sys.executable, "-m", "sim", "run", str(_scenario_file(strategy, out_dir)), "--no-report", "--quiet",
           "--out", str(out_dir / f"cli-{strategy}")]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ})
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=tuple(TARGET_S), help="measure this strategy only")
    parser.add_argument("--no-cli", action="store_true", help="skip the `feedertwin run` subprocess part")
    args = parser.parse_args()
    strategies = (args.only,) if args.only else tuple(TARGET_S)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        print("in process (set-up, run, save):")
        for strategy in strategies:
            _in_process(strategy, out_dir)
        if args.no_cli:
            return
        print("`feedertwin run --no-report` as a new process (imports included):")
        for strategy in strategies:
            wall_s = _cli(strategy, out_dir)
            print(f"{strategy:>10}: {wall_s:.1f} s (target under {TARGET_S[strategy]:.0f} s)")


if __name__ == "__main__":
    main()
