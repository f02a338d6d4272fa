"""The unbalanced (three-phase) AC load flow: the ``runpp_3ph`` reference and the fast path.

Both take the ``LoadFlow`` inputs; per phase they are (phases a, b, c = L1, L2, L3):

* ``load_p_kw`` / ``load_q_kvar``: per feeder load either its total, shape [n_loads] (one step) or
  [T, n_loads] (a block), split over the phases by the load's own phase shares (the IEEE European LV
  feeder's single-phase households keep their phase: ``networks.symmetrize`` records the shares;
  a balanced load splits evenly), or per phase, shape [n_loads, 3] / [T, n_loads, 3];
* ``sgen_p_kw``: the same for the sgens (PV is three-phase: even split);
* ``charger_p_kw``: per charger its total, [n_chargers] / [T, n_chargers], on its phase: a charger
  with ``phases = 1`` and ``phase = "L1" | "L2" | "L3"`` loads that phase, ``phases = 3`` and
  ``phase = "L1L2L3"`` all three equally.

``Pandapower3phLoadFlow`` runs ``pandapower.runpp_3ph`` on its own copy of the feeder's net in which
every load and sgen is an ``asymmetric_load`` / ``asymmetric_sgen`` (same bus, name, scaling and
in-service flag) and every charger bus has one more ``asymmetric_load`` (``ev_charging@<bus>``,
unity power factor); zero-sequence data the net lacks are filled (``add_zero_sequence_defaults``).

``FastUnbalancedLoadFlow`` solves the same equations (``unbalanced_model``) by the current-injection
fixed point on the three sequence networks, factorised once, with the kernels ``core_ext.pf3`` (phase
<-> sequence currents, update and convergence test) and ``core_ext.pf`` (the triangular sweeps),
one step warm-started (``solve``) or blocks of steps with time as the inner dimension
(``solve_block``). A step that does not converge in ``max_iter`` falls back to ``runpp_3ph``.

Both return the balanced ``GridState`` with its per-phase fields (``vm_phase_pu``, ``vuf_percent``,
``vm0_pu``, ``line_i_phase_ka``, ``p_import_phase_kw``; ``vm_pu`` is each bus's lowest phase; see
``GridState``); ``solve_block`` returns an ``UnbalancedBlockResult`` (steps x elements [x phases]).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import pandapower as pp
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from core_ext import pf, pf3
from sim.domain import ChargerTable, GridState
from sim.errors import LoadFlowError
from sim.grid.fast import block_state
from sim.grid.feeder import Feeder
from sim.grid.loadflow import _column, _ColumnWriter
from sim.grid.unbalanced_model import (
    PHASES,
    SEQUENCE_TO_PHASE,
    SequenceModel,
    add_zero_sequence_defaults,
    build_sequence_model,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
CHARGER_PHASES = {"L1": (0,), "L2": (1,), "L3": (2,), "L1L2L3": (0, 1, 2)}
# runpp_3ph stops when its positive-sequence power mismatch is below a fixed 3e-8 per unit of the net's
# sn_mva: 3 W on the IEEE European LV feeder's 100 MVA base, which leaves up to 4e-6 pu in the phase
# voltages. The base changes no physics, so the reference (and the fast model built from its net) uses
# 1 MVA: 0.03 W, and runpp_3ph agrees with the fixed point to about 1e-8 pu.
REFERENCE_SN_MVA = 1.0
SHARE_COLUMNS = tuple(f"phase_{ph}_share" for ph in PHASES)  # written by ``networks.symmetrize``


def charger_phase_shares(chargers: ChargerTable) -> F64:
    """(n_chargers, 3): the share of each charger's power on phases a, b, c; a clear error for a
    phase that is not L1/L2/L3/L1L2L3 or does not match ``phases``."""
    shares = np.zeros((len(chargers), 3))
    for k, c in enumerate(chargers.chargers):
        phases = CHARGER_PHASES.get(c.phase)
        if phases is None or len(phases) != c.phases:
            raise ValueError(
                f"charger {c.charger_id!r}: phase {c.phase!r} with phases = {c.phases} is not valid for the "
                'unbalanced load flow; expected phases = 1 with phase "L1", "L2" or "L3", or phases = 3 with '
                'phase "L1L2L3"'
            )
        shares[k, list(phases)] = 1.0 / len(phases)
    return shares


def element_phase_shares(table: pd.DataFrame, ids: tuple[int, ...]) -> F64:
    """(n, 3): each element's share of its power per phase, from the ``phase_*_share`` columns
    ``networks.symmetrize`` writes for former asymmetric elements; 1/3 each where there are none."""
    shares = np.full((len(ids), 3), 1.0 / 3.0)
    if len(ids) and all(c in table.columns for c in SHARE_COLUMNS):
        given = table.loc[list(ids), list(SHARE_COLUMNS)].to_numpy(dtype=float)
        known = np.isfinite(given).all(axis=1)
        shares[known] = given[known]
    return shares


class PhaseInputs:
    """Turns the ``LoadFlow`` inputs into per-phase arrays (see the module docstring): loads and
    sgens [T, n, 3] and the charging per charger bus and phase [T, n_ev_buses, 3] (kW, kvar)."""

    def __init__(self, load_share: F64, sgen_share: F64, charger_share: F64, charger_bus: I64) -> None:
        self.load_share, self.sgen_share = load_share, sgen_share
        self.ev_buses, ev_of_charger = np.unique(charger_bus, return_inverse=True)
        n_ch, n_ev = charger_share.shape[0], self.ev_buses.size
        self._to_ev = np.zeros((n_ch, n_ev, 3))  # charger kW -> kW per charger bus and phase
        self._to_ev[np.arange(n_ch), ev_of_charger.reshape(-1)] = charger_share
        self.n_loads, self.n_sgens, self.n_chargers = load_share.shape[0], sgen_share.shape[0], n_ch

    def split(self, load_p_kw: ArrayLike, load_q_kvar: ArrayLike, sgen_p_kw: ArrayLike, charger_p_kw: ArrayLike,
              n_t: int | None) -> tuple[F64, F64, F64, F64]:
        """``n_t`` None: one step (inputs without the steps axis); else T steps. Returns (load_p, load_q,
        sgen_p, ev_p), each [T, n, 3] (T = 1 for one step)."""
        load_p = self._phases(load_p_kw, self.load_share, "load_p_kw", n_t)
        load_q = self._phases(load_q_kvar, self.load_share, "load_q_kvar", n_t)
        sgen_p = self._phases(sgen_p_kw, self.sgen_share, "sgen_p_kw", n_t)
        charger = np.asarray(charger_p_kw, dtype=float)
        expected = (self.n_chargers,) if n_t is None else (n_t, self.n_chargers)
        if self.n_chargers == 0 and charger.size == 0:
            charger = np.zeros((1 if n_t is None else n_t, 0))
        elif charger.shape != expected:
            raise ValueError(f"charger_p_kw has shape {charger.shape}, expected {expected} (one total per charger)")
        charger = charger.reshape(1 if n_t is None else n_t, self.n_chargers)
        ev_p = np.einsum("tc,cep->tep", charger, self._to_ev)
        return load_p, load_q, sgen_p, ev_p

    @staticmethod
    def _phases(values: ArrayLike, share: F64, name: str, n_t: int | None) -> F64:
        arr = np.asarray(values, dtype=float)
        n = share.shape[0]
        lead = () if n_t is None else (n_t,)
        if n == 0 and arr.size == 0:  # no such elements (an empty array of any shape)
            return np.zeros((1 if n_t is None else n_t, 0, 3))
        if arr.shape == (*lead, n, 3):
            return arr.reshape(-1, n, 3)
        if arr.shape == (*lead, n):
            return arr.reshape(-1, n)[:, :, None] * share[None]
        raise ValueError(f"{name} has shape {arr.shape}, expected {(*lead, n)} (totals, split by the element's "
                         f"phase shares) or {(*lead, n, 3)} (per phase a, b, c)")

    @staticmethod
    def n_steps(*arrays: ArrayLike) -> int:
        """The number of steps of a block's inputs (the first axis of the first non-empty one)."""
        for a in arrays:
            arr = np.asarray(a)
            if arr.ndim >= 2:
                return int(arr.shape[0])
        return 0


