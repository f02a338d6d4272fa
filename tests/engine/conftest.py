"""Small, fast scenarios for engine tests (built in Python, no files needed)."""

from __future__ import annotations

from typing import Any

import pytest

from sim.scenario import scenario_from_dict


def small_scenario_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "engine-test",
        "simulation": {"start": "2026-03-02T00:00:00+01:00", "duration": "1d", "control_period_s": 900, "seed": 1},
        "grid": {"network": "kerber_landnetz_kabel_1", "pv": {"share": 0.5, "kwp": 4.0}},
        "chargers": [{"place": "per_load_bus", "id_prefix": "cp", "max_current_a": 16, "kind": "home"}],
        "fleet": {"source": "generate", "kinds": {"home": {"sessions_per_day": 2.0, "dwell_h_mean": 5.0}}},
        "battery": {"model": "taper"},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    return data


@pytest.fixture
def small_scenario():
    return scenario_from_dict(small_scenario_dict())
