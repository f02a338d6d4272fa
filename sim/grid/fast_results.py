"""Results of the fast load flow for a block of steps, from the bus voltages, as pandapower defines them.

Everything works with the time step as the inner dimension: outputs are (elements, T) arrays whose
rows have unit stride (typically column slices of a year-long (elements, T_total) array, so the
kernels write the results in place, without a copy). The per-element loops are the kernels
``core_ext.pf.magnitude`` / ``branch_flows`` / ``spmv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core_ext import pf
from sim.grid.fast_model import BranchSet, FastModel

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ResultViews:
    """Where one block's results go: element x step arrays (rows of unit stride) and the flows
    (3, T): p import (kW), q import (kvar), line + transformer losses (kW)."""

    vm_pu: F64
    line_loading_percent: F64
    trafo_loading_percent: F64
    flows: F64

    @classmethod
    def allocate(cls, n_bus: int, n_line: int, n_trafo: int, n_t: int) -> ResultViews:
        return cls(np.empty((n_bus, n_t)), np.empty((n_line, n_t)), np.empty((n_trafo, n_t)), np.empty((3, n_t)))

    def columns(self, start: int, stop: int) -> ResultViews:
        return ResultViews(
            self.vm_pu[:, start:stop],
            self.line_loading_percent[:, start:stop],
            self.trafo_loading_percent[:, start:stop],
            self.flows[:, start:stop],
        )


def bus_voltages(model: FastModel, v_pq: F64) -> F64:
    """All internal bus voltages, split (2, n_bus, T): the slack set points and the solved buses."""
    n_t = v_pq.shape[2]
    v = np.empty((2, model.n_bus, n_t))
    v[:, model.pq] = v_pq
    v[0, model.ref] = model.v_slack.real[:, None]
    v[1, model.ref] = model.v_slack.imag[:, None]
    return v


def write_results(model: FastModel, v_pq: F64, s_ref: F64, out: ResultViews) -> None:
    """Voltage magnitudes per feeder bus, loadings, import at the slack and branch losses.

    ``s_ref`` (2, n_ref, T): the injections (pu, generation positive) of the slack buses' own
    elements; the external grid supplies the rest of what flows out of the slack buses.
    """
    v = bus_voltages(model, v_pq)
    n_t = v.shape[2]
    pf.magnitude(v, model.bus_pos, out.vm_pu)
    losses = np.zeros(n_t)
    _branches(model.lines, v, out.line_loading_percent, losses)
    _branches(model.trafos, v, out.trafo_loading_percent, losses)
    y = model.y_ref
    i_ref = np.empty((2, model.ref.size, n_t))
    pf.spmv(y.indptr, y.indices, y.data, v, i_ref)
    v_ref = v[:, model.ref]
    # S = V conj(I) - own injections, summed over the slack buses
    p = v_ref[0] * i_ref[0] + v_ref[1] * i_ref[1] - s_ref[0]
    q = v_ref[1] * i_ref[0] - v_ref[0] * i_ref[1] - s_ref[1]
    scale = 1000.0 * model.base_mva
    out.flows[0] = p.sum(axis=0) * scale
    out.flows[1] = q.sum(axis=0) * scale
    out.flows[2] = losses * scale


def _branches(branches: BranchSet, v: F64, loading: F64, losses: F64) -> None:
    """Fill one branch set's loading rows (elements outside the model: their constant value)."""
    if len(branches) == 0:
        return
    target = loading if branches.all_in_model else np.empty((branches.in_model.size, v.shape[2]))
    pf.branch_flows(
        branches.from_bus, branches.to_bus, branches.y, branches.scale_from, branches.scale_to, v, target, losses
    )
    if not branches.all_in_model:
        loading[:] = branches.static[:, None]
        loading[branches.in_model] = target