class Pandapower3phLoadFlow:
    """``LoadFlow`` with pandapower's ``runpp_3ph`` at every call (the reference)."""

    def __init__(self, feeder: Feeder, chargers: ChargerTable, *, numba: bool = True,
                 tolerance_mva: float = 1e-10) -> None:
        self.bus_ids, self.line_ids, self.trafo_ids = feeder.bus_ids, feeder.line_ids, feeder.trafo_ids
        self.timebase = feeder.timebase
        unknown = sorted(set(chargers.bus.tolist()) - set(self.bus_ids))
        if unknown:
            raise ValueError(f"chargers sit on buses {unknown} that the feeder does not have")
        net = copy.deepcopy(feeder.net)
        net.sn_mva = REFERENCE_SN_MVA
        self.zero_sequence_defaults = add_zero_sequence_defaults(net)
        self.inputs = PhaseInputs(element_phase_shares(net.load, feeder.load_ids),
                                  element_phase_shares(net.sgen, feeder.sgen_ids),
                                  charger_phase_shares(chargers), chargers.bus)
        self.ev_buses: tuple[int, ...] = tuple(int(b) for b in self.inputs.ev_buses)
        self.load_ids = _to_asymmetric(net, "load", "asymmetric_load", feeder.load_ids)
        self.sgen_ids = _to_asymmetric(net, "sgen", "asymmetric_sgen", feeder.sgen_ids)
        self.ev_load_ids = tuple(
            int(pp.create_asymmetric_load(net, b, name=f"ev_charging@{b}")) for b in self.ev_buses
        )
        self.net = net
        self._options = {"numba": numba, "tolerance_mva": tolerance_mva}
        self._index = (pd.Index(self.bus_ids), pd.Index(self.line_ids), pd.Index(self.trafo_ids))
        self._writers = {(t, f"{k}_{ph}_{u}"): _ColumnWriter(net, t, f"{k}_{ph}_{u}")
                         for t, kinds in (("asymmetric_load", (("p", "mw"), ("q", "mvar"))),
                                          ("asymmetric_sgen", (("p", "mw"),)))
                         for k, u in kinds for ph in PHASES}
        self._order = {"asymmetric_load": list(self.load_ids) + list(self.ev_load_ids),
                       "asymmetric_sgen": list(self.sgen_ids)}
        for table, order in self._order.items():
            if list(net[table].index) != order:
                raise RuntimeError(f"the net's {table} order differs from the feeder's elements")

    def solve(self, step: int, t_s: float, load_p_kw: ArrayLike, load_q_kvar: ArrayLike, sgen_p_kw: ArrayLike,
              charger_p_kw: ArrayLike) -> GridState:
        """Write this step's per-phase injections into the net, run ``runpp_3ph``, read the results."""
        load_p, load_q, sgen_p, ev_p = (a[0] for a in self.inputs.split(load_p_kw, load_q_kvar, sgen_p_kw,
                                                                         charger_p_kw, None))
        return self.solve_phases(step, t_s, load_p, load_q, sgen_p, ev_p)

    def solve_phases(self, step: int, t_s: float, load_p: F64, load_q: F64, sgen_p: F64, ev_p: F64) -> GridState:
        """``solve`` with the inputs already per phase: [n_loads, 3], [n_loads, 3], [n_sgens, 3] and the
        charging per charger bus [n_ev_buses, 3] (kW, kvar)."""
        if not all(np.isfinite(a).all() for a in (load_p, load_q, sgen_p, ev_p)):
            raise LoadFlowError(step, t_s, "non-finite (NaN or inf) injection", self._summary(load_p, sgen_p, ev_p),
                                self._when(t_s))
        for k, ph in enumerate(PHASES):
            self._writers["asymmetric_load", f"p_{ph}_mw"].write(np.concatenate([load_p[:, k], ev_p[:, k]]) / 1000.0)
            self._writers["asymmetric_load", f"q_{ph}_mvar"].write(
                np.concatenate([load_q[:, k], np.zeros(ev_p.shape[0])]) / 1000.0)
            self._writers["asymmetric_sgen", f"p_{ph}_mw"].write(sgen_p[:, k] / 1000.0)
        try:
            self.net["_ppc"] = None
            pp.runpp_3ph(self.net, **self._options)
            if not self.net.get("converged", False):
                raise RuntimeError("pandapower reports no converged solution")
        except Exception as exc:  # any pandapower failure is mapped here, and only here
            raise LoadFlowError(step, t_s, f"{type(exc).__name__}: {exc}".strip(),
                                self._summary(load_p, sgen_p, ev_p), self._when(t_s)) from None
        return self._read(t_s)

    def _read(self, t_s: float) -> GridState:
        net = self.net
        bus_idx, line_idx, trafo_idx = self._index
        res = net.res_bus_3ph.reindex(bus_idx)
        vm = res[[f"vm_{ph}_pu" for ph in PHASES]].to_numpy(dtype=float)
        va = np.deg2rad(res[[f"va_{ph}_degree" for ph in PHASES]].to_numpy(dtype=float))
        v0 = np.abs((vm * np.exp(1j * va)).sum(axis=1)) / 3.0
        lines = net.res_line_3ph.reindex(line_idx)
        eg = net.res_ext_grid_3ph
        p_phase = np.array([np.nansum(eg[f"p_{ph}_mw"].to_numpy(dtype=float)) for ph in PHASES]) * 1000.0
        q_import = sum(float(np.nansum(eg[f"q_{ph}_mvar"].to_numpy(dtype=float))) for ph in PHASES) * 1000.0
        losses = sum(float(np.nansum(net[t][f"pl_{ph}_mw"].to_numpy(dtype=float)))
                     for t in ("res_line_3ph", "res_trafo_3ph") if len(net[t]) for ph in PHASES) * 1000.0
        return GridState(
            time_s=float(t_s),
            vm_pu=_read_only(np.min(vm, axis=1)),
            va_degree=None,
            line_loading_percent=_column(net.res_line_3ph, "loading_percent", line_idx),
            trafo_loading_percent=_column(net.res_trafo_3ph, "loading_percent", trafo_idx),
            p_import_kw=float(p_phase.sum()),
            q_import_kvar=q_import,
            losses_kw=losses,
            vm_phase_pu=_read_only(vm),
            vuf_percent=_column(net.res_bus_3ph, "unbalance_percent", bus_idx),
            vm0_pu=_read_only(v0),
            line_i_phase_ka=_read_only(lines[[f"i_{ph}_ka" for ph in PHASES]].to_numpy(dtype=float)),
            p_import_phase_kw=_read_only(p_phase),
            va_phase_degree=_read_only(np.rad2deg(va)),
        )

    def _when(self, t_s: float) -> str:
        return self.timebase.to_datetime(t_s).isoformat(timespec="seconds")

    def _summary(self, load_p: F64, sgen_p: F64, ev_p: F64) -> str:
        per_phase = load_p.sum(axis=0) + ev_p.sum(axis=0)
        return (f"base load {np.sum(load_p):.1f} kW, charging {np.sum(ev_p):.1f} kW, generation (PV/sgen) "
                f"{np.sum(sgen_p):.1f} kW; load per phase a/b/c {per_phase[0]:.1f}/{per_phase[1]:.1f}/"
                f"{per_phase[2]:.1f} kW")


