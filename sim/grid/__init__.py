"""The grid room: the only room that imports pandapower and simbench.

Build a feeder (a named standard network, a SimBench code or a pandapower JSON file), place
chargers on its buses, compute base-load and PV injections for all ticks, and run AC load flows
through the ``LoadFlow`` interface: pandapower's Newton-Raphson (``PandapowerLoadFlow``) or the
fast, exact fixed point on pandapower's own factorised model (``FastLoadFlow``, which also solves
whole blocks of steps at once: ``solve_block`` -> ``BlockResult``). ``make_loadflow`` picks one by
the scenario's name for it.
"""

from sim.grid.fast import BlockResult, FastLoadFlow, make_loadflow
from sim.grid.fast_model import UnsupportedNetworkError
from sim.grid.feeder import BaseInjections, Feeder, build_feeder
from sim.grid.loadflow import LoadFlow, PandapowerLoadFlow
from sim.grid.networks import NETWORKS, load_network
from sim.grid.placement import place_chargers

__all__ = [
    "NETWORKS",
    "BaseInjections",
    "BlockResult",
    "FastLoadFlow",
    "Feeder",
    "LoadFlow",
    "PandapowerLoadFlow",
    "UnsupportedNetworkError",
    "build_feeder",
    "load_network",
    "make_loadflow",
    "place_chargers",
]
