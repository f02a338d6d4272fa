"""Pluggable load-management strategies and their registry (imports domain and core_ext only)."""

from sim.strategies.base import Strategy
from sim.strategies.equal_share import EqualShare
from sim.strategies.peak_shaving import PeakShaving
from sim.strategies.phase_balance import PhaseBalance
from sim.strategies.price_aware import PriceAware
from sim.strategies.pv_surplus import PvSurplus
from sim.strategies.registry import BUILTIN, ENTRY_POINT_GROUP, available, create
from sim.strategies.sorted_family import (
    EarliestDeadlineFirst,
    FirstComeFirstServed,
    LeastLaxityFirst,
    SortedStrategy,
)
from sim.strategies.uncontrolled import Uncontrolled

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "EarliestDeadlineFirst",
    "EqualShare",
    "FirstComeFirstServed",
    "LeastLaxityFirst",
    "PeakShaving",
    "PhaseBalance",
    "PriceAware",
    "PvSurplus",
    "SortedStrategy",
    "Strategy",
    "Uncontrolled",
    "available",
    "create",
]
