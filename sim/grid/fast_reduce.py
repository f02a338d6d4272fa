"""Kron reduction of the passive chain buses: the fixed point iterates on fewer buses, exactly.

A feeder has many buses with nothing connected but cables: joints along a street, the ends of
service cables. Such a bus draws no current, so its voltage is a fixed linear function of its
neighbours'. ``chain_buses`` picks the passive PQ buses that can be eliminated without any fill-in:
repeatedly one with no injection and at most two remaining neighbours (after eliminating a bus, its
two neighbours become neighbours). Every connected group of eliminated buses then touches at most
two kept buses, so in

    x_E = W x_K,   W = -Y_EE^-1 Y_EK,        (x = V - V0: no current flows into E)
    (Y_KK + Y_KE W) x_K = I_K                (the Schur complement, again a sparse tree-like matrix)

``W`` has at most two entries per row and the reduced matrix no more entries than ``Y_KK`` had plus
one per eliminated chain. The fixed point solves the reduced system on the kept buses K (on the IEEE
European LV feeder: 108 of 906 PQ buses, ten times fewer rows per iteration) and the voltage of
every bus follows once per step as ``V = offset + expand @ V_K`` (``Reduction.expand``).

Why not a dense reduced impedance matrix on the injection buses only (Z_red = Y_pp^-1 restricted to
the 55 house buses)? It is exact too, but a dense 55 x 55 product per step and iteration costs
more than the sparse sweeps over the 108 kept buses of the tree (measured: 1.9 us against 0.34 us
per step and iteration on that feeder, and slower on all five test feeders), and it grows with the
square of the number of loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
C128 = NDArray[np.complex128]


def chain_buses(y_pp: sp.spmatrix | sp.sparray, has_injection: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The buses (rows of ``y_pp``) to eliminate: without injection, and at most two neighbours
    once the buses eliminated before them are gone (see the module docstring)."""
    pattern = sp.csr_matrix(y_pp)
    n = pattern.shape[0]
    neighbours = [set(pattern.indices[pattern.indptr[i]:pattern.indptr[i + 1]].tolist()) - {i} for i in range(n)]
    eliminated = np.zeros(n, dtype=bool)
    candidates = [i for i in range(n) if not has_injection[i] and len(neighbours[i]) <= 2]
    while candidates:
        e = candidates.pop()
        if eliminated[e] or len(neighbours[e]) > 2:
            continue
        eliminated[e] = True
        around = neighbours[e]
        for a in around:
            neighbours[a].discard(e)
            neighbours[a] |= around - {a}
        for a in around:
            if not has_injection[a] and not eliminated[a] and len(neighbours[a]) <= 2:
                candidates.append(a)
        neighbours[e] = set()
    return eliminated


@dataclass(frozen=True)
class Reduction:
    """The reduced admittance matrix on the kept buses and every bus voltage from theirs."""

    kept: I64  # positions (in the PQ order) of the kept buses, in elimination order
    y_red: sp.csc_matrix  # Y_KK + Y_KE W (kept x kept), to be factorised in this order
    expand: sp.csr_matrix  # internal bus x kept bus: V_bus = offset + expand @ V_kept
    offset: C128  # (n_bus,)


def reduce(
    y_pp: sp.csc_matrix,
    v0: C128,
    pq: I64,
    ref: I64,
    v_slack: C128,
    n_bus: int,
    has_injection: NDArray[np.bool_],
    *,
    eliminate: bool = True,
) -> Reduction:
    """Eliminate the chain buses of ``y_pp`` (PQ x PQ, no-load voltage ``v0`` in PQ order); with
    ``eliminate=False`` nothing is eliminated (the fixed point then runs on every PQ bus). ``pq`` and
    ``ref`` are the internal indices (of ``n_bus``) of the PQ and the slack buses (voltage ``v_slack``)."""
    gone = chain_buses(y_pp, has_injection) if eliminate else np.zeros(pq.size, dtype=bool)
    kept, elim = np.flatnonzero(~gone), np.flatnonzero(gone)
    y_pp = sp.csr_matrix(y_pp)
    y_red = sp.csc_matrix(y_pp[kept][:, kept])
    w = sp.csr_matrix((elim.size, kept.size), dtype=complex)
    if elim.size:
        w = _elimination_weights(sp.csc_matrix(y_pp[elim][:, elim]), sp.coo_matrix(y_pp[elim][:, kept]))
        y_red = sp.csc_matrix(y_red + y_pp[kept][:, elim] @ w)
    # the kept buses in the order the factorisation eliminates them (minimum degree, as
    # ``LuFactors.factorise`` orders), so the factors need no permutation and the kernels walk the
    # rows in order (a third faster on a 10,000-bus network than in bus order)
    order = np.argsort(splu(y_red, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                            options={"SymmetricMode": True}).perm_c)
    kept, y_red, w = kept[order], sp.csc_matrix(y_red[order][:, order]), sp.csr_matrix(w[:, order])
    # the kept buses' own rows are units, the eliminated buses' rows are W, the slack rows empty
    w_coo = w.tocoo()
    expand = sp.csr_matrix(
        (
            np.concatenate([np.ones(kept.size, dtype=complex), w_coo.data]),
            (np.concatenate([pq[kept], pq[elim][w_coo.row]]), np.concatenate([np.arange(kept.size), w_coo.col])),
        ),
        shape=(n_bus, kept.size),
    )
    offset = np.zeros(n_bus, dtype=complex)
    offset[pq[elim]] = v0[elim] - w @ v0[kept]
    offset[ref] = v_slack
    return Reduction(kept.astype(np.int64), y_red, expand, offset)


def _elimination_weights(y_ee: sp.csc_matrix, y_ek: sp.coo_matrix) -> sp.csr_matrix:
    """W = -Y_EE^-1 Y_EK, computed in one solve with two right-hand sides.

    Y_EE is block diagonal over the connected groups of eliminated buses, and each group touches at
    most two kept buses (its boundary, ``chain_buses``), so W is nonzero only on a group's rows and its
    boundary's columns. Put each group's couplings to its first boundary bus into right-hand side 0
    and to its second into 1: one solve gives every group's two columns at once.
    """
    n_groups, group = connected_components(y_ee != 0, directed=False)
    pairs = np.unique(np.stack([group[y_ek.row], y_ek.col], axis=1), axis=0)  # (group, kept bus), sorted
    slot = np.arange(len(pairs)) - np.searchsorted(pairs[:, 0], pairs[:, 0])
    if slot.size and slot.max() > 1:
        raise AssertionError("a group of eliminated buses touches more than two kept buses")
    boundary = np.full((n_groups, 2), -1, dtype=np.int64)
    boundary[pairs[:, 0], slot] = pairs[:, 1]
    rhs = np.zeros((y_ee.shape[0], 2), dtype=complex)
    np.add.at(rhs, (y_ek.row, (boundary[group[y_ek.row], 1] == y_ek.col).astype(np.int64)), y_ek.data)
    x = splu(y_ee).solve(rhs)
    rows = np.repeat(np.arange(y_ee.shape[0]), 2)
    cols = boundary[group].ravel()
    used = cols >= 0
    w = sp.csr_matrix((-x.ravel()[used], (rows[used], cols[used])), shape=(y_ee.shape[0], y_ek.shape[1]))
    w.eliminate_zeros()
    return w
