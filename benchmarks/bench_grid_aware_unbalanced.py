"""``grid_aware`` edf under the unbalanced load flow: the per-tick cost of its per-phase rows.

One winter day (96 ticks of 15 min) of the IEEE European LV feeder with 30 single-phase 7.4 kW home
chargers on L1 (the scenario of ``tests/strategies/test_grid_aware_unbalanced.py``), run under ``edf``
and ``grid_aware`` edf, with ``loadflow = "unbalanced"`` and, for comparison, the balanced ``"fast"``.
The difference per tick is what grid_aware adds: the look-ahead load flow, its sensitivities
(``sim.grid.sensitivity3ph``; the impedance columns once per run, included) and the rows. One process,
BLAS on one thread; each case the fastest of ``--repeat`` runs in one process (compare the ratios).
Run: ``.venv/bin/python benchmarks/bench_grid_aware_unbalanced.py [--days N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from sim.engine import Simulation, build_setup  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _scenario_text(loadflow: str, days: int) -> str:
    """The test's scenario with ``loadflow`` and ``days``."""
    from tests.strategies.test_grid_aware_unbalanced import SCENARIO

    return SCENARIO.replace('loadflow = "unbalanced"', f'loadflow = "{loadflow}"').replace(
        'duration = "1d"', f'duration = "{days}d"')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest counts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for loadflow in ("unbalanced", "fast"):
            path = Path(tmp) / f"{loadflow}.toml"
            path.write_text(_scenario_text(loadflow, args.days))
            scenario = load_scenario(path)
            run_s = {}
            for strategy in ("edf", "grid_aware"):
                setup = build_setup(scenario, strategy=None if strategy == "grid_aware" else strategy)
                times = []
                for _ in range(args.repeat):  # the fastest of a few fresh runs: the machine is shared
                    sim = Simulation(setup)  # builds the load flow (and its sequence model): not timed
                    t0 = time.perf_counter()
                    results = sim.run()
                    times.append(time.perf_counter() - t0)
                run_s[strategy] = min(times)
                k, n = results.kpis, results.summary["n_steps"]
                print(f"{loadflow:>10} {strategy:>10}: run {run_s[strategy]:.2f} s ({1e3 * run_s[strategy] / n:.2f} ms "
                      f"per tick) | vm_min {k['vm_min_pu']:.4f} pu, max line {k['max_line_loading_percent']:.0f} %, "
                      f"delivered {k['energy_delivered_kwh']:.0f} kWh")
            extra = (run_s["grid_aware"] - run_s["edf"]) / n
            print(f"{loadflow:>10}: grid_aware adds {1e3 * extra:.2f} ms per tick ({n} ticks)")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