def _to_asymmetric(net: pp.pandapowerNet, table: str, asym: str, ids: tuple[int, ...]) -> tuple[int, ...]:
    """Replace the elements ``ids`` of ``table`` by ``asym`` elements (same bus, name, scaling,
    in-service flag; powers written per step), in order; the other rows of ``table`` stay."""
    create = pp.create_asymmetric_load if asym == "asymmetric_load" else pp.create_asymmetric_sgen
    frame = net[table]
    new = [int(create(net, int(frame.at[i, "bus"]), name=frame.at[i, "name"], scaling=float(frame.at[i, "scaling"]),
                      in_service=bool(frame.at[i, "in_service"]))) for i in ids]
    net[table] = frame.drop(index=list(ids))
    return tuple(new)


@dataclass(frozen=True)
class UnbalancedBlockResult:
    """Unbalanced load-flow results of T steps: steps x elements (x phases a, b, c), aligned with the
    id tuples. The fields of ``fast.BlockResult`` (``vm_pu`` = each bus's lowest phase) plus the
    per-phase ones; ``state(k)`` is step k as ``solve`` returns it."""

    bus_ids: tuple[int, ...]
    line_ids: tuple[int, ...]
    trafo_ids: tuple[int, ...]
    t_s: F64
    vm_pu: F64  # (T, n_bus): lowest phase
    vm_phase_pu: F64  # (T, n_bus, 3)
    vuf_percent: F64  # (T, n_bus)
    vm0_pu: F64  # (T, n_bus)
    line_i_phase_ka: F64  # (T, n_line, 3)
    line_loading_percent: F64  # (T, n_line): largest phase
    trafo_loading_phase_percent: F64  # (T, n_trafo, 3)
    trafo_loading_percent: F64  # (T, n_trafo): largest phase
    p_import_phase_kw: F64  # (T, 3)
    p_import_kw: F64
    q_import_kvar: F64
    losses_kw: F64
    iterations: NDArray[np.int64]  # fixed-point iterations per step; 0 where runpp_3ph solved it
    fallback: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.t_s.size)

    @property
    def n_fallbacks(self) -> int:
        return int(np.count_nonzero(self.fallback))

    def state(self, k: int) -> GridState:
        return block_state(self, k, vm_phase_pu=self.vm_phase_pu[k], vuf_percent=self.vuf_percent[k],
                           vm0_pu=self.vm0_pu[k], line_i_phase_ka=self.line_i_phase_ka[k],
                           p_import_phase_kw=self.p_import_phase_kw[k])


