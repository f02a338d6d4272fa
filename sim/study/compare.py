"""Run several strategies on identical sessions and feeder, and tabulate what each achieves.

The sessions, chargers and PV come from the scenario's seed through streams that do not depend on
the strategy (see docs/design.md), so every strategy sees exactly the same inputs; the set-up is
built once and only the strategy differs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.engine import Simulation, build_setup
from sim.results import Results
from sim.scenario import Scenario, load_scenario
from sim.strategies import Strategy, create

# Table column -> KPI key in summary.json (None: computed here).
COLUMNS: dict[str, str | None] = {
    "energy_delivered_kwh": "energy_delivered_kwh",
    "energy_unmet_kwh": "energy_unmet_kwh",
    "share_sessions_fully_served": "share_sessions_fully_served",
    "peak_charging_kw": "peak_charging_kw",
    "peak_import_kw": "peak_import_kw",
    "charging_cost": "charging_cost",
    "minutes_site_limit_violation": "minutes_site_limit_violation",
    "minutes_voltage_violation": "minutes_voltage_violation",
    "minutes_overload": "minutes_overload",
    "vm_min_pu": "vm_min_pu",
    "max_trafo_loading_percent": "max_trafo_loading_percent",
    "runtime_s": None,
}


@dataclass(frozen=True)
class Comparison:
    """One row per strategy (``table``) and each strategy's full results (``results``)."""

    table: pd.DataFrame
    results: dict[str, Results]

    def save(self, out_dir: str | Path) -> Path:
        """Each run under ``out_dir/<strategy>/``, the table as ``comparison.csv``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, results in self.results.items():
            results.save(out / name)
        self.table.to_csv(out / "comparison.csv", index_label="strategy")
        return out


def compare(
    scenario: Scenario | str | Path,
    strategies: Sequence[str | Strategy],
    *,
    overrides: Sequence[str] = (),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> Comparison:
    """Simulate ``scenario`` once per strategy (a registered name or an object) on identical inputs.

    ``params`` gives parameters per strategy name (``{"peak_shaving": {"target_kw": 80}}``); the
    scenario's own strategy gets its ``[strategy]`` parameters unless ``params`` names it too.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    base = build_setup(scenario)
    rows: dict[str, dict[str, float]] = {}
    results: dict[str, Results] = {}
    for spec in strategies:
        strategy = create(spec, _params_for(spec, scenario, params or {}))
        if strategy.name in results:
            raise ValueError(f"strategy {strategy.name!r} is listed twice")
        if on_start is not None:
            on_start(strategy.name)
        started = time.perf_counter()
        run = Simulation(dataclasses.replace(base, strategy=strategy)).run()
        elapsed = time.perf_counter() - started
        kpis = run.summary["kpis"]
        rows[strategy.name] = {
            col: (elapsed if key is None else _number(kpis.get(key))) for col, key in COLUMNS.items()
        }
        results[strategy.name] = run
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    return Comparison(table, results)


def _params_for(spec: str | Strategy, scenario: Scenario,
                params: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    if not isinstance(spec, str):
        return None
    if spec in params:
        return dict(params[spec])
    return dict(scenario.strategy.params) if spec == scenario.strategy.name else None


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]
