"""The fast, exact AC load flow: ``FastLoadFlow`` (the ``LoadFlow`` interface plus a whole-block path).

pandapower builds its internal model once (``fast_model.build_model``: its own admittance
matrices, bus lookup, slack, taps, shunts, switches), ``Y_pp`` is factorised once, and every step is
solved by the current-injection fixed point (``fast_iter``) with compiled kernels
(``core_ext.pf``). Two ways in:

* ``solve(step, t_s, ...) -> GridState``: one step, warm-started from the last solution (the engine
  calls this at every tick, like ``PandapowerLoadFlow.solve``);
* ``solve_block(load_p_kw[T, n_loads], load_q_kvar, sgen_p_kw, charger_p_kw[T, n_chargers])
  -> BlockResult``: many steps at once, in chunks of ``block_steps`` with time as the inner
  dimension (for a year computed after the fact).

A step that does not converge within ``max_iter`` (or has a non-finite injection) is solved by
pandapower's Newton-Raphson instead (``PandapowerLoadFlow``, which also maps its failures to
``LoadFlowError``); ``n_fallbacks`` counts those steps, and ``BlockResult.fallback`` marks them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core_ext import pf
from sim.domain import ChargerTable, GridState
from sim.grid.fast_iter import fixed_point, initial_guess
from sim.grid.fast_model import FastModel, build_model
from sim.grid.fast_results import ResultViews, bus_voltages, write_results
from sim.grid.feeder import Feeder
from sim.grid.loadflow import LoadFlow, PandapowerLoadFlow, _vector
from sim.scenario.schema import LOADFLOW_SOLVERS

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class BlockResult:
    """Load-flow results of T steps: arrays are steps x elements, aligned with the id tuples."""

    bus_ids: tuple[int, ...]
    line_ids: tuple[int, ...]
    trafo_ids: tuple[int, ...]
    t_s: F64
    vm_pu: F64
    line_loading_percent: F64
    trafo_loading_percent: F64
    p_import_kw: F64
    q_import_kvar: F64
    losses_kw: F64
    iterations: NDArray[np.int64]  # fixed-point iterations per step; 0 where pandapower solved it
    fallback: NDArray[np.bool_]  # steps solved by pandapower's Newton-Raphson

    def __len__(self) -> int:
        return int(self.t_s.size)

    @property
    def n_fallbacks(self) -> int:
        return int(np.count_nonzero(self.fallback))

    def state(self, k: int) -> GridState:
        """Step ``k`` as the ``GridState`` ``LoadFlow.solve`` returns."""
        return GridState(
            time_s=float(self.t_s[k]),
            vm_pu=_frozen(self.vm_pu[k]),
            line_loading_percent=_frozen(self.line_loading_percent[k]),
            trafo_loading_percent=_frozen(self.trafo_loading_percent[k]),
            p_import_kw=float(self.p_import_kw[k]),
            q_import_kvar=float(self.q_import_kvar[k]),
            losses_kw=float(self.losses_kw[k]),
        )


class FastLoadFlow:
    """``LoadFlow`` by the factorised fixed point; pandapower ``runpp`` only where it does not converge."""

    def __init__(
        self,
        feeder: Feeder,
        chargers: ChargerTable,
        *,
        tolerance_pu: float = 1e-9,
        max_iter: int = 40,
        block_steps: int = 64,
    ) -> None:
        # the fallback, on its own net copy; without numba: a rare fallback should not pay ~5 s of JIT
        self.reference = PandapowerLoadFlow(feeder, chargers, numba=False)
        self.bus_ids = feeder.bus_ids
        self.line_ids = feeder.line_ids
        self.trafo_ids = feeder.trafo_ids
        self.backend = pf.BACKEND
        self.tolerance_pu = float(tolerance_pu)
        self.max_iter = int(max_iter)
        self.block_steps = int(block_steps)
        self.n_fallbacks = 0
        self._n = (len(feeder.load_ids), len(feeder.sgen_ids), len(chargers))
        self.model: FastModel = build_model(
            self.reference.net,
            bus_ids=self.bus_ids,
            line_ids=self.line_ids,
            trafo_ids=self.trafo_ids,
            p_elements=[("load", i, -1.0) for i in feeder.load_ids]
            + [("sgen", i, 1.0) for i in feeder.sgen_ids]
            + [("load", self.reference.ev_load_ids[j], -1.0) for j in _ev_of_charger(self.reference, chargers)],
            q_elements=[("load", i, -1.0) for i in feeder.load_ids],
        )
        self._warm: F64 | None = None

    def solve(
        self,
        step: int,
        t_s: float,
        load_p_kw: ArrayLike,
        load_q_kvar: ArrayLike,
        sgen_p_kw: ArrayLike,
        charger_p_kw: ArrayLike,
    ) -> GridState:
        """One step, warm-started from the last converged one."""
        n_load, n_sgen, n_ch = self._n
        p = np.concatenate([
            _vector(load_p_kw, n_load, "load_p_kw"),
            _vector(sgen_p_kw, n_sgen, "sgen_p_kw"),
            _vector(charger_p_kw, n_ch, "charger_p_kw"),
        ])[:, None]
        q = _vector(load_q_kvar, n_load, "load_q_kvar")[:, None]
        if not (np.isfinite(p).all() and np.isfinite(q).all()):  # pandapower's solver names the error
            return self.reference.solve(step, t_s, load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw)
        v = self._warm.copy() if self._warm is not None else initial_guess(self.model, 1)
        out = ResultViews.allocate(len(self.bus_ids), len(self.line_ids), len(self.trafo_ids), 1)
        if self._solve_columns(p, q, v, out)[0] > 0:
            self._warm = v
            return replace(_state(out, t_s), va_degree=_angles_degree(self.model, v))
        self._warm = None
        self.n_fallbacks += 1
        return self.reference.solve(step, t_s, load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw)

    def solve_block(
        self,
        load_p_kw: ArrayLike,
        load_q_kvar: ArrayLike,
        sgen_p_kw: ArrayLike,
        charger_p_kw: ArrayLike,
        *,
        t_s: ArrayLike | None = None,
        first_step: int = 0,
    ) -> BlockResult:
        """All T steps (rows of the inputs) at once; ``t_s`` (default 0..T-1) and ``first_step``
        only label the steps (and name them in a ``LoadFlowError``)."""
        load_p, load_q, sgen_p, charger_p = self._block_inputs(load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw)
        n_t = load_p.shape[0]
        times = np.arange(n_t, dtype=float) if t_s is None else np.asarray(t_s, dtype=float).reshape(-1)
        if times.size != n_t:
            raise ValueError(f"t_s has {times.size} values for {n_t} steps")
        out = ResultViews.allocate(len(self.bus_ids), len(self.line_ids), len(self.trafo_ids), n_t)
        iterations = np.zeros(n_t, dtype=np.int64)
        chunk = max(1, self.block_steps)
        for start in range(0, n_t, chunk):
            stop = min(n_t, start + chunk)
            p = np.concatenate([load_p[start:stop], sgen_p[start:stop], charger_p[start:stop]], axis=1).T
            q = load_q[start:stop].T
            ok = np.isfinite(p).all(axis=0) & np.isfinite(q).all(axis=0)
            p, q = np.where(ok, p, 0.0), np.where(ok, q, 0.0)  # non-finite steps: pandapower raises
            its = self._solve_columns(p, q, initial_guess(self.model, stop - start), out.columns(start, stop))
            iterations[start:stop] = np.where(ok, its, -1)
        fallback = iterations < 0
        for k in np.flatnonzero(fallback):
            state = self.reference.solve(first_step + int(k), float(times[k]), load_p[k], load_q[k], sgen_p[k],
                                         charger_p[k])
            _put_state(out, int(k), state)
        iterations[fallback] = 0
        self.n_fallbacks += int(np.count_nonzero(fallback))
        return BlockResult(self.bus_ids, self.line_ids, self.trafo_ids, times, out.vm_pu.T,
                           out.line_loading_percent.T, out.trafo_loading_percent.T, *out.flows, iterations, fallback)

    def _solve_columns(self, p: F64, q: F64, v: F64, out: ResultViews) -> NDArray[np.int64]:
        """Solve the steps (columns) of kW ``p`` (n_p, T) and kvar ``q`` (n_q, T) from the guess ``v``
        (overwritten by the solution); write the results; return the iterations (-1: no solution)."""
        m = self.model
        its = fixed_point(m, m.s_pq.split(p, q), v, self.tolerance_pu, self.max_iter)
        write_results(m, v, m.s_ref.split(p, q), out)
        return its

    def _block_inputs(self, *arrays: ArrayLike) -> tuple[F64, F64, F64, F64]:
        n_load, n_sgen, n_ch = self._n
        raw = [np.asarray(a, dtype=float) for a in arrays]
        n_t = next((a.shape[0] for a in raw if a.ndim == 2), 0)
        load_p, load_q, sgen_p, charger_p = (
            _matrix(a, n, name, n_t)
            for a, n, name in zip(raw, (n_load, n_load, n_sgen, n_ch),
                                  ("load_p_kw", "load_q_kvar", "sgen_p_kw", "charger_p_kw"), strict=True)
        )
        return load_p, load_q, sgen_p, charger_p


def _state(out: ResultViews, t_s: float) -> GridState:
    """Column 0 of a one-step result as a GridState (read-only arrays)."""
    return GridState(
        time_s=float(t_s),
        vm_pu=_frozen(out.vm_pu[:, 0]),
        line_loading_percent=_frozen(out.line_loading_percent[:, 0]),
        trafo_loading_percent=_frozen(out.trafo_loading_percent[:, 0]),
        p_import_kw=float(out.flows[0, 0]),
        q_import_kvar=float(out.flows[1, 0]),
        losses_kw=float(out.flows[2, 0]),
    )


def _angles_degree(model: FastModel, v_pq: F64) -> F64:
    """Voltage angle of every feeder bus (degrees; NaN for isolated buses) of a one-step solution."""
    v = bus_voltages(model, v_pq)[:, :, 0]
    pos = np.maximum(model.bus_pos, 0)
    angle = np.where(model.bus_pos >= 0, np.degrees(np.arctan2(v[1, pos], v[0, pos])), np.nan)
    return _frozen(angle)


def _put_state(out: ResultViews, k: int, state: GridState) -> None:
    out.vm_pu[:, k] = state.vm_pu
    out.line_loading_percent[:, k] = state.line_loading_percent
    out.trafo_loading_percent[:, k] = state.trafo_loading_percent
    out.flows[:, k] = (state.p_import_kw, state.q_import_kvar, state.losses_kw)


def _ev_of_charger(reference: PandapowerLoadFlow, chargers: ChargerTable) -> list[int]:
    """For each charger, the index of its bus's ``ev_charging`` load in ``reference.ev_load_ids``."""
    return [int(j) for j in np.searchsorted(np.asarray(reference.ev_buses, dtype=np.int64), chargers.bus)]


def _matrix(arr: F64, n: int, name: str, n_t: int) -> F64:
    """A steps x elements input; an empty 1-D array stands for "no such elements"."""
    if n == 0 and arr.ndim == 1 and arr.size == 0:
        return np.zeros((n_t, 0))
    if arr.shape != (n_t, n):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n_t}, {n}) (steps x elements)")
    return arr


def _frozen(a: F64) -> F64:
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def make_loadflow(feeder: Feeder, chargers: ChargerTable, solver: str) -> LoadFlow:
    """The load flow a scenario names (``schema.LOADFLOW_SOLVERS``): ``"pandapower"`` (Newton-Raphson
    at every step) or ``"fast"``. May raise ``UnsupportedNetworkError`` for ``"fast"`` (a ValueError)."""
    if solver == "pandapower":
        return PandapowerLoadFlow(feeder, chargers)
    if solver == "fast":
        return FastLoadFlow(feeder, chargers)
    raise ValueError(f"unknown load-flow solver {solver!r}; expected one of {', '.join(LOADFLOW_SOLVERS)}")
