"""Rewrite every golden case's expected.json from a fresh run (only when results change on purpose)."""

from __future__ import annotations

import json
from pathlib import Path

import sim

HERE = Path(__file__).resolve().parent

# KPI -> relative tolerance; see README.md in this folder.
TOLERANCES = {
    "n_sessions": 0.0,
    "energy_requested_kwh": 1e-9,
    "energy_delivered_kwh": 1e-9,
    "energy_unmet_kwh": 1e-9,
    "share_sessions_fully_served": 1e-9,
    "charging_energy_kwh": 1e-9,
    "peak_charging_kw": 1e-9,
    "peak_import_kw": 1e-6,
    "max_trafo_loading_percent": 1e-6,
    "max_line_loading_percent": 1e-6,
    "vm_min_pu": 1e-6,
    "vm_max_pu": 1e-6,
    "minutes_voltage_violation": 0.0,
    "minutes_overload": 0.0,
    "losses_kwh": 1e-6,
}


def main() -> None:
    for case in sorted(p for p in HERE.iterdir() if (p / "scenario.toml").is_file()):
        kpis = sim.simulate(case / "scenario.toml").summary["kpis"]
        expected = {k: {"value": kpis[k], "rel_tol": tol} for k, tol in TOLERANCES.items()}
        (case / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
        print(f"{case.name}: {len(expected)} KPIs written")


if __name__ == "__main__":
    main()
