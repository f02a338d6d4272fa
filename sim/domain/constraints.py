"""Site limits as a matrix: ``A @ current_a <= b`` over the chargers' current per phase.

The scenario describes a tree of limits (site main fuse or transformer > sub-circuits > ...). Each
node becomes rows of a non-negative matrix ``A``:

- a per-phase current limit ``max_current_a`` becomes three rows (L1, L2, L3). A three-phase charger
  loads all three with coefficient 1; a single-phase charger loads only its own phase;
- an apparent-power limit ``max_kva`` becomes one row with coefficient ``phases * v_ln / 1000``
  (kVA per ampere at unity power factor);
- a node covers its own chargers and those of every node below it.

A site import limit (``import_limit_kw``: base load + charging) is one more row, in kW per ampere,
whose ``b`` is the limit minus the base load, so it changes every tick: ``Constraints.with_limit``.
Later limits from the grid (headroom, linearised voltage limits) are more rows of the same kind.

``A`` is stored column-wise (CSC: for each charger the rows it loads and the coefficients), which
is what the allocation kernels in ``core_ext`` walk. Per-charger bounds (min/max current) are not
rows: they are bounds the kernels apply directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from sim.domain.chargers import ChargerTable

PHASE_NAMES = ("L1", "L2", "L3")


@dataclass(frozen=True)
class LimitNode:
    """One node of the limits tree; ``charger_ids`` are the chargers wired directly below it."""

    node_id: str
    parent: str | None = None
    max_current_a: float | None = None
    max_kva: float | None = None
    charger_ids: tuple[str, ...] = ()


_T = TypeVar("_T", bound=np.generic)


def _ro(values: NDArray[_T]) -> NDArray[_T]:
    values = np.ascontiguousarray(values)
    values.setflags(write=False)
    return values


@dataclass(frozen=True)
class Constraints:
    """``A @ current_a <= limit`` with ``A`` in CSC form over the chargers (read-only arrays)."""

    row_names: tuple[str, ...]
    indptr: NDArray[np.int64]  # len n_chargers + 1
    indices: NDArray[np.int64]  # row of each stored coefficient
    coef: NDArray[np.float64]  # > 0
    limit: NDArray[np.float64]  # b, one per row
    row_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row_index", {name: i for i, name in enumerate(self.row_names)})

    @property
    def n_rows(self) -> int:
        return len(self.row_names)

    @property
    def n_chargers(self) -> int:
        return len(self.indptr) - 1

    def with_limit(self, row_name: str, value: float) -> Constraints:
        """The same matrix with row ``row_name``'s limit set to ``value`` (time-varying rows)."""
        limit = np.array(self.limit)
        limit[self.row_index[row_name]] = value
        return Constraints(self.row_names, self.indptr, self.indices, self.coef, _ro(limit))

    def with_rows(self, row_names: Sequence[str], coef: NDArray[np.float64], limit: NDArray[np.float64]) -> Constraints:
        """This matrix with rows appended: ``coef`` (k x n_chargers, >= 0; zeros are not stored) and
        their limits ``limit`` (k). Existing rows keep their positions (``row_index`` stays valid)."""
        coef = np.asarray(coef, dtype=float).reshape(len(row_names), self.n_chargers)
        if coef.size and (coef.min() < 0.0 or not np.isfinite(coef).all()):
            raise ValueError("constraint coefficients must be finite and >= 0")
        new_rows, new_cols = np.nonzero(coef.T)[::-1]  # column-major: sorted by charger, then row
        old_cols = np.repeat(np.arange(self.n_chargers), np.diff(self.indptr))
        cols = np.concatenate([old_cols, new_cols])
        order = np.argsort(cols, kind="stable")  # each column: its old rows first, then the new ones
        indices = np.concatenate([self.indices, new_rows + self.n_rows])[order]
        values = np.concatenate([self.coef, coef[new_rows, new_cols]])[order]
        indptr = np.zeros(self.n_chargers + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=self.n_chargers), out=indptr[1:])
        limits = np.concatenate([self.limit, np.asarray(limit, dtype=float).reshape(len(row_names))])
        return Constraints(self.row_names + tuple(row_names), _ro(indptr), _ro(indices), _ro(values), _ro(limits))

    def load(self, current_a: NDArray[np.float64]) -> NDArray[np.float64]:
        """``A @ current_a``: what each row carries at the given charger currents."""
        out = np.zeros(self.n_rows)
        counts = np.diff(self.indptr)
        np.add.at(out, self.indices, self.coef * np.repeat(current_a, counts))
        return out

    def columns(self, charger_index: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """The CSC arrays of the given chargers' columns, in that order (one column per session)."""
        if not len(self.indices):  # no rows touch any charger (a site without limits): empty columns
            return np.zeros(len(charger_index) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        starts = self.indptr[charger_index]
        counts = self.indptr[charger_index + 1] - starts
        indptr = np.zeros(len(charger_index) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        # position p of the output column k reads input position starts[k] + (p - indptr[k])
        take = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1], dtype=np.int64)
        return indptr, np.ascontiguousarray(self.indices[take]), np.ascontiguousarray(self.coef[take])

    def dense(self) -> NDArray[np.float64]:
        """``A`` as a dense matrix (rows x chargers), for tests and small reports."""
        a = np.zeros((self.n_rows, self.n_chargers))
        for j in range(self.n_chargers):
            rows = self.indices[self.indptr[j] : self.indptr[j + 1]]
            a[rows, j] = self.coef[self.indptr[j] : self.indptr[j + 1]]
        return a


def phase_matrix(chargers: ChargerTable) -> NDArray[np.float64]:
    """Which phases each charger loads: 3 x n_chargers, 1.0 or 0.0 (rows L1, L2, L3).

    A three-phase charger loads all three with its current per phase; a single-phase charger only
    its own ``phase``. ``phase_matrix @ current_a`` is the charging current on each phase.
    """
    loads = np.zeros((len(PHASE_NAMES), len(chargers)))
    for j, charger in enumerate(chargers.chargers):
        for p, name in enumerate(PHASE_NAMES):
            loads[p, j] = float(charger.phases == 3 or charger.phase == name)
    return loads


def _subtree_chargers(nodes: Sequence[LimitNode]) -> dict[str, set[str]]:
    """For each node, every charger id at or below it."""
    children: dict[str | None, list[LimitNode]] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node)
    covered: dict[str, set[str]] = {}

    def visit(node: LimitNode) -> set[str]:
        ids = set(node.charger_ids)
        for child in children.get(node.node_id, []):
            ids |= visit(child)
        covered[node.node_id] = ids
        return ids

    for root in children.get(None, []):
        visit(root)
    return covered


