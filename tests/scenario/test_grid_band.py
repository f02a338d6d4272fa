"""``[grid] vm_band_pu`` and ``vuf_limit_percent``: the band and the unbalance limit a run's KPIs
and report judge against; defaults EN 50160's; bad values name the key, the value and what is valid;
a scenario without them keeps its hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario import default_scenario_path, load_scenario, scenario_hash
from sim.scenario._dump import scenario_to_dict

DEFAULT = default_scenario_path()


def test_defaults_and_hash_unchanged() -> None:
    scenario = load_scenario(DEFAULT)
    assert scenario.grid.vm_band_pu == (0.9, 1.1) and scenario.grid.vuf_limit_percent == 2.0
    # the canonical mapping (what a scenario built in Python is hashed from) leaves the defaults out,
    # so the hashes of scenarios written before these keys existed do not change
    grid = scenario_to_dict(scenario, scenario.base_dir)["grid"]
    assert "vm_band_pu" not in grid and "vuf_limit_percent" not in grid
    narrow = load_scenario(DEFAULT, ["grid.vm_band_pu=[0.95, 1.05]"])
    assert scenario_to_dict(narrow, narrow.base_dir)["grid"]["vm_band_pu"] == [0.95, 1.05]
    assert scenario_hash(narrow) != scenario_hash(scenario)


def test_a_band_reaches_the_kpis() -> None:
    import sim

    wide = sim.simulate(load_scenario(DEFAULT, ["simulation.duration=1d"]))
    narrow = sim.simulate(load_scenario(DEFAULT, ["simulation.duration=1d", "grid.vm_band_pu=[0.99, 1.01]"]))
    assert narrow.summary["vm_band_pu"] == [0.99, 1.01]
    assert narrow.kpis["minutes_voltage_violation"] > wide.kpis["minutes_voltage_violation"] == 0.0
    assert "vuf_limit_percent" not in narrow.summary  # balanced run


@pytest.mark.parametrize(("override", "message"), [
    ("grid.vm_band_pu=[1.1, 0.9]", "not a voltage band around 1 pu"),
    ("grid.vm_band_pu=0.9", "not a voltage band"),
    ("grid.vm_band_pu=[0.9, 1.1, 1.2]", "not a voltage band"),
    ("grid.vuf_limit_percent=0", "vuf_limit_percent"),
])
def test_bad_values_name_the_key(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=message) as error:
        load_scenario(DEFAULT, [override])
    assert "grid." in str(error.value)
