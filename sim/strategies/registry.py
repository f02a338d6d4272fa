"""Strategies by name: the built-in dict plus the ``feedertwin.strategies`` entry-point group.

A plug point takes a name or an object: ``create("edf")`` or ``create(MyStrategy())``.
Third-party packages register a class with a ``from_params(params)`` classmethod under the entry-point
group ``feedertwin.strategies``; nothing registers itself as a side effect of import.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from sim.errors import StrategyError
from sim.strategies.base import Strategy
from sim.strategies.equal_share import EqualShare
from sim.strategies.grid_aware import GridAware
from sim.strategies.mpc import Mpc
from sim.strategies.peak_shaving import PeakShaving
from sim.strategies.price_aware import PriceAware
from sim.strategies.pv_surplus import PvSurplus
from sim.strategies.sorted_family import EarliestDeadlineFirst, FirstComeFirstServed, LeastLaxityFirst
from sim.strategies.uncontrolled import Uncontrolled

ENTRY_POINT_GROUP = "feedertwin.strategies"

BUILTIN: dict[str, Any] = {
    "uncontrolled": Uncontrolled,
    "equal_share": EqualShare,
    "fcfs": FirstComeFirstServed,
    "edf": EarliestDeadlineFirst,
    "llf": LeastLaxityFirst,
    "peak_shaving": PeakShaving,
    "price_aware": PriceAware,
    "pv_surplus": PvSurplus,
    "mpc": Mpc,
    "grid_aware": GridAware,
}


def available() -> dict[str, Any]:
    """Every strategy class by name: built-ins first, then installed entry points."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = ep
    return found


def create(strategy: str | Strategy, params: Mapping[str, Any] | None = None) -> Strategy:
    """A strategy from a registered name and its parameters, or a ready-made object as it is."""
    params = dict(params or {})
    if not isinstance(strategy, str):
        if not isinstance(strategy, Strategy):
            raise StrategyError(f"{strategy!r} is not a strategy: it needs a 'name' and a compute(view) method")
        if params:
            raise StrategyError("parameters can only be given with a strategy name, not with an object")
        return strategy
    registry = available()
    if strategy not in registry:
        raise StrategyError(f"unknown strategy {strategy!r}; available: {', '.join(sorted(registry))}")
    cls = registry[strategy]
    if hasattr(cls, "load"):  # an entry point not loaded yet
        cls = cls.load()
    instance: Strategy = cls.from_params(params)
    return instance
