"""feedertwin: a digital twin of a distribution feeder with EV charging.

The public Python API::

    import sim
    scenario = sim.load_scenario("scenarios/workplace.toml")
    results = sim.simulate(scenario)          # -> sim.Results (DataFrames + summary)
    results.save("out/workplace")
    again = sim.load_results("out/workplace")

Importing ``sim`` is cheap and has no side effects: the heavy rooms (pandapower, simpy) load on
first use of the name that needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load_scenario": "sim.scenario",
    "save_scenario": "sim.scenario",
    "Scenario": "sim.scenario",
    "simulate": "sim.engine",
    "compare": "sim.study",
    "Comparison": "sim.study",
    "load_study": "sim.study",
    "Study": "sim.study",
    "sweep": "sim.study",
    "SweepResult": "sim.study",
    "load_sweep": "sim.study",
    "hosting_capacity": "sim.study",
    "HostingResult": "sim.study",
    "Simulation": "sim.engine",
    "Results": "sim.results",
    "load_results": "sim.results",
    "write_report": "sim.report",
    "write_dir_report": "sim.report.directory",
    "Setpoints": "sim.domain",
    "SiteView": "sim.domain",
    "FeedertwinError": "sim.errors",
    "ScenarioError": "sim.errors",
    "DataError": "sim.errors",
    "LoadFlowError": "sim.errors",
    "StrategyError": "sim.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
