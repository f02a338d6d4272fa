"""How much power a vehicle's battery accepts at a given state of charge.

``ideal``: the vehicle takes its full power until the requested energy is in.
``taper``: acnportal's two-stage battery: constant power up to ``transition_soc``, then an
acceptance falling linearly to zero at a full battery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

BATTERY_MODELS = ("ideal", "taper")


@dataclass(frozen=True)
class BatteryModel:
    kind: str = "ideal"
    transition_soc: float = 0.8

    @property
    def taper(self) -> bool:
        return self.kind == "taper"


def acceptance_kw(model: BatteryModel, soc: ArrayLike, max_power_kw: ArrayLike) -> NDArray[np.float64]:
    """Battery-side power (kW) the vehicle accepts at state of charge ``soc`` (0..1)."""
    soc_arr = np.asarray(soc, dtype=float)
    p_max = np.asarray(max_power_kw, dtype=float)
    if not model.taper:
        return np.broadcast_to(p_max, np.broadcast(soc_arr, p_max).shape).astype(float)
    span = 1.0 - model.transition_soc
    frac = np.clip((1.0 - soc_arr) / span, 0.0, 1.0) if span > 0 else (soc_arr < 1.0).astype(float)
    accepted_kw: NDArray[np.float64] = p_max * frac
    return accepted_kw