@dataclass(frozen=True)
class _Results:
    """Where the fast path's results go (the arrays of ``UnbalancedBlockResult``)."""

    vm_phase: F64
    vuf: F64
    vm0: F64
    line_i: F64
    line_loading: F64
    trafo_phase: F64
    trafo_loading: F64
    power: F64  # (T, 4): p import per phase a, b, c (kW) and q import (kvar)
    losses: F64

    @classmethod
    def allocate(cls, n_t: int, n_bus: int, n_line: int, n_trafo: int) -> _Results:
        return cls(np.empty((n_t, n_bus, 3)), np.empty((n_t, n_bus)), np.empty((n_t, n_bus)),
                   np.empty((n_t, n_line, 3)), np.empty((n_t, n_line)), np.empty((n_t, n_trafo, 3)),
                   np.empty((n_t, n_trafo)), np.empty((n_t, 4)), np.empty(n_t))

    def put(self, k: int, state: GridState) -> None:
        """Step k from a ``GridState`` with the phase fields (a fallback's)."""
        assert state.vm_phase_pu is not None and state.p_import_phase_kw is not None
        self.vm_phase[k] = state.vm_phase_pu
        self.vuf[k] = state.vuf_percent
        self.vm0[k] = state.vm0_pu
        self.line_i[k] = state.line_i_phase_ka
        self.line_loading[k] = state.line_loading_percent
        self.trafo_phase[k] = np.nan  # runpp_3ph's per-phase transformer loading is not in GridState
        self.trafo_loading[k] = state.trafo_loading_percent
        self.power[k] = (*state.p_import_phase_kw, state.q_import_kvar)
        self.losses[k] = state.losses_kw


