"""pandapower's own model of one feeder topology, prepared once for the fast fixed-point load flow.

``build_model`` runs pandapower once on a copy of the load flow's net with every controllable
injection at zero and keeps its internal model (``net._ppc["internal"]``): the admittance matrices
``Ybus``, ``Yf``, ``Yt`` (lines, transformers with their taps and phase shifts, shunts, closed
switches fused into buses: pandapower's modelling, not ours), the bus lookup, the slack buses and
their voltage, and the injections of every element we do not drive (the constant part of ``Sbus``).

The load flow solves, per time step, the current-injection (Z-bus) fixed point on the PQ buses p
with the slack buses s held at their set voltage:

    Y_pp V_p + Y_ps V_s = conj(S_p / V_p)   =>   V_p = V0 + Y_pp^-1 conj(S_p / V_p),
    V0 = -Y_pp^-1 Y_ps V_s   (the no-load voltage),

with ``Y_pp`` factorised once by SuperLU (``scipy.sparse.linalg.splu``; a minimum-degree ordering
on A^T + A with diagonal pivots, which leaves a radial feeder's factors without fill-in). The
iteration itself runs on fewer buses: ``fast_reduce`` eliminates, exactly, the passive buses that
only join cables, and every bus voltage follows from the kept ones (``FastModel.expand``).

Branch results follow pandapower's definitions (``results_branch.py``): I_f = Yf V,
i_ka = |S_f| / (sqrt(3) vm_kv) = |I_f| baseMVA / (sqrt(3) base_kv); line loading =
max(i_from, i_to) / (max_i_ka df parallel); transformer loading (``trafo_loading="current"``) =
max over sides of i vn sqrt(3) / sn_mva / (parallel df). Elements outside the internal model
(out of service, or touching an isolated bus) get pandapower's constant result (0, NaN or inf).
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import scipy.sparse as sp
from numpy.typing import NDArray
from pandapower.pypower.idx_brch import F_BUS, T_BUS
from pandapower.pypower.idx_bus import BASE_KV, PD, QD
from scipy.sparse.linalg import splu

from core_ext import pf
from sim.grid.fast_reduce import reduce

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_SQRT3 = np.sqrt(3.0)


def split(z: NDArray[np.complex128]) -> F64:
    """A complex array as the kernels' split layout: shape (2, ...), real parts first."""
    return np.ascontiguousarray(np.stack([z.real, z.imag]))


@dataclass(frozen=True)
class LuFactors:
    """SuperLU factors of Y_pp (Pr Y_pp Pc = L U) in the kernels' arrays."""

    l_indptr: I64
    l_indices: I64
    l_data: F64
    u_indptr: I64
    u_indices: I64
    u_data: F64
    u_diag_inv: F64
    rhs_row: I64  # bus j's current goes to row perm_r[j] of the right-hand side
    sol_row: I64  # bus j's voltage is row perm_c[j] of the solution

    @classmethod
    def factorise(cls, y_pp: sp.csc_matrix, ordering: str = "MMD_AT_PLUS_A") -> LuFactors:
        """SuperLU with diagonal pivots; ``ordering="NATURAL"`` for a matrix already in a good order."""
        lu = splu(y_pp, permc_spec=ordering, diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        lower = sp.csc_matrix(sp.tril(lu.L, k=-1))
        upper = sp.csc_matrix(sp.triu(lu.U, k=1))
        for m in (lower, upper):
            m.sort_indices()
        return cls(
            *_csc_arrays(lower),
            *_csc_arrays(upper),
            split(1.0 / lu.U.diagonal()),
            np.ascontiguousarray(lu.perm_r, dtype=np.int64),
            np.ascontiguousarray(lu.perm_c, dtype=np.int64),
        )

    def system(self, v0: F64) -> pf.FixedPoint:
        """The kernel object holding these factors and the no-load voltage ``v0`` (2, n)."""
        return pf.FixedPoint(
            self.l_indptr, self.l_indices, self.l_data, self.u_indptr, self.u_indices, self.u_data,
            self.u_diag_inv, self.rhs_row, self.sol_row, np.ascontiguousarray(v0),
        )


def _csc_arrays(m: sp.csc_matrix) -> tuple[I64, I64, F64]:
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), split(m.data.astype(complex))


