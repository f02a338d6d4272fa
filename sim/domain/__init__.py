"""Plain data and pure functions shared by every room (stdlib + numpy only)."""

from sim.domain.battery import BatteryModel, acceptance_kw
from sim.domain.chargers import Charger, ChargerTable
from sim.domain.constraints import Constraints, LimitNode, build_constraints, no_constraints
from sim.domain.grid_state import GridSensitivity, GridState
from sim.domain.sessions import Session
from sim.domain.site import ActiveSessions, Forecast, Setpoints, SiteView
from sim.domain.timebase import Timebase

__all__ = [
    "ActiveSessions",
    "BatteryModel",
    "Charger",
    "ChargerTable",
    "Constraints",
    "Forecast",
    "LimitNode",
    "GridSensitivity",
    "GridState",
    "Session",
    "Setpoints",
    "SiteView",
    "Timebase",
    "acceptance_kw",
    "build_constraints",
    "no_constraints",
]