class FastUnbalancedLoadFlow:
    """``LoadFlow`` by the factorised sequence fixed point; ``runpp_3ph`` only where it does not converge.

    ``tolerance_pu``: the remaining error of every phase voltage (the contraction test of
    ``fast_iter``); ``block_steps``: steps solved together by ``solve_block`` (default 64: the block's
    working set, 3 x 8 split arrays over the kept buses, stays in a core's L2 cache on the IEEE
    European LV feeder); ``eliminate``: iterate on the buses the chain elimination keeps (exact).
    """

    def __init__(self, feeder: Feeder, chargers: ChargerTable, *, tolerance_pu: float = 1e-10, max_iter: int = 60,
                 block_steps: int = 64, eliminate: bool = True) -> None:
        self.reference = Pandapower3phLoadFlow(feeder, chargers, numba=False)  # a rare fallback: no JIT wait
        ref = self.reference
        self.bus_ids, self.line_ids, self.trafo_ids = ref.bus_ids, ref.line_ids, ref.trafo_ids
        self.inputs = ref.inputs
        self.backend = pf3.BACKEND
        self.tolerance_pu, self.max_iter, self.block_steps = float(tolerance_pu), int(max_iter), max(1, block_steps)
        self.n_fallbacks = 0
        load = [("asymmetric_load", i, ph, -1.0) for i in ref.load_ids for ph in PHASES]
        self.net = ref.net  # what ``GridLinearisation.for_loadflow`` builds its (balanced) model from
        self.sequence_model: SequenceModel = build_sequence_model(
            ref.net, bus_ids=self.bus_ids, line_ids=self.line_ids, trafo_ids=self.trafo_ids,
            p_elements=load + [("asymmetric_sgen", i, ph, 1.0) for i in ref.sgen_ids for ph in PHASES]
            + [("asymmetric_load", i, ph, -1.0) for i in ref.ev_load_ids for ph in PHASES],
            q_elements=load, eliminate=eliminate)
        self._warm: F64 | None = None

    def solve(self, step: int, t_s: float, load_p_kw: ArrayLike, load_q_kvar: ArrayLike, sgen_p_kw: ArrayLike,
              charger_p_kw: ArrayLike) -> GridState:
        """One step, warm-started from the last converged one."""
        parts = self.inputs.split(load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw, None)
        m = self.sequence_model
        s, finite = np.empty((2, 3 * m.n_kept, 1)), np.empty(1, dtype=np.uint8)
        m.s_kept.fill(*_flat_inputs(*parts), s, finite)
        if not finite[0]:
            return self.reference.solve_phases(step, t_s, *(a[0] for a in parts))
        v = self._warm.copy() if self._warm is not None else self.initial_guess(1)
        its = fixed_point(m, s, v, self.tolerance_pu, self.max_iter)
        if its[0] < 0:
            self._warm = None
            self.n_fallbacks += 1
            return self.reference.solve_phases(step, t_s, *(a[0] for a in parts))
        self._warm = v
        out = _Results.allocate(1, len(self.bus_ids), len(self.line_ids), len(self.trafo_ids))
        v_bus = write_results(m, v, out, 0)
        state = UnbalancedBlockResult(self.bus_ids, self.line_ids, self.trafo_ids, np.array([float(t_s)]),
                                      *_fields(out), its, np.zeros(1, bool)).state(0)
        return replace(state, va_phase_degree=_read_only(phase_angles_degree(m, v_bus[..., 0])))

    def solve_block(self, load_p_kw: ArrayLike, load_q_kvar: ArrayLike, sgen_p_kw: ArrayLike,
                    charger_p_kw: ArrayLike, *, t_s: ArrayLike | None = None,
                    first_step: int = 0) -> UnbalancedBlockResult:
        """All T steps at once (inputs with the steps as first axis, see the module docstring);
        ``t_s`` (default 0..T-1) and ``first_step`` only label the steps."""
        n_t = PhaseInputs.n_steps(load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw)
        parts = self.inputs.split(load_p_kw, load_q_kvar, sgen_p_kw, charger_p_kw, n_t)
        p_in, q_in = _flat_inputs(*parts)
        times = np.arange(n_t, dtype=float) if t_s is None else np.asarray(t_s, dtype=float).reshape(-1)
        if times.size != n_t:
            raise ValueError(f"t_s has {times.size} values for {n_t} steps")
        m = self.sequence_model
        out = _Results.allocate(n_t, len(self.bus_ids), len(self.line_ids), len(self.trafo_ids))
        iterations = np.zeros(n_t, dtype=np.int64)
        finite = np.empty(n_t, dtype=np.uint8)
        guess = m.v0
        for start in range(0, n_t, self.block_steps):
            stop = min(n_t, start + self.block_steps)
            s = np.empty((2, 3 * m.n_kept, stop - start))
            m.s_kept.fill(p_in[start:stop], q_in[start:stop], s, finite[start:stop])
            ok = finite[start:stop].view(bool)
            if not ok.all():
                s[:, :, ~ok] = 0.0
            v = np.ascontiguousarray(np.repeat(guess[..., None], stop - start, axis=3))
            its = fixed_point(m, s, v, self.tolerance_pu, self.max_iter)
            write_results(m, v, out, start)
            iterations[start:stop] = np.where(ok, its, -1)
            if its[-1] > 0 and ok[-1]:
                guess = v[..., -1]
        fallback = iterations < 0
        for k in np.flatnonzero(fallback):
            out.put(int(k), self.reference.solve_phases(first_step + int(k), float(times[k]),
                                                        *(a[k] for a in parts)))
        iterations[fallback] = 0
        self.n_fallbacks += int(np.count_nonzero(fallback))
        return UnbalancedBlockResult(self.bus_ids, self.line_ids, self.trafo_ids, times, *_fields(out),
                                     iterations, fallback)

    def initial_guess(self, n_t: int) -> F64:
        """The no-load sequence voltages of the kept buses for every step (3, 2, n_kept, T)."""
        return np.ascontiguousarray(np.repeat(self.sequence_model.v0[..., None], n_t, axis=3))


