"""Pluggable load-management strategies and their registry (imports domain and core_ext only)."""

from sim.strategies.base import Strategy
from sim.strategies.registry import BUILTIN, ENTRY_POINT_GROUP, available, create
from sim.strategies.uncontrolled import Uncontrolled

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Strategy", "Uncontrolled", "available", "create"]