def build_constraints(
    chargers: ChargerTable,
    nodes: Sequence[LimitNode] = (),
    import_limit_kw: float | None = None,
) -> Constraints:
    """The rows of a limits tree (plus an optional import-limit row) over ``chargers``.

    The tree must already be valid (one root; every parent known; a charger under at most one node):
    the scenario loader checks that. A charger not listed under any node belongs to the root.
    """
    covered = _subtree_chargers(nodes)
    roots = [n for n in nodes if n.parent is None]
    if roots:
        listed = set().union(*(set(n.charger_ids) for n in nodes))
        covered[roots[0].node_id] |= set(chargers.ids) - listed
    row_names: list[str] = []
    limits: list[float] = []
    columns: list[list[tuple[int, float]]] = [[] for _ in range(len(chargers))]
    index = chargers.index_of()
    kva_per_a = chargers.phases * chargers.v_ln_v / 1000.0
    on_phase = phase_matrix(chargers)
    for node in nodes:
        members = sorted(index[c] for c in covered.get(node.node_id, ()) if c in index)
        if node.max_current_a is not None:
            for p, name in enumerate(PHASE_NAMES):
                row = len(row_names)
                row_names.append(f"{node.node_id}:{name}")
                limits.append(float(node.max_current_a))
                for j in members:
                    if on_phase[p, j]:
                        columns[j].append((row, 1.0))
        if node.max_kva is not None:
            row = len(row_names)
            row_names.append(f"{node.node_id}:kva")
            limits.append(float(node.max_kva))
            for j in members:
                columns[j].append((row, float(kva_per_a[j])))
    if import_limit_kw is not None:
        row = len(row_names)
        row_names.append("import_kw")
        limits.append(float(import_limit_kw))
        for j in range(len(chargers)):
            columns[j].append((row, float(kva_per_a[j])))
    return _from_columns(row_names, limits, columns)


def _from_columns(row_names: list[str], limits: list[float], columns: list[list[tuple[int, float]]]) -> Constraints:
    indptr = np.zeros(len(columns) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in columns], out=indptr[1:])
    indices = np.array([r for col in columns for r, _ in col], dtype=np.int64)
    coef = np.array([c for col in columns for _, c in col], dtype=float)
    return Constraints(tuple(row_names), _ro(indptr), _ro(indices), _ro(coef), _ro(np.array(limits, dtype=float)))


def no_constraints(n_chargers: int) -> Constraints:
    """An empty constraint set (chargers bounded only by their own min/max)."""
    return _from_columns([], [], [[] for _ in range(n_chargers)])