def _flat_inputs(load_p: F64, load_q: F64, sgen_p: F64, ev_p: F64) -> tuple[F64, F64]:
    """The per-phase arrays as the model's input columns: P (loads, sgens, charger buses; each element's
    phases a, b, c in turn) and Q (loads)."""
    n_t = load_p.shape[0]
    p = np.concatenate([load_p.reshape(n_t, -1), sgen_p.reshape(n_t, -1), ev_p.reshape(n_t, -1)], axis=1)
    return p, np.ascontiguousarray(load_q.reshape(n_t, -1))


def fixed_point(model: SequenceModel, s: F64, v: F64, tolerance_pu: float, max_iter: int) -> I64:
    """Iterate V_q = V0_q + Z_q I_q(V) from ``v`` (3, 2, n_kept, T; overwritten by the result) for the
    per-phase injections ``s`` (2, 3 n_kept, T) until every step's phase voltages have converged
    (``pf3.Sequences.update``) or ``max_iter``. Returns the iterations per step (-1: not converged).
    Converged steps keep iterating with their block (letting the last quarter continue alone, as
    ``fast_iter`` does, measured no faster here: the iteration is a third of the time, the results the rest)."""
    n_t = s.shape[2]
    iterations = np.full(n_t, -1, dtype=np.int64)
    last = np.full(n_t, np.inf)
    rhs, nxt = np.empty_like(v), np.empty_like(v)
    model.sequences.currents(v, s, rhs)
    for k in range(1, max_iter + 1):
        for q in range(3):
            model.systems[q].lu_solve(rhs[q])
        left = model.sequences.update(rhs, s, v, nxt, last, iterations, k, tolerance_pu)
        rhs, nxt = nxt, rhs
        if left == 0:
            break
    return iterations


