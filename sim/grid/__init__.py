"""The grid room: the only room that imports pandapower and simbench.

Build a feeder (a named standard network, a SimBench code or a pandapower JSON file), place
chargers on its buses, compute base-load and PV injections for all ticks, and run AC load flows
through the ``LoadFlow`` interface.
"""

from sim.grid.feeder import BaseInjections, Feeder, build_feeder
from sim.grid.loadflow import LoadFlow, PandapowerLoadFlow
from sim.grid.networks import NETWORKS, load_network
from sim.grid.placement import place_chargers

__all__ = [
    "NETWORKS",
    "BaseInjections",
    "Feeder",
    "LoadFlow",
    "PandapowerLoadFlow",
    "build_feeder",
    "load_network",
    "place_chargers",
]
