"""The feeder's state after one load flow, as a strategy and the recorder see it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class GridState:
    """Results of one AC load flow.

    Arrays are aligned with the index tuples the load flow publishes once
    (``LoadFlow.bus_ids``, ``line_ids``, ``trafo_ids``). ``p_import_kw`` is the active power the
    feeder draws from the upstream grid (external grid), positive for import.
    """

    time_s: float
    vm_pu: NDArray[np.float64]
    line_loading_percent: NDArray[np.float64]
    trafo_loading_percent: NDArray[np.float64]
    p_import_kw: float
    q_import_kvar: float
    losses_kw: float

    @property
    def vm_min_pu(self) -> float:
        return float(np.nanmin(self.vm_pu)) if np.isfinite(self.vm_pu).any() else float("nan")

    @property
    def vm_max_pu(self) -> float:
        return float(np.nanmax(self.vm_pu)) if np.isfinite(self.vm_pu).any() else float("nan")

    @property
    def max_line_loading_percent(self) -> float:
        return float(self.line_loading_percent.max()) if self.line_loading_percent.size else 0.0

    @property
    def max_trafo_loading_percent(self) -> float:
        return float(self.trafo_loading_percent.max()) if self.trafo_loading_percent.size else 0.0