def write_results(model: SequenceModel, v_kept: F64, out: _Results, start: int) -> F64:
    """Every result of the steps ``start ..`` (rows of ``out``) from the kept buses' V012 (3, 2, n_kept, T);
    returns every internal bus's V012 (3, 2, n_bus, T)."""
    n_t = v_kept.shape[3]
    stop = start + n_t
    v = np.empty((3, 2, model.n_bus, n_t))
    for q in range(3):
        e = model.expand[q]
        pf.spmv(e.indptr, e.indices, e.data, v_kept[q], v[q], model.offset[q])
    pf3.phase_voltages(v, model.bus_pos, out.vm_phase[start:stop].transpose(1, 2, 0), out.vuf[start:stop].T,
                       out.vm0[start:stop].T)
    losses = np.zeros(n_t)
    for branches, value, peak in ((model.lines, out.line_i, out.line_loading),
                                  (model.trafos, out.trafo_phase, out.trafo_loading)):
        if len(branches) == 0:
            continue
        if not branches.all_in_model:
            peak[start:stop] = branches.static
            value[start:stop] = np.where(np.isfinite(branches.static), 0.0, np.nan)[:, None]
        pf3.branch_phase_flows(branches.from_bus, branches.to_bus, branches.y, branches.scale_from,
                               branches.scale_to, branches.peak_scale, v, value[start:stop].transpose(1, 2, 0),
                               peak[start:stop].T, losses, branches.in_model)
    current = np.empty((3, 2, model.ref.size, n_t))
    for q in range(3):
        y = model.y_ref[q]
        pf.spmv(y.indptr, y.indices, y.data, v[q], current[q])
    power = np.empty((2, 3, n_t))
    pf3.slack_phase_power(v, current, model.ref, power)
    scale = 1000.0 * model.base_mva
    out.power[start:stop, :3] = power[0].T * scale
    out.power[start:stop, 3] = power[1].sum(axis=0) * scale
    out.losses[start:stop] = losses * scale
    return v


