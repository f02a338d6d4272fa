"""``uncontrolled``: every plugged-in vehicle is offered its charger's full current, limits ignored.

The baseline that shows the problem managed charging solves: what the feeder sees when every car
charges as soon as it plugs in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.domain import Setpoints, SiteView
from sim.strategies.base import reject_unknown_params


class Uncontrolled:
    name = "uncontrolled"
    needs_grid_state = False  # never reads view.grid: load flows may be deferred
    PARAMS: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Uncontrolled:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        return cls()

    def compute(self, view: SiteView) -> Setpoints:
        current_a = np.zeros(len(view.chargers))
        occupied = view.sessions.charger_index
        current_a[occupied] = view.chargers.max_current_a[occupied]
        return Setpoints(current_a)