@dataclass(frozen=True)
class SparseRows:
    """Rows of a complex sparse matrix (CSR) in the kernels' arrays."""

    indptr: I64
    indices: I64
    data: F64  # (2, nnz)

    @classmethod
    def of(cls, m: sp.spmatrix | sp.sparray) -> SparseRows:
        csr = sp.csr_matrix(m, dtype=complex)
        csr.sort_indices()
        return cls(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), split(csr.data))


@dataclass(frozen=True)
class BranchSet:
    """The lines (or transformers) of the GridState: which sit in the internal model, their rows
    of Yf/Yt, and the factors from per-unit current to loading percent."""

    in_model: I64  # positions (in the element order) of the elements in the internal model
    y: F64  # (k, 8): re, im of yff, yft, ytf, ytt: I_f = yff V_f + yft V_t, I_t = ytf V_f + ytt V_t
    from_bus: I64
    to_bus: I64
    scale_from: F64  # loading percent per unit of |I_from| (pu)
    scale_to: F64
    static: F64  # loading of every element outside the model (in-model rows: NaN placeholder)

    def __len__(self) -> int:
        return int(self.static.size)

    @property
    def all_in_model(self) -> bool:
        return self.in_model.size == self.static.size


@dataclass(frozen=True)
class Injections:
    """kW / kvar of the driven elements -> per-unit injections (generation positive) at some buses:
    s = const + P @ p_kw + j Q @ q_kvar."""

    const: NDArray[np.complex128]
    p: sp.csr_matrix
    q: sp.csr_matrix

    def rows(self, idx: I64) -> Injections:
        return Injections(self.const[idx], sp.csr_matrix(self.p[idx]), sp.csr_matrix(self.q[idx]))

    def onto(self, rows: I64) -> pf.Injector:
        """The kernel that fills the injections of T steps at the rows ``rows`` (positions in this set)."""
        position = np.full(self.const.size, -1, dtype=np.int64)
        position[rows] = np.arange(rows.size)
        return pf.Injector(split(self.const[rows]), *_column_rows(self.p, position), *_column_rows(self.q, position))


def _column_rows(m: sp.csr_matrix, position: I64) -> tuple[I64, F64]:
    """Each column's one row (an element sits at one bus) mapped through ``position``, and its value."""
    csc = sp.csc_matrix(m)
    csc.sum_duplicates()
    counts = np.diff(csc.indptr)
    if (counts > 1).any():
        raise ValueError("an injection input reaches more than one bus")
    rows = np.full(m.shape[1], -1, dtype=np.int64)
    coef = np.zeros(m.shape[1])
    has = np.flatnonzero(counts)
    rows[has] = position[csc.indices[csc.indptr[has]]]
    coef[has] = csc.data[csc.indptr[has]].real
    return rows, coef


@dataclass(frozen=True)
class FastModel:
    """Everything the fixed point and its results need, for one topology."""

    base_mva: float
    n_bus: int  # internal (in-service) buses
    pq: I64  # internal bus index of each solved (PQ) bus
    ref: I64  # internal bus index of each slack bus
    v_slack: NDArray[np.complex128]  # slack voltages (pu)
    v0: F64  # (2, n_pq) no-load voltage of the PQ buses
    factors: LuFactors  # of Y_pp (all PQ buses)
    s_pq: Injections  # at the PQ buses (pq order)
    y_ref: SparseRows  # rows of Ybus at the slack buses
    bus_pos: I64  # internal index of each feeder bus (-1: isolated -> NaN)
    lines: BranchSet
    trafos: BranchSet
    # what the fixed point iterates on (``fast_reduce``): the kept PQ buses, their reduced system,
    # and every internal bus voltage from theirs: V_bus = offset + expand @ V_kept
    kept: I64  # positions in ``pq``
    system: pf.FixedPoint  # the kernels' handle on the reduced factors, permutations and V0_kept
    expand: SparseRows  # (n_bus, n_kept)
    offset: F64  # (2, n_bus)
    s_kept: pf.Injector  # inputs -> injections at the kept buses
    s_slack: pf.Injector  # inputs -> injections of the slack buses' own elements

    @property
    def n_kept(self) -> int:
        return int(self.kept.size)


