"""Random allocation problems for the kernel tests: real limit trees over random chargers.

A case is a site of random single- and three-phase chargers under a random tree of per-phase and kVA
limits (``sim.domain.build_constraints``), sometimes an import-limit row, with some limits made
over-subscribed, tiny, zero or negative; a random subset of chargers has a session (one column each),
with random bounds, a random order and random current steps or sets of allowed currents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.domain import Charger, ChargerTable, LimitNode, build_constraints

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
SET_VALUES_A = np.array([4.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 24.0, 32.0])


@dataclass(frozen=True)
class Case:
    order: I64
    upper_a: F64
    lower_a: F64
    indptr: I64
    indices: I64
    coef: F64
    limit: F64
    step_a: F64
    allowed_indptr: I64
    allowed_a: F64

    @property
    def n(self) -> int:
        return len(self.upper_a)

    def problem(self) -> tuple[I64, F64, F64, I64, I64, F64, F64]:
        """The arguments of priority_allocate / waterfill before ``out_a``."""
        return self.order, self.upper_a, self.lower_a, self.indptr, self.indices, self.coef, self.limit

    def grid(self) -> tuple[F64, I64, F64]:
        return self.step_a, self.allowed_indptr, self.allowed_a

    def rows(self, k: int) -> tuple[I64, F64]:
        return self.indices[self.indptr[k] : self.indptr[k + 1]], self.coef[self.indptr[k] : self.indptr[k + 1]]

    def allowed(self, k: int) -> F64:
        return self.allowed_a[self.allowed_indptr[k] : self.allowed_indptr[k + 1]]

    def load(self, current_a: F64) -> F64:
        out = np.zeros(len(self.limit))
        np.add.at(out, self.indices, self.coef * np.repeat(current_a, np.diff(self.indptr)))
        return out

    def bounds(self) -> tuple[F64, F64]:
        """(upper, effective minimum) as the kernels define them."""
        up = np.maximum(self.upper_a, 0.0)
        return up, np.maximum(np.minimum(self.lower_a, up), 0.0)


def _chargers(rng: np.random.Generator, n: int) -> ChargerTable:
    chargers = []
    for i in range(n):
        phases = int(rng.choice([1, 3]))
        chargers.append(Charger(
            charger_id=f"c{i}", bus=0, phases=phases,
            phase=str(rng.choice(["L1", "L2", "L3"])) if phases == 1 else "L1L2L3",
            max_current_a=float(rng.choice([16.0, 32.0])),
            min_current_a=float(rng.choice([0.0, 6.0, 6.0, rng.uniform(0.0, 10.0)])),
        ))
    return ChargerTable(tuple(chargers))


def _limit_a(rng: np.random.Generator, n: int) -> float:
    """Round values (ties with 16/32 A uppers and 6 A minimums) or random ones, from tight to loose."""
    if rng.random() < 0.5:
        return float(rng.choice([8.0, 16.0, 24.0, 32.0, 48.0, 63.0]) * rng.integers(1, max(2, n // 3 + 1)))
    return float(rng.uniform(0.0, 16.0 * max(n, 1)))


def _tree(rng: np.random.Generator, table: ChargerTable) -> list[LimitNode]:
    n = len(table)
    n_nodes = int(rng.integers(1, 6))
    owner = rng.integers(-1, n_nodes, n)  # -1: not listed (belongs to the root)
    nodes = []
    for j in range(n_nodes):
        kind = rng.choice(["a", "kva", "both"])
        nodes.append(LimitNode(
            node_id=f"n{j}", parent=None if j == 0 else f"n{int(rng.integers(0, j))}",
            max_current_a=_limit_a(rng, n) if kind in ("a", "both") else None,
            max_kva=_limit_a(rng, n) * 0.69 if kind in ("kva", "both") else None,
            charger_ids=tuple(table.ids[i] for i in np.flatnonzero(owner == j)),
        ))
    return nodes


def _perturb(rng: np.random.Generator, limit: F64) -> F64:
    """Some rows already over (negative), tiny or zero: time-varying rows at a bad moment."""
    limit = np.array(limit, dtype=float)
    u = rng.random(len(limit))
    limit[u < 0.08] = -rng.uniform(1e-12, 5.0, int(np.sum(u < 0.08)))
    limit[(u >= 0.08) & (u < 0.12)] = rng.uniform(0.0, 1e-6, int(np.sum((u >= 0.08) & (u < 0.12))))
    limit[(u >= 0.12) & (u < 0.15)] = 0.0
    return limit


def _bounds(rng: np.random.Generator, table: ChargerTable, ci: I64) -> tuple[F64, F64]:
    n = len(ci)
    max_a = table.max_current_a[ci]
    upper = np.where(rng.random(n) < 0.6, max_a, rng.uniform(0.0, 1.0, n) * max_a)
    upper[rng.random(n) < 0.05] = 0.0
    upper[rng.random(n) < 0.03] = -1e-12  # what a taper computation may leave
    return np.ascontiguousarray(upper), np.ascontiguousarray(table.min_current_a[ci], dtype=float)


def _grid(rng: np.random.Generator, n: int) -> tuple[F64, I64, F64]:
    step = rng.choice([0.0, 0.1, 0.5, 1.0, 2.0, 3.3], n)
    sets = [np.sort(rng.choice(SET_VALUES_A, int(rng.integers(1, 6)), replace=False)) if rng.random() < 0.3
            else np.zeros(0) for _ in range(n)]
    allowed_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=allowed_indptr[1:])
    allowed = np.concatenate(sets) if n else np.zeros(0)
    return np.ascontiguousarray(step), allowed_indptr, np.ascontiguousarray(allowed, dtype=float)


def random_case(seed: int, n_chargers: int, session_share: float = 0.8) -> Case:
    """A random site of ``n_chargers`` chargers, about ``session_share`` of them with a session."""
    rng = np.random.default_rng(seed)
    table = _chargers(rng, n_chargers)
    import_kw = float(rng.uniform(0.0, 11.0 * max(n_chargers, 1))) if rng.random() < 0.3 else None
    cons = build_constraints(table, _tree(rng, table), import_limit_kw=import_kw)
    ci = rng.permutation(n_chargers)[: int(round(session_share * n_chargers))].astype(np.int64)
    indptr, indices, coef = cons.columns(ci)
    upper, lower = _bounds(rng, table, ci)
    step, allowed_indptr, allowed = _grid(rng, len(ci))
    return Case(rng.permutation(len(ci)).astype(np.int64), upper, lower, np.ascontiguousarray(indptr),
                np.ascontiguousarray(indices, dtype=np.int64), np.ascontiguousarray(coef),
                _perturb(rng, cons.limit), step, allowed_indptr, allowed)


def allocate(kernel: object, case: Case) -> F64:
    """Run ``priority_allocate`` or ``waterfill`` (any backend) on a case into a fresh array."""
    out = np.full(case.n, np.nan)
    kernel(*case.problem(), out)  # type: ignore[operator]
    return out


def quantized(module: object, case: Case, io_a: F64) -> F64:
    """``module.quantize`` applied to a copy of ``io_a``."""
    io = np.array(io_a, dtype=float)
    module.quantize(case.order, case.upper_a, case.lower_a, *case.grid(), case.indptr, case.indices,  # type: ignore[attr-defined]
                    case.coef, case.limit, io)
    return io
