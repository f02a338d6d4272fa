"""Results of the fast load flow, from the kept buses' voltages, as pandapower defines them.

The result arrays are steps x elements (``ResultArrays``: one contiguous row per step, what
``BlockResult.state(k)`` and a recorder read). The kernels compute a block of steps at a time with
the step as the inner dimension and write straight into the rows of that block through the
transposed view (element stride 1, step stride = number of elements), so no copy is made. The
per-element loops are the kernels ``core_ext.pf.spmv`` / ``magnitude`` / ``branch_flows`` /
``slack_power``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core_ext import pf
from sim.grid.fast_model import BranchSet, FastModel

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ResultArrays:
    """Where the results go: steps x elements arrays, and the flows (3, T): p import (kW), q import
    (kvar), line + transformer losses (kW)."""

    vm_pu: F64
    line_loading_percent: F64
    trafo_loading_percent: F64
    flows: F64

    @classmethod
    def allocate(cls, n_t: int, n_bus: int, n_line: int, n_trafo: int) -> ResultArrays:
        return cls(np.empty((n_t, n_bus)), np.empty((n_t, n_line)), np.empty((n_t, n_trafo)), np.empty((3, n_t)))


def bus_voltages(model: FastModel, v_kept: F64) -> F64:
    """All internal bus voltages, split (2, n_bus, T), from the kept buses' (2, n_kept, T)."""
    v = np.empty((2, model.n_bus, v_kept.shape[2]))
    e = model.expand
    pf.spmv(e.indptr, e.indices, e.data, v_kept, v, model.offset)
    return v


def write_results(model: FastModel, v_kept: F64, s_slack: F64, out: ResultArrays, start: int) -> F64:
    """Voltage magnitudes per feeder bus, loadings, import at the slack and branch losses of the
    steps ``start .. start + T - 1`` (rows of ``out``) from the kept buses' voltages (2, n_kept, T).

    ``s_slack`` (2, n_ref, T): the injections (pu, generation positive) of the slack buses' own
    elements; the external grid supplies the rest of what flows out of the slack buses.
    Returns all internal bus voltages (2, n_bus, T).
    """
    v = bus_voltages(model, v_kept)
    n_t = v.shape[2]
    stop = start + n_t
    pf.magnitude(v, model.bus_pos, out.vm_pu[start:stop].T)
    losses = np.zeros(n_t)
    _branches(model.lines, v, out.line_loading_percent[start:stop], losses)
    _branches(model.trafos, v, out.trafo_loading_percent[start:stop], losses)
    y = model.y_ref
    power = np.empty((2, n_t))
    pf.slack_power(y.indptr, y.indices, y.data, model.ref, v, s_slack, power)
    scale = 1000.0 * model.base_mva
    np.multiply(power, scale, out=out.flows[:2, start:stop])
    np.multiply(losses, scale, out=out.flows[2, start:stop])
    return v


def _branches(branches: BranchSet, v: F64, loading: F64, losses: F64) -> None:
    """Fill one branch set's loading (steps x elements; elements outside the model: their
    constant value) and add its losses."""
    if len(branches) == 0:
        return
    if not branches.all_in_model:
        loading[:] = branches.static
    pf.branch_flows(branches.from_bus, branches.to_bus, branches.y, branches.scale_from, branches.scale_to, v,
                    loading.T, losses, branches.in_model)
