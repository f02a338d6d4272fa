"""The fast, exact AC load flow: ``FastLoadFlow`` (the ``LoadFlow`` interface plus a whole-block path).

pandapower builds its internal model once (``fast_model.build_model``: its own admittance
matrices, bus lookup, slack, taps, shunts, switches), and every step is solved by the
current-injection fixed point (``fast_iter``) with compiled kernels (``core_ext.pf``) on the buses
that carry an injection or join three or more branches: the passive buses in between are eliminated
exactly, once (``fast_reduce``), and their voltages follow from the kept ones. Two ways in:

* ``solve(step, t_s, ...) -> GridState``: one step, warm-started from the last solution, with the
  voltage angles (the engine calls this at every tick, like ``PandapowerLoadFlow.solve``);
* ``solve_block(load_p_kw[T, n_loads], load_q_kvar, sgen_p_kw, charger_p_kw[T, n_chargers])
  -> BlockResult``: many steps at once, in blocks of ``block_steps`` with time as the inner
  dimension (sized so a block's working set stays in the core's cache), each block starting from
  the last converged step of the one before; the results go straight into steps x elements arrays.

A step that does not converge within ``max_iter`` (or has a non-finite injection) is solved by
pandapower's Newton-Raphson instead (``PandapowerLoadFlow``, which also maps its failures to
``LoadFlowError``); ``n_fallbacks`` counts those steps, and ``BlockResult.fallback`` marks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from core_ext import pf
from sim.domain import ChargerTable, GridState
from sim.grid.fast_iter import fixed_point, initial_guess
from sim.grid.fast_model import FastModel, build_model
from sim.grid.fast_results import ResultArrays, write_results
from sim.grid.feeder import Feeder
from sim.grid.loadflow import LoadFlow, PandapowerLoadFlow, _vector
from sim.scenario.schema import LOADFLOW_SOLVERS

F64 = NDArray[np.float64]

if TYPE_CHECKING:
    from sim.grid.unbalanced import UnbalancedBlockResult


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
        return block_state(self, k)


def block_state(block: BlockResult | UnbalancedBlockResult, k: int, **extra: F64) -> GridState:
    """Step ``k`` of a block's results as a ``GridState`` (copies, read-only); ``extra`` adds the
    per-phase fields of an unbalanced block."""
    return GridState(
        time_s=float(block.t_s[k]),
        vm_pu=_frozen(block.vm_pu[k]),
        line_loading_percent=_frozen(block.line_loading_percent[k]),
        trafo_loading_percent=_frozen(block.trafo_loading_percent[k]),
        p_import_kw=float(block.p_import_kw[k]),
        q_import_kvar=float(block.q_import_kvar[k]),
        losses_kw=float(block.losses_kw[k]),
        **{name: _frozen(values) for name, values in extra.items()},
    )


class FastLoadFlow:
    """``LoadFlow`` by the factorised fixed point; pandapower ``runpp`` only where it does not converge.

    ``block_steps``: steps solved together by ``solve_block`` (default: sized to the network, see
    ``auto_block_steps``); ``eliminate``: iterate on the buses ``fast_reduce`` keeps (the default;
    exact) or on every PQ bus.
    """

    def __init__(
        self,
        feeder: Feeder,
        chargers: ChargerTable,
        *,
        tolerance_pu: float = 1e-9,
        max_iter: int = 40,
        block_steps: int | None = None,
        eliminate: bool = True,
    ) -> None:
        # the fallback, on its own net copy; without numba: a rare fallback should not pay ~5 s of JIT
        self.reference = PandapowerLoadFlow(feeder, chargers, numba=False)
        self.bus_ids = feeder.bus_ids
        self.line_ids = feeder.line_ids
        self.trafo_ids = feeder.trafo_ids
        self.backend = pf.BACKEND
        self.tolerance_pu = float(tolerance_pu)
        self.max_iter = int(max_iter)
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
            eliminate=eliminate,
        )
        self.block_steps = auto_block_steps(self.model) if block_steps is None else max(1, int(block_steps))
        self._isolated = np.flatnonzero(self.model.bus_pos < 0)  # feeder buses outside the model: NaN
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
        """One step, warm-started from the last converged one (with the voltage angles)."""
        n_load, n_sgen, n_ch = self._n
        load_p = _vector(load_p_kw, n_load, "load_p_kw")
        load_q = _vector(load_q_kvar, n_load, "load_q_kvar")
        sgen_p = _vector(sgen_p_kw, n_sgen, "sgen_p_kw")
        charger_p = _vector(charger_p_kw, n_ch, "charger_p_kw")
        m = self.model
        p_in, q_in = np.concatenate([load_p, sgen_p, charger_p])[None], load_q[None]
        s, finite = np.empty((2, m.n_kept, 1)), np.empty(1, dtype=np.uint8)
        m.s_kept.fill(p_in, q_in, s, finite)
        if not finite[0]:  # pandapower's solver names the error
            return self.reference.solve(step, t_s, load_p, load_q, sgen_p, charger_p)
        v = self._warm.copy() if self._warm is not None else initial_guess(m, 1)
        if fixed_point(m, s, v, self.tolerance_pu, self.max_iter)[0] < 0:
            self._warm = None
            self.n_fallbacks += 1
            return self.reference.solve(step, t_s, load_p, load_q, sgen_p, charger_p)
        self._warm = v
        s_slack = np.empty((2, m.ref.size, 1))
        m.s_slack.fill(p_in, q_in, s_slack)
        out = ResultArrays.allocate(1, len(self.bus_ids), len(self.line_ids), len(self.trafo_ids))
        v_bus = write_results(m, v, s_slack, out, 0)
        va_degree = np.degrees(np.arctan2(v_bus[1, :, 0], v_bus[0, :, 0])).take(m.bus_pos)
        if self._isolated.size:
            va_degree[self._isolated] = np.nan
        return GridState(
            time_s=float(t_s),
            vm_pu=_read_only(out.vm_pu[0]),
            va_degree=_read_only(va_degree),
            line_loading_percent=_read_only(out.line_loading_percent[0]),
            trafo_loading_percent=_read_only(out.trafo_loading_percent[0]),
            p_import_kw=float(out.flows[0, 0]),
            q_import_kvar=float(out.flows[1, 0]),
            losses_kw=float(out.flows[2, 0]),
        )

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
        finite = np.empty(n_t, dtype=np.uint8)  # 0: a non-finite input; pandapower raises, naming the step
        m = self.model
        out = ResultArrays.allocate(n_t, len(self.bus_ids), len(self.line_ids), len(self.trafo_ids))
        iterations = np.zeros(n_t, dtype=np.int64)
        guess = m.v0[:, m.kept]  # then the last converged step of the previous block (6 % fewer iterations)
        for start in range(0, n_t, self.block_steps):
            stop = min(n_t, start + self.block_steps)
            p_in = np.concatenate([load_p[start:stop], sgen_p[start:stop], charger_p[start:stop]], axis=1)
            q_in = load_q[start:stop]
            s, s_slack = np.empty((2, m.n_kept, stop - start)), np.empty((2, m.ref.size, stop - start))
            m.s_kept.fill(p_in, q_in, s, finite[start:stop])
            m.s_slack.fill(p_in, q_in, s_slack)
            ok = finite[start:stop].view(bool)
            if not ok.all():
                s[:, :, ~ok] = 0.0
                s_slack[:, :, ~ok] = 0.0
            v = np.repeat(guess[:, :, None], stop - start, axis=2)
            its = fixed_point(m, s, v, self.tolerance_pu, self.max_iter)
            write_results(m, v, s_slack, out, start)
            iterations[start:stop] = np.where(ok, its, -1)
            if its[-1] > 0 and ok[-1]:
                guess = v[:, :, -1]
        fallback = iterations < 0
        for k in np.flatnonzero(fallback):
            state = self.reference.solve(first_step + int(k), float(times[k]), load_p[k], load_q[k], sgen_p[k],
                                         charger_p[k])
            _put_state(out, int(k), state)
        iterations[fallback] = 0
        self.n_fallbacks += int(np.count_nonzero(fallback))
        return BlockResult(self.bus_ids, self.line_ids, self.trafo_ids, times, out.vm_pu, out.line_loading_percent,
                           out.trafo_loading_percent, *out.flows, iterations, fallback)

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


def auto_block_steps(model: FastModel, cache_bytes: int = 1 << 19) -> int:
    """Steps per block: the largest power of two from 8 to 256 whose working set (per step: four
    split arrays over the kept buses in the iteration, the split voltages of every bus in the
    results) fits in ``cache_bytes``: a quarter of a server core's 2 MB L2 cache, the rest holds the
    factors, the inputs and the results being written (measured best: 32 steps on the IEEE European
    LV feeder, 8 to 16 on the 10,000-bus synthetic network)."""
    per_step = 16 * max(4 * model.n_kept, model.n_bus)
    steps = 8
    while steps < 256 and 2 * steps * per_step <= cache_bytes:  # the doubled block still fits
        steps *= 2
    return steps


def _put_state(out: ResultArrays, k: int, state: GridState) -> None:
    out.vm_pu[k] = state.vm_pu
    out.line_loading_percent[k] = state.line_loading_percent
    out.trafo_loading_percent[k] = state.trafo_loading_percent
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
    return _read_only(np.array(a, dtype=np.float64, copy=True))


def _read_only(a: F64) -> F64:
    a.setflags(write=False)
    return a


def make_loadflow(feeder: Feeder, chargers: ChargerTable, solver: str) -> LoadFlow:
    """The load flow a scenario names (``schema.LOADFLOW_SOLVERS``): ``"pandapower"`` (Newton-Raphson
    at every step), ``"fast"``, or the three-phase ones (``sim.grid.unbalanced``): ``"unbalanced"``
    (the fast path) and ``"unbalanced_pandapower"`` (``runpp_3ph`` at every step). May raise
    ``UnsupportedNetworkError`` for the fast ones (a ValueError)."""
    if solver == "pandapower":
        return PandapowerLoadFlow(feeder, chargers)
    if solver == "fast":
        return FastLoadFlow(feeder, chargers)
    if solver in ("unbalanced", "unbalanced_pandapower"):
        from sim.grid.unbalanced import FastUnbalancedLoadFlow, Pandapower3phLoadFlow

        return FastUnbalancedLoadFlow(feeder, chargers) if solver == "unbalanced" else Pandapower3phLoadFlow(
            feeder, chargers)
    raise ValueError(f"unknown load-flow solver {solver!r}; expected one of {', '.join(LOADFLOW_SOLVERS)}")