def phase_angles_degree(model: SequenceModel, v_bus: F64) -> F64:
    """(n_feeder_bus, 3) phase angles (degrees) from one step's internal V012 (3, 2, n_bus); NaN for a
    feeder bus outside the model. What a per-phase linearisation (``sensitivity3ph``) reads."""
    v_abc = SEQUENCE_TO_PHASE @ (v_bus[:, 0] + 1j * v_bus[:, 1])  # (3, n_bus)
    pos = model.bus_pos
    return np.where((pos >= 0)[:, None], np.degrees(np.angle(v_abc[:, np.maximum(pos, 0)].T)), np.nan)


def _fields(out: _Results) -> tuple[F64, ...]:
    """``UnbalancedBlockResult``'s array fields from ``vm_pu`` to ``losses_kw``, in order."""
    vm = out.vm_phase
    vm_low = np.minimum(np.minimum(vm[:, :, 0], vm[:, :, 1]), vm[:, :, 2])  # (a reduce over 3 is slower)
    p_phase = out.power[:, :3]
    return (vm_low, vm, out.vuf, out.vm0, out.line_i, out.line_loading, out.trafo_phase,
            out.trafo_loading, p_phase, p_phase[:, 0] + p_phase[:, 1] + p_phase[:, 2], out.power[:, 3].copy(),
            out.losses)


def _frozen(a: F64) -> F64:
    return _read_only(np.array(a, dtype=np.float64, copy=True))


def _read_only(a: F64) -> F64:
    a.setflags(write=False)
    return a
