"""The feeder's state after one load flow, as a strategy and the recorder see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
BranchKind = Literal["line", "trafo"]


class GridSensitivity(Protocol):
    """Linear sensitivities of the feeder to charging power, at one load-flow solution.

    Rows are picked by position in the ``GridState`` arrays (``vm_pu``, ``line_loading_percent``,
    ``trafo_loading_percent``; a sensitivity with ``phase_rows = True`` picks voltage rows of
    ``vm_phase_pu.reshape(-1)``, bus b's phase k at 3 b + k); columns are the site's chargers in
    ``ChargerTable`` order. A positive entry means "more charging at this charger raises this
    quantity" (charging usually lowers voltages: negative ``dvm_dp`` entries). Exact to first order
    around the solution (``GridState.charger_p_kw``); ``sim.grid.sensitivity`` explains the model.
    """

    def dvm_dp_pu_per_kw(self, bus_positions: I64) -> F64:
        """d|V| / dP_charging (pu per kW), shape (len(bus_positions), n_chargers)."""
        ...

    def dloading_dp_percent_per_kw(self, kind: BranchKind, positions: I64) -> F64:
        """d loading / dP_charging (percentage points per kW) of lines or transformers."""
        ...

    def change_bounds(self, dp_kw: F64) -> tuple[F64, F64, F64]:
        """Upper bounds on the first-order change of each bus voltage (pu), line loading and
        transformer loading (percentage points) when every charger's power changes by at most
        ``|dp_kw|``, holding the other loads' currents (the model of the sensitivities): a cheap
        filter for the limits that cannot bind. An element no charger feeds still moves a little
        (its own loads draw more current as the voltage sags); strategies keep a margin for that."""
        ...


@dataclass(frozen=True)
class GridState:
    """Results of one AC load flow.

    Arrays are aligned with the index tuples the load flow publishes once
    (``LoadFlow.bus_ids``, ``line_ids``, ``trafo_ids``). ``p_import_kw`` is the active power the
    feeder draws from the upstream grid (external grid), positive for import.

    Optional, where the producer knows them: ``va_degree`` (bus voltage angles), ``charger_p_kw``
    (the charging power per charger this state was solved with: the point a linearisation is
    taken at) and ``sensitivity`` (``GridSensitivity`` at this solution, for grid-aware strategies).

    An unbalanced (three-phase) load flow adds, per phase a, b, c (= L1, L2, L3): ``vm_phase_pu``
    (buses x 3, phase-to-neutral magnitudes), ``vuf_percent`` (per bus, |V2| / |V1| * 100),
    ``vm0_pu`` (per bus, zero-sequence magnitude |V0|), ``line_i_phase_ka`` (lines x 3, the larger of
    both ends per phase) and ``p_import_phase_kw`` (3,). Then ``vm_pu`` is the *lowest phase voltage*
    of each bus, so every consumer that reads ``vm_pu`` for an undervoltage check (what charging
    causes) sees the worst phase; ``vm_min_pu``, ``vm_max_pu`` and ``vm_headroom_pu`` use every
    phase (a lightly loaded phase rises above the others when the neutral point shifts: only the
    phase values show that overvoltage). The loadings are the largest phase's, as pandapower's
    ``res_line_3ph`` / ``res_trafo_3ph`` ``loading_percent``. ``va_phase_degree`` (buses x 3) are the
    phase angles where the solver gives them; with them a per-phase ``GridSensitivity``
    (``sim.grid.sensitivity3ph``) has voltage rows per bus and phase: row ``3 b + phase`` is
    ``vm_phase_pu[b, phase]``.
    """

    time_s: float
    vm_pu: F64
    line_loading_percent: F64
    trafo_loading_percent: F64
    p_import_kw: float
    q_import_kvar: float
    losses_kw: float
    va_degree: F64 | None = None
    charger_p_kw: F64 | None = None
    sensitivity: GridSensitivity | None = None
    vm_phase_pu: F64 | None = None
    vuf_percent: F64 | None = None
    vm0_pu: F64 | None = None
    line_i_phase_ka: F64 | None = None
    p_import_phase_kw: F64 | None = None
    va_phase_degree: F64 | None = None  # buses x 3: the phase angles (``FastUnbalancedLoadFlow``), for a linearisation

    @property
    def _vm_all(self) -> F64:
        """Every voltage magnitude a band check must see: the phases when known, else ``vm_pu``."""
        return self.vm_phase_pu if self.vm_phase_pu is not None else self.vm_pu

    @property
    def vm_min_pu(self) -> float:
        vm = self._vm_all
        return float(np.nanmin(vm)) if np.isfinite(vm).any() else float("nan")

    @property
    def vm_max_pu(self) -> float:
        vm = self._vm_all
        return float(np.nanmax(vm)) if np.isfinite(vm).any() else float("nan")

    @property
    def max_line_loading_percent(self) -> float:
        return float(self.line_loading_percent.max()) if self.line_loading_percent.size else 0.0

    @property
    def max_trafo_loading_percent(self) -> float:
        return float(self.trafo_loading_percent.max()) if self.trafo_loading_percent.size else 0.0

    # --- headroom: how far each element is from a limit (negative: the limit is broken) ------
    def vm_headroom_pu(self, vm_min_pu: float, vm_max_pu: float) -> tuple[F64, F64]:
        """Per bus: room above the lower limit and below the upper limit (NaN for isolated buses); with
        phase voltages, of the bus's lowest and highest phase."""
        if self.vm_phase_pu is None:
            return self.vm_pu - vm_min_pu, vm_max_pu - self.vm_pu
        with np.errstate(all="ignore"):  # an isolated bus (all NaN) stays NaN without a warning
            low, high = np.min(self.vm_phase_pu, axis=1), np.max(self.vm_phase_pu, axis=1)
        return low - vm_min_pu, vm_max_pu - high

    def line_headroom_percent(self, max_loading_percent: float = 100.0) -> F64:
        return max_loading_percent - self.line_loading_percent

    def trafo_headroom_percent(self, max_loading_percent: float = 100.0) -> F64:
        return max_loading_percent - self.trafo_loading_percent
