"""pandapower's own sequence-network model of one feeder, prepared once for the fast unbalanced load flow.

``build_sequence_model`` does what ``pandapower.runpp_3ph`` does before it iterates, once: it converts
the net three times (``_pd2ppc`` for the zero, positive and negative sequence: lines with their
r0/x0/c0, transformers by vector group, the external grid's short-circuit impedance as a shunt in
the zero and negative sequence) and builds the three bus admittance matrices Y0, Y1, Y2 and their
branch matrices Yf/Yt with pandapower's ``makeYbus``. Nothing of the element modelling is ours.

``runpp_3ph`` solves, with the slack buses s held at their set positive-sequence voltage,

    Y1 V1 = I1 (PQ buses),   Y0 V0 = I0,   Y2 V2 = I2 (every bus; the slack carries no load),
    I012 = T^-1 conj(S_abc / V_abc),   V_abc = T V012,   T = [[1, 1, 1], [1, a^2, a], [1, a, a^2]],

with S_abc the wye (phase-to-neutral, neutral = earth) constant-power injections of every bus. Per
sequence q that is the fixed point V_q = V0_q + Z_q I_q on the PQ buses: V0_1 the no-load voltage,
V0_0 = V0_2 = 0, and for the zero and negative sequence the slack bus (no injection) is eliminated
exactly first (Y_pp - Y_ps Y_ss^-1 Y_sp; its voltage follows as -Y_ss^-1 Y_sp V_p). The passive
chain buses are then eliminated exactly as in the balanced model (``fast_reduce``), with one kept set
shared by the three sequences (decided on the union of their patterns), so the iteration runs on
the buses with an injection or three or more branches only; each sequence's reduced matrix is
factorised once (``fast_model.LuFactors``) and solved by the balanced kernels' triangular sweeps.

Results follow pandapower's ``_get_*_results_3ph``: phase currents of a branch end are T I012 with
I_q = Yf_q V_q (Yt_q V_q); i_ka = |I_pu| baseMVA sqrt(3) / base_kv (per phase: three times the
balanced factor, since the per-unit powers are per phase on the three-phase base); a line's loading is
the largest phase current of both ends over max_i_ka df parallel; a transformer's is the largest of
i vn sqrt(3) / sn_mva per phase and side over parallel df (``trafo_loading="current"``). The power a
slack bus takes per phase is V_abc conj(T I012) with I_q from Y_q without the external grid's own
shunt (as ``runpp_3ph`` removes it for its results).

``add_zero_sequence_defaults`` fills the zero-sequence data a net lacks (CIGRE LV has none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from pandapower.build_bus import _add_ext_grid_sc_impedance
from pandapower.pd2ppc import _pd2ppc_recycle
from pandapower.pf.runpp_3ph import _load_mapping
from pandapower.pypower.bustypes import bustypes
from pandapower.pypower.idx_bus import BS, GS, VA, VM
from pandapower.pypower.makeYbus import makeYbus

from core_ext import pf, pf3
from sim.grid.fast_model import (
    BranchSet,
    LuFactors,
    SparseRows,
    UnsupportedNetworkError,
    _branches,
    _bus_positions,
    _check_supported,
    _pandapower_without_numba,
    factors_solve,
    split,
)
from sim.grid.fast_reduce import Reduction, chain_buses, reduce

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
C128 = NDArray[np.complex128]
PHASES = ("a", "b", "c")
_A = np.exp(2j * np.pi / 3)
SEQUENCE_TO_PHASE = np.array([[1, 1, 1], [1, _A**2, _A], [1, _A, _A**2]])  # V_abc = T V012

# Zero-sequence data filled where a net lacks it (``add_zero_sequence_defaults``), as planning values:
LINE_R0_PER_R1 = 4.0  # four-core cable, neutral of the phase cross-section: R0 = R_phase + 3 R_neutral
LINE_X0_PER_X1 = 4.0  # the common LV planning value for the zero-sequence loop reactance
EXT_GRID_S_SC_MVA = 1000.0  # short-circuit power and R/X of the MV grid behind the substation, where a
EXT_GRID_RX = 0.1  # net has none (the Kerber nets): the values pandapower's own error message suggests
EXT_GRID_X0X = 1.0  # zero-sequence source reactance equal to the positive-sequence one
TRAFO_VECTOR_GROUP = "Dyn"  # the European MV/LV distribution transformer (delta HV, earthed star LV)
TRAFO_MAG0_PERCENT = 100.0  # these three as the IEEE European LV feeder's own transformer
TRAFO_MAG0_RX = 0.0
TRAFO_SI0_HV_PARTIAL = 0.9


def add_zero_sequence_defaults(net: pp.pandapowerNet) -> dict[str, list[str]]:
    """Fill missing (absent or NaN) zero-sequence data in place; returns what was filled per table.

    * ``ext_grid``: ``s_sc_max_mva`` = 1000 and ``rx_max`` = 0.1 (the source impedance of the negative and
      zero sequence; pandapower's suggested values), ``x0x_max`` = 1 (X0 = X1), ``r0x0_max`` = the
      element's ``rx_max`` (R0/X0 = R1/X1);
    * ``line``: ``r0_ohm_per_km`` = 4 r, ``x0_ohm_per_km`` = 4 x (a four-core cable whose neutral has
      the phase cross-section: R0 = R_phase + 3 R_neutral), ``c0_nf_per_km`` = c;
    * ``trafo``: ``vector_group`` = "Dyn", ``vk0_percent`` = vk, ``vkr0_percent`` = vkr (a core-type
      Dyn transformer's zero-sequence short-circuit impedance is close to its positive-sequence one),
      ``mag0_percent`` = 100, ``mag0_rx`` = 0, ``si0_hv_partial`` = 0.9 (the IEEE feeder's values).

    Values a net carries (the IEEE European LV feeder carries all of them) are kept, except that a
    vector group's clock number is dropped ("Dyn5" -> "Dyn"): pandapower's zero-sequence model knows
    the winding connections only ("Dyn", "YNyn", "Yzn"), the phase shift is ``shift_degree``.
    """
    rules: dict[str, dict[str, object]] = {
        "ext_grid": {"s_sc_max_mva": EXT_GRID_S_SC_MVA, "rx_max": EXT_GRID_RX, "x0x_max": EXT_GRID_X0X,
                     "r0x0_max": "rx_max"},
        "line": {"r0_ohm_per_km": ("r_ohm_per_km", LINE_R0_PER_R1), "x0_ohm_per_km": ("x_ohm_per_km", LINE_X0_PER_X1),
                 "c0_nf_per_km": ("c_nf_per_km", 1.0)},
        "trafo": {"vector_group": TRAFO_VECTOR_GROUP, "vk0_percent": "vk_percent", "vkr0_percent": "vkr_percent",
                  "mag0_percent": TRAFO_MAG0_PERCENT, "mag0_rx": TRAFO_MAG0_RX,
                  "si0_hv_partial": TRAFO_SI0_HV_PARTIAL},
    }
    filled: dict[str, list[str]] = {}
    for table, columns in rules.items():
        frame = net[table]
        if frame.empty:
            continue
        for column, rule in columns.items():
            if isinstance(rule, tuple):
                value: object = frame[rule[0]].to_numpy(dtype=float) * rule[1]
            elif isinstance(rule, str) and rule in frame.columns:
                value = frame[rule].to_numpy(dtype=float)
            else:
                value = rule
            missing = pd.isna(frame[column]).to_numpy() if column in frame.columns else np.ones(len(frame), bool)
            if not missing.any():
                continue
            new = pd.Series(value, index=frame.index) if np.ndim(value) else pd.Series([value] * len(frame),
                                                                                      index=frame.index)
            frame[column] = frame[column].where(~missing, new) if column in frame.columns else new
            filled.setdefault(table, []).append(column)
    if not net.trafo.empty:
        groups = net.trafo["vector_group"].astype(str)
        plain = groups.str.replace(r"\d+$", "", regex=True)
        if (plain != groups).any():
            net.trafo["vector_group"] = plain
            filled.setdefault("trafo", []).append("vector_group (clock number dropped)")
    return filled


@dataclass(frozen=True)
class PhaseBranches:
    """Lines or transformers of the results: their place in the model and per-sequence two-ports."""

    in_model: I64  # positions (element order) of the elements in the internal model
    y: F64  # (3, k, 8): per sequence, re/im of yff, yft, ytf, ytt
    from_bus: I64
    to_bus: I64
    scale_from: F64  # result unit per unit of |I_phase| (pu) at the from end
    scale_to: F64
    peak_scale: F64  # the largest phase value -> loading percent
    static: F64  # loading of the elements outside the model (in-model rows: NaN placeholder)

    def __len__(self) -> int:
        return int(self.static.size)

    @property
    def all_in_model(self) -> bool:
        return self.in_model.size == self.static.size


@dataclass(frozen=True)
class SequenceModel:
    """Everything the unbalanced fixed point and its results need, for one topology."""

    base_mva: float
    n_bus: int
    pq: I64
    ref: I64
    kept: I64  # positions in ``pq`` of the buses the iteration runs on (the common order)
    systems: tuple[pf.FixedPoint, pf.FixedPoint, pf.FixedPoint]  # reduced factors per sequence (0, 1, 2)
    sequences: pf3.Sequences  # the kernel's rows of each sequence system and the no-load V012
    v0: F64  # (3, 2, n_kept) no-load V012 of the kept buses
    expand: tuple[SparseRows, SparseRows, SparseRows]  # per sequence: V_bus = offset + expand @ V_kept
    offset: F64  # (3, 2, n_bus)
    y_ref: tuple[SparseRows, SparseRows, SparseRows]  # per sequence: rows of the result Ybus at the slacks
    bus_pos: I64
    lines: PhaseBranches
    trafos: PhaseBranches
    s_kept: pf.Injector  # inputs (kW, kvar per phase) -> injections at row phase * n_kept + j
    rhs_row: I64  # (3, n_kept): per sequence, kept bus j's current goes to this row of ``systems[q]``'s rhs
    sol_row: I64  # (3, n_kept): ... and its voltage is this row of the solution (``sensitivity3ph``)

    @property
    def n_kept(self) -> int:
        return int(self.kept.size)


def build_sequence_model(
    net: pp.pandapowerNet,
    *,
    bus_ids: tuple[int, ...],
    line_ids: tuple[int, ...],
    trafo_ids: tuple[int, ...],
    p_elements: list[tuple[str, int, str, float]],
    q_elements: list[tuple[str, int, str, float]],
    eliminate: bool = True,
) -> SequenceModel:
    """Build the model from a net with zero-sequence data.

    ``p_elements`` / ``q_elements``: the driven inputs in order, as (table, element id, phase "a" |
    "b" | "c", sign), table ``asymmetric_load`` (sign -1) or ``asymmetric_sgen`` (+1), an input in
    kW (kvar) of that element's phase; every driven column is zeroed before pandapower builds the
    constant part. Raises ``UnsupportedNetworkError`` for what the fixed point cannot solve exactly
    (voltage-controlled or FACTS elements, delta or voltage-dependent loads, a load on a slack bus).
    """
    net = copy.deepcopy(net)
    _check_supported(net)
    for elements, kind in ((p_elements, "p"), (q_elements, "q")):
        for table, idx, phase, _ in elements:
            net[table].loc[idx, f"{kind}_{phase}_{'mw' if kind == 'p' else 'mvar'}"] = 0.0
    with _pandapower_without_numba():
        try:
            pp.runpp_3ph(net, numba=False)  # sets the options and lookups the conversions below read
        except NotImplementedError as error:  # e.g. a transformer vector group runpp_3ph does not model
            raise UnsupportedNetworkError(f"pandapower's three-phase model does not cover this network: {error}") \
                from None
        ppci1 = _pd2ppc_recycle(net, 1, recycle=None)[1]
        ppci2 = _pd2ppc_recycle(net, 2, recycle=None)[1]
        gs_eg, bs_eg = _add_ext_grid_sc_impedance(net, ppci2)
        ppci0 = _pd2ppc_recycle(net, 0, recycle=None)[1]
        s_delta, s_wye = _load_mapping(net, ppci1)
    base_mva = float(ppci1["baseMVA"])
    ref, pv, pq = (np.asarray(x, dtype=np.int64) for x in bustypes(ppci1["bus"], ppci1["gen"]))
    _check_internal(ppci1, pv, s_delta)
    n_bus = ppci1["bus"].shape[0]
    ppcis = (ppci0, ppci1, ppci2)
    ybus, yf, yt, y_result = [], [], [], []
    for q, ppci in enumerate(ppcis):
        y, f, t = makeYbus(ppci["baseMVA"], ppci["bus"], ppci["branch"])
        ybus.append(sp.csr_matrix(y))
        yf.append(f)
        yt.append(t)
        if q == 1:
            y_result.append(ybus[-1])
        else:  # without the external grid's shunt, as runpp_3ph's results (it removes gs_eg from both)
            bus = ppci["bus"].copy()
            bus[ref, GS] -= gs_eg
            bus[ref, BS] -= bs_eg
            y_result.append(sp.csr_matrix(makeYbus(ppci["baseMVA"], bus, ppci["branch"])[0]))
    lookup = np.asarray(net._pd2ppc_lookups["bus"], dtype=np.int64)
    const = -s_wye / base_mva  # (3, n_bus) per phase, generation positive (undriven elements)
    incidence_p = _incidence(net, p_elements, lookup, n_bus, base_mva)
    incidence_q = _incidence(net, q_elements, lookup, n_bus, base_mva)
    at_bus = np.zeros(n_bus, dtype=bool)
    for inc in (incidence_p, incidence_q):
        at_bus |= (np.diff(sp.csr_matrix(inc).indptr) > 0).reshape(3, n_bus).any(axis=0)
    at_bus |= (const != 0).any(axis=0)
    if at_bus[ref].any():
        raise UnsupportedNetworkError("the fast unbalanced load flow needs the slack bus free of loads and sgens; "
                                      'use loadflow = "unbalanced_pandapower"')
    v_slack = _slack_voltage(ppci1, ref)
    systems, reductions, v0_pq = _reduce_sequences(ybus, pq, ref, v_slack, n_bus, at_bus[pq], eliminate)
    order = reductions[1].kept  # the common order of the kept buses: the positive sequence's
    rhs_row, sol_row, expand, offset = [], [], [], []
    for q, (factors, red) in enumerate(zip(systems, reductions, strict=True)):
        local = np.empty(pq.size, dtype=np.int64)
        local[red.kept] = np.arange(red.kept.size)
        pos = local[order]  # common position j -> position in this sequence's order
        rhs_row.append(factors.rhs_row[pos])
        sol_row.append(factors.sol_row[pos])
        e = sp.csr_matrix(red.expand)[:, pos]
        o = red.offset.copy()
        if q != 1:  # the eliminated slack's voltage follows from the PQ buses'
            e, o = _with_slack_rows(ybus[q], pq, ref, e, o)
        expand.append(SparseRows.of(e))
        offset.append(split(o))
    v0 = np.zeros((3, 2, order.size))
    v0[1] = split(v0_pq[order])
    fixed = tuple(f.system(np.zeros((2, order.size))) for f in systems)
    kept_bus = pq[order]
    row_of_bus = np.full(n_bus, -1, dtype=np.int64)
    row_of_bus[kept_bus] = np.arange(order.size)
    s_const = np.zeros((2, 3 * order.size))
    s_const[:, :] = split(const[:, kept_bus].reshape(-1))
    return SequenceModel(
        base_mva=base_mva,
        n_bus=n_bus,
        pq=pq,
        ref=ref,
        kept=order,
        systems=(fixed[0], fixed[1], fixed[2]),
        sequences=pf3.Sequences(np.ascontiguousarray(np.stack(rhs_row)), np.ascontiguousarray(np.stack(sol_row)),
                                np.ascontiguousarray(v0)),
        v0=v0,
        expand=(expand[0], expand[1], expand[2]),
        offset=np.ascontiguousarray(np.stack(offset)),
        y_ref=tuple(SparseRows.of(y[ref]) for y in y_result),  # type: ignore[arg-type]
        bus_pos=_bus_positions(lookup, bus_ids, n_bus),
        lines=_phase_branches(net, ppcis, yf, yt, "line", line_ids, base_mva),
        trafos=_phase_branches(net, ppcis, yf, yt, "trafo", trafo_ids, base_mva),
        s_kept=pf.Injector(s_const, *_phase_rows(incidence_p, row_of_bus, order.size),
                           *_phase_rows(incidence_q, row_of_bus, order.size)),
        rhs_row=np.stack(rhs_row),
        sol_row=np.stack(sol_row),
    )


def _check_internal(ppci1: dict, pv: I64, s_delta: C128) -> None:
    found = {"voltage-controlled buses (gen, xward)": len(pv)}
    for key in ("svc", "tcsc", "ssc", "vsc", "bus_dc"):
        found[key] = len(ppci1.get(key, ()))
    if np.any(s_delta != 0):
        found["delta-connected loads"] = int(np.count_nonzero((s_delta != 0).any(axis=0)))
    bad = {k: n for k, n in found.items() if n}
    if bad:
        what = ", ".join(f"{n} {k}" for k, n in bad.items())
        raise UnsupportedNetworkError(
            f"the fast unbalanced load flow solves wye PQ loads behind a slack only; this network has {what}: "
            'use loadflow = "unbalanced_pandapower"'
        )


def _slack_voltage(ppci: dict, ref: I64) -> C128:
    """The slack buses' set voltage (the external grid's vm_pu and va_degree, as pandapower's init)."""
    bus = ppci["bus"]
    return np.asarray(bus[ref, VM].real * np.exp(1j * np.deg2rad(bus[ref, VA].real)), dtype=complex)


def _reduce_sequences(
    ybus: list[sp.csr_matrix], pq: I64, ref: I64, v_slack: C128, n_bus: int, has_injection: NDArray[np.bool_],
    eliminate: bool,
) -> tuple[list[LuFactors], list[Reduction], C128]:
    """Per sequence: the PQ system (slack eliminated in the zero and negative sequence), reduced on one
    kept set shared by the three (``fast_reduce``), factorised. Returns the positive sequence's no-load
    voltage of every PQ bus too."""
    y_pp = []
    for q, y in enumerate(ybus):
        block = sp.csc_matrix(y[pq][:, pq])
        if q != 1 and ref.size:
            y_ss = y[ref][:, ref].toarray()
            y_ps = y[pq][:, ref].toarray()
            block = sp.csc_matrix(block - sp.csr_matrix(y_ps @ np.linalg.solve(y_ss, y[ref][:, pq].toarray())))
        y_pp.append(block)
    v0 = -factors_solve(LuFactors.factorise(y_pp[1]), np.asarray(ybus[1][pq][:, ref] @ v_slack))
    pattern = sum((abs(m) for m in y_pp), sp.csr_matrix(y_pp[0].shape))
    keep = ~chain_buses(pattern, has_injection) if eliminate else np.ones(pq.size, dtype=bool)
    reductions, factors = [], []
    for q in range(3):
        red = reduce(y_pp[q], v0 if q == 1 else np.zeros(pq.size, dtype=complex), pq, ref,
                     v_slack if q == 1 else np.zeros(ref.size, dtype=complex), n_bus, keep, eliminate=eliminate)
        if not np.array_equal(np.sort(red.kept), np.flatnonzero(keep)):
            raise RuntimeError(f"sequence {q}: the chain elimination kept other buses than the shared set")
        reductions.append(red)
        factors.append(LuFactors.factorise(red.y_red, "NATURAL"))
    return factors, reductions, v0


def _with_slack_rows(y: sp.csr_matrix, pq: I64, ref: I64, expand: sp.csr_matrix, offset: C128
                     ) -> tuple[sp.csr_matrix, C128]:
    """The slack rows of ``expand`` / ``offset`` for a sequence whose slack bus floats: V_s = -Y_ss^-1 Y_sp V_p."""
    if not ref.size:
        return expand, offset
    w = -np.linalg.solve(y[ref][:, ref].toarray(), y[ref][:, pq].toarray())  # (n_ref, n_pq)
    e = sp.lil_matrix(expand)
    slack_rows = sp.csr_matrix(w) @ sp.csr_matrix(expand)[pq]
    for k, r in enumerate(ref):
        e[r] = slack_rows[k]
    offset = offset.copy()
    offset[ref] = w @ offset[pq]
    return sp.csr_matrix(e), offset


def _incidence(net: pp.pandapowerNet, elements: list[tuple[str, int, str, float]], lookup: I64, n_bus: int,
               base_mva: float) -> sp.csr_matrix:
    """Inputs (kW or kvar of one phase of an element) -> per-unit injection at row phase * n_bus + bus."""
    rows, cols, vals = [], [], []
    for k, (table, idx, phase, sign) in enumerate(elements):
        row = net[table].loc[idx]
        pos = lookup[int(row["bus"])]
        if bool(row["in_service"]) and 0 <= pos < n_bus:
            rows.append(PHASES.index(phase) * n_bus + pos)
            cols.append(k)
            vals.append(sign * float(row["scaling"]) / (1000.0 * base_mva))
    return sp.csr_matrix((vals, (rows, cols)), shape=(3 * n_bus, len(elements)))


def _phase_rows(incidence: sp.csr_matrix, row_of_bus: I64, n_kept: int) -> tuple[I64, F64]:
    """Each input's one row of the kernels' injection layout (phase * n_kept + kept position; -1 none)."""
    n_bus = row_of_bus.size
    csc = sp.csc_matrix(incidence)
    rows = np.full(incidence.shape[1], -1, dtype=np.int64)
    coef = np.zeros(incidence.shape[1])
    has = np.flatnonzero(np.diff(csc.indptr))
    at = csc.indices[csc.indptr[has]]
    kept = row_of_bus[at % n_bus]
    rows[has] = np.where(kept >= 0, (at // n_bus) * n_kept + kept, -1)
    coef[has] = csc.data[csc.indptr[has]]
    return rows, coef


def _phase_branches(net: pp.pandapowerNet, ppcis: tuple[dict, dict, dict], yf: list, yt: list, kind: str,
                    ids: tuple[int, ...], base_mva: float) -> PhaseBranches:
    """The balanced model's branch set (``fast_model._branches``) per sequence: same elements, ends and
    loading definition; per phase the current factor is three times the balanced one (see the module
    docstring). Lines report kA per phase (scale to kA, peak -> percent of max_i_ka df parallel);
    transformers report loading percent per phase."""
    sets: list[BranchSet] = []
    saved = net.get("_ppc")
    net["_ppc"] = net["_ppc1"]
    try:
        for q, ppci in enumerate(ppcis):
            sets.append(_branches(net, {**ppci, "branch_is": ppci["internal"]["branch_is"], "Yf": yf[q], "Yt": yt[q]},
                                  kind, ids, base_mva))
    finally:
        net["_ppc"] = saved
    first = sets[1]
    scale_from, scale_to, peak = 3.0 * first.scale_from, 3.0 * first.scale_to, np.ones(first.in_model.size)
    if kind == "line" and first.in_model.size:  # kA instead of percent: divide out 100 / rated
        table = net.line.loc[list(ids)]
        rated = (table["max_i_ka"] * table["df"] * table["parallel"]).to_numpy(dtype=float)[first.in_model]
        scale_from, scale_to, peak = scale_from * rated / 100.0, scale_to * rated / 100.0, 100.0 / rated
    return PhaseBranches(first.in_model, np.ascontiguousarray(np.stack([s.y for s in sets])), first.from_bus,
                         first.to_bus, scale_from, scale_to, peak, first.static)
