"""The scenario room: the scenario file (TOML) as typed, frozen ``Scenario`` dataclasses.

``load_scenario(path, overrides)`` reads, validates and builds; ``save_scenario`` writes one back;
``scenario_hash`` identifies a scenario together with the files it references. The file format is
documented in ``sim.scenario.load``; the dataclasses in ``sim.scenario.schema``.
"""

from sim.scenario._time import format_duration, parse_duration
from sim.scenario.load import (
    BUILTIN_SCENARIOS_DIR,
    default_scenario_path,
    load_scenario,
    save_scenario,
    scenario_from_dict,
    scenario_hash,
)
from sim.scenario.overrides import apply_overrides
from sim.scenario.schema import Scenario

__all__ = [
    "BUILTIN_SCENARIOS_DIR",
    "Scenario",
    "apply_overrides",
    "default_scenario_path",
    "format_duration",
    "load_scenario",
    "parse_duration",
    "save_scenario",
    "scenario_from_dict",
    "scenario_hash",
]