def build_model(
    net: pp.pandapowerNet,
    *,
    bus_ids: tuple[int, ...],
    line_ids: tuple[int, ...],
    trafo_ids: tuple[int, ...],
    p_elements: list[tuple[str, int, float]],
    q_elements: list[tuple[str, int, float]],
    eliminate: bool = True,
) -> FastModel:
    """Build the fast model from a pandapower net.

    ``p_elements`` / ``q_elements``: the driven inputs in order, as (table, element id, sign)
    with sign -1 for consumption (loads) and +1 for generation (sgens); every driven column is
    zeroed before pandapower builds the constant part. ``eliminate``: iterate on the buses left by
    ``fast_reduce`` (the default) or on every PQ bus. Raises ``ValueError`` for a net the fixed
    point cannot solve exactly (voltage-controlled or FACTS elements, voltage-dependent loads).
    """
    net = copy.deepcopy(net)
    _check_supported(net)
    for elements, column in ((p_elements, "p_mw"), (q_elements, "q_mvar")):
        for table, (_, ids, _) in _by_table(elements).items():
            net[table].loc[ids, column] = 0.0
    with _pandapower_without_numba():
        pp.runpp(net, numba=False, tolerance_mva=1e-10)
    ppci = net._ppc["internal"]
    _check_internal(ppci)
    base_mva = float(ppci["baseMVA"])
    n_bus = ppci["bus"].shape[0]
    lookup = np.asarray(net._pd2ppc_lookups["bus"], dtype=np.int64)
    ybus = sp.csr_matrix(ppci["Ybus"])
    pq = np.asarray(ppci["pq"], dtype=np.int64)
    ref = np.asarray(ppci["ref"], dtype=np.int64)
    v_slack = np.asarray(ppci["V"], dtype=complex)[ref]
    y_pp = sp.csc_matrix(ybus[pq][:, pq])
    factors = LuFactors.factorise(y_pp)
    v0 = -factors_solve(factors, np.asarray(ybus[pq][:, ref] @ v_slack))
    injections = Injections(
        -(ppci["bus"][:, PD].real + 1j * ppci["bus"][:, QD].real) / base_mva,
        _incidence(net, p_elements, lookup, n_bus, base_mva),
        _incidence(net, q_elements, lookup, n_bus, base_mva),
    )
    s_pq = injections.rows(pq)
    has_injection = (np.diff(s_pq.p.indptr) > 0) | (np.diff(s_pq.q.indptr) > 0) | (s_pq.const != 0)
    reduction = reduce(y_pp, v0, pq, ref, v_slack, n_bus, has_injection, eliminate=eliminate)
    return FastModel(
        base_mva=base_mva,
        n_bus=n_bus,
        pq=pq,
        ref=ref,
        v_slack=v_slack,
        v0=split(v0),
        factors=factors,
        s_pq=s_pq,
        y_ref=SparseRows.of(ybus[ref]),
        bus_pos=_bus_positions(lookup, bus_ids, n_bus),
        lines=_branches(net, ppci, "line", line_ids, base_mva),
        trafos=_branches(net, ppci, "trafo", trafo_ids, base_mva),
        kept=reduction.kept,
        system=LuFactors.factorise(reduction.y_red, "NATURAL").system(split(v0[reduction.kept])),
        expand=SparseRows.of(reduction.expand),
        offset=split(reduction.offset),
        s_kept=s_pq.onto(reduction.kept),
        s_slack=injections.rows(ref).onto(np.arange(ref.size)),
    )


# pandapower's numba-compiled helpers that ``runpp`` calls even with ``numba=False`` (selecting the
# in-service elements, transformer ratios), as (module, name bound there, pure-Python original in
# ``pandapower.auxiliary``: the source numba compiles).
_NUMBA_HELPERS = (
    ("pandapower.auxiliary", "get_values", "_get_values"),
    ("pandapower.auxiliary", "set_elements_oos", "_python_set_elements_oos"),
    ("pandapower.auxiliary", "set_isolated_buses_oos", "_python_set_isolated_buses_oos"),
    ("pandapower.build_branch", "get_values", "_get_values"),
)
_NUMBA_HELPERS_LOCK = threading.Lock()


@contextmanager
def _pandapower_without_numba() -> Iterator[None]:
    """Run pandapower's numba helpers as the plain Python they are compiled from, for one build.

    The first numba call of a process sets up numba's typing context: 0.4 s, the largest part of
    ``build_model`` in a fresh process, for helpers that take about a millisecond in Python on the
    IEEE European LV feeder. The swap is undone on exit, under a lock (another thread's pandapower
    call meanwhile gets the same results, run as Python). If pandapower no longer has these names,
    nothing is swapped.
    """
    modules = {name: importlib.import_module(name) for name in {m for m, _, _ in _NUMBA_HELPERS}}
    auxiliary = modules["pandapower.auxiliary"]
    if not all(hasattr(modules[m], name) and hasattr(auxiliary, py) for m, name, py in _NUMBA_HELPERS):
        yield
        return
    with _NUMBA_HELPERS_LOCK:
        compiled = [getattr(modules[m], name) for m, name, _ in _NUMBA_HELPERS]
        for m, name, python in _NUMBA_HELPERS:
            setattr(modules[m], name, getattr(auxiliary, python))
        try:
            yield
        finally:
            for (m, name, _), function in zip(_NUMBA_HELPERS, compiled, strict=True):
                setattr(modules[m], name, function)


def factors_solve(factors: LuFactors, b: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Y_pp^-1 b for one complex vector (permutations applied), by the kernel."""
    rhs = np.zeros((2, b.size, 1))
    rhs[0, factors.rhs_row, 0] = b.real
    rhs[1, factors.rhs_row, 0] = b.imag
    factors.system(np.zeros((2, b.size))).lu_solve(rhs)
    y = rhs[0, :, 0] + 1j * rhs[1, :, 0]
    return y[factors.sol_row]


class UnsupportedNetworkError(ValueError):
    """The network has elements the fixed point cannot solve exactly; use the pandapower solver."""


_VOLTAGE_DEPENDENT = ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent",
                      "const_z_percent", "const_i_percent")


def _check_supported(net: pp.pandapowerNet) -> None:
    loads = net.load[net.load["in_service"].astype(bool)]
    cols = [c for c in _VOLTAGE_DEPENDENT if c in loads.columns]
    dependent = loads.index[(loads[cols].fillna(0.0).to_numpy(dtype=float) != 0.0).any(axis=1)] if cols else []
    if len(dependent):
        raise UnsupportedNetworkError(
            f"the fast load flow solves constant-power loads only; loads {sorted(int(i) for i in dependent)[:10]} "
            'are voltage dependent (const_z/const_i percent): use loadflow = "pandapower"'
        )


def _check_internal(ppci: dict) -> None:
    """Only PQ buses and slack buses, no FACTS or DC elements: what the fixed point solves."""
    found = {"voltage-controlled buses (gen, xward)": len(ppci["pv"])}
    for key in ("svc", "tcsc", "ssc", "vsc", "bus_dc"):
        found[key] = len(ppci.get(key, ()))
    bad = {k: n for k, n in found.items() if n}
    if bad:
        what = ", ".join(f"{n} {k}" for k, n in bad.items())
        raise UnsupportedNetworkError(
            f"the fast load flow solves PQ buses behind a slack only; this network has {what}: "
            'use loadflow = "pandapower"'
        )


def _bus_positions(lookup: I64, bus_ids: tuple[int, ...], n_bus: int) -> I64:
    pos = lookup[np.asarray(bus_ids, dtype=np.int64)] if bus_ids else np.zeros(0, dtype=np.int64)
    return np.where((pos >= 0) & (pos < n_bus), pos, -1).astype(np.int64)


def _incidence(
    net: pp.pandapowerNet, elements: list[tuple[str, int, float]], lookup: I64, n_bus: int, base_mva: float
) -> sp.csr_matrix:
    """Map kW (kvar) of each driven element to per-unit injection at its internal bus, as pandapower
    does: value x scaling, only in service, only on buses in the model."""
    rows, cols, vals = [], [], []
    for table, (positions, ids, signs) in _by_table(elements).items():
        frame = net[table].loc[ids]
        pos = lookup[frame["bus"].to_numpy(dtype=np.int64)]
        used = frame["in_service"].to_numpy(dtype=bool) & (pos >= 0) & (pos < n_bus)
        rows.append(pos[used])
        cols.append(positions[used])
        vals.append((signs * frame["scaling"].to_numpy(dtype=float) / (1000.0 * base_mva))[used])
    if not rows:
        return sp.csr_matrix((n_bus, len(elements)))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_bus, len(elements)))


def _by_table(elements: list[tuple[str, int, float]]) -> dict[str, tuple[I64, list[int], F64]]:
    """The (table, element id, sign) list grouped by table: positions in the list, ids, signs."""
    groups: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for k, (table, idx, sign) in enumerate(elements):
        positions, ids, signs = groups.setdefault(table, ([], [], []))
        positions.append(k)
        ids.append(int(idx))
        signs.append(float(sign))
    return {t: (np.asarray(p, dtype=np.int64), i, np.asarray(s, dtype=float)) for t, (p, i, s) in groups.items()}


def _branches(net: pp.pandapowerNet, ppci: dict, kind: str, ids: tuple[int, ...], base_mva: float) -> BranchSet:
    n = len(ids)
    span = net._pd2ppc_lookups["branch"].get(kind)
    if span is None or n == 0:
        z = np.zeros(0, dtype=np.int64)
        return BranchSet(z, np.zeros((0, 8)), z, z, np.zeros(0), np.zeros(0), np.full(n, np.nan))
    table = net[kind]
    ppc_rows = span[0] + table.index.get_indexer(list(ids))
    branch_is = np.asarray(ppci["branch_is"], dtype=bool)
    internal_row = np.cumsum(branch_is) - 1
    ppc_branch = net._ppc["branch"]
    live = (ppc_branch[ppc_rows][:, [F_BUS, T_BUS]].real.astype(np.int64) < ppci["bus"].shape[0])
    i_static = np.where(live, 0.0, np.nan)  # pandapower: |S| = 0 over vm (NaN on an isolated bus)
    rated, per_side = _ratings(table.loc[list(ids)], kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        static = np.max(i_static * per_side, axis=1) / rated * 100.0
        if kind == "line":
            static = np.where(rated != 0, static, np.inf)
    solved = branch_is[ppc_rows] & np.isfinite(100.0 / rated) if kind == "line" else branch_is[ppc_rows]
    in_model = np.flatnonzero(solved).astype(np.int64)
    rows = internal_row[ppc_rows[in_model]]
    f_bus = ppci["branch"][rows, F_BUS].real.astype(np.int64)
    t_bus = ppci["branch"][rows, T_BUS].real.astype(np.int64)
    kv = ppci["bus"][:, BASE_KV].real
    # i_ka = |I_pu| base_mva / (sqrt(3) base_kv); loading = i_ka * per_side / rated * 100
    unit = base_mva / _SQRT3 * 100.0 / rated[in_model]
    static[in_model] = np.nan
    return BranchSet(
        in_model=in_model,
        y=_two_port(ppci["Yf"], ppci["Yt"], rows, f_bus, t_bus),
        from_bus=f_bus,
        to_bus=t_bus,
        scale_from=unit * per_side[in_model, 0] / kv[f_bus],
        scale_to=unit * per_side[in_model, 1] / kv[t_bus],
        static=static,
    )


def _two_port(yf, yt, rows: I64, f_bus: I64, t_bus: I64) -> F64:
    """Each branch's 2x2 admittances from pandapower's Yf/Yt rows, checked to couple only its two
    buses (re, im of yff, yft, ytf, ytt per row)."""
    yf = sp.csr_matrix(yf[rows], dtype=complex)
    yt = sp.csr_matrix(yt[rows], dtype=complex)
    coef = [sp.csr_matrix(m)[np.arange(rows.size), cols].A1 if rows.size else np.zeros(0, dtype=complex)
            for m, cols in ((yf, f_bus), (yf, t_bus), (yt, f_bus), (yt, t_bus))]
    for m, (a, b) in ((yf, (coef[0], coef[1])), (yt, (coef[2], coef[3]))):
        if not np.allclose(np.asarray(abs(m).sum(axis=1)).ravel(), np.abs(a) + np.abs(b), rtol=1e-12, atol=0.0):
            raise UnsupportedNetworkError("a branch of the internal model couples more than its two buses")
    return np.ascontiguousarray(np.stack([part for c in coef for part in (c.real, c.imag)], axis=1))


def _ratings(table, kind: str) -> tuple[F64, F64]:
    """The rated value each side's current is divided by, and per-side factors, as pandapower's
    ``_get_line_results`` / ``_get_trafo_results`` (current-based transformer loading)."""
    if kind == "line":
        rated = (table["max_i_ka"] * table["df"] * table["parallel"]).to_numpy(dtype=float)
        return rated, np.ones((len(table), 2))
    per_side = table[["vn_hv_kv", "vn_lv_kv"]].to_numpy(dtype=float) * _SQRT3
    rated = (table["sn_mva"] * table["parallel"] * table["df"]).to_numpy(dtype=float)
    return rated, per_side
