"""``Constraints.with_rows``: rows appended to A @ current_a <= b, the old rows untouched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.domain import Charger, ChargerTable, Constraints, LimitNode, build_constraints, no_constraints

EXAMPLES = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def site() -> Constraints:
    """Three chargers (three-phase, single-phase on L2, three-phase) under a fuse and a sub-circuit,
    plus an import row."""
    table = ChargerTable((Charger("a", 1), Charger("b", 1, phases=1, phase="L2"), Charger("c", 2)))
    nodes = [LimitNode("main", None, max_current_a=63, max_kva=40),
             LimitNode("sub", "main", max_current_a=32, charger_ids=("a", "b"))]
    return build_constraints(table, nodes, import_limit_kw=30)


def _assert_appended(old: Constraints, new: Constraints, names: list[str], coef: np.ndarray, limit: np.ndarray) -> None:
    """``new`` is ``old`` with the rows ``names`` / ``coef`` / ``limit`` appended, in valid CSC form."""
    assert new.row_names == old.row_names + tuple(names)
    assert new.n_chargers == old.n_chargers
    for name, k in old.row_index.items():
        assert new.row_index[name] == k  # old rows keep their positions
    for k, name in enumerate(names):
        assert new.row_index[name] == old.n_rows + k
    np.testing.assert_array_equal(new.dense(), np.vstack([old.dense(), coef]))
    np.testing.assert_array_equal(new.limit, np.concatenate([old.limit, limit]))
    # CSC invariants the kernels rely on: zeros are not stored, rows sorted within each column
    assert np.all(new.coef > 0.0)
    assert new.indptr[0] == 0 and new.indptr[-1] == new.indices.size == new.coef.size
    assert np.all(np.diff(new.indptr) >= 0)
    for j in range(new.n_chargers):
        rows = new.indices[new.indptr[j] : new.indptr[j + 1]]
        assert np.all(np.diff(rows) > 0), (j, rows)
    assert new.indptr.dtype == np.int64 and new.indices.dtype == np.int64
    for array in (new.indptr, new.indices, new.coef, new.limit):
        assert not array.flags.writeable


def test_rows_are_appended_after_the_old_ones(site: Constraints) -> None:
    coef = np.array([[0.5, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 1.5, 0.0]])
    limit = np.array([10.0, 3.0, 0.0])
    names = ["grid:bus#4:vm_min", "grid:line#2:loading", "grid:trafo#0:loading"]
    new = site.with_rows(names, coef, limit)
    _assert_appended(site, new, names, coef, limit)
    assert new.coef.size == site.coef.size + 3  # the zeros are not stored
    current = np.array([16.0, 10.0, 8.0])
    np.testing.assert_allclose(new.load(current), new.dense() @ current)
    np.testing.assert_array_equal(site.dense().shape, (8, 3))  # the original is unchanged


def test_with_limit_still_works_on_the_appended_rows(site: Constraints) -> None:
    new = site.with_rows(["grid:x"], np.array([[1.0, 1.0, 1.0]]), np.array([5.0]))
    later = new.with_limit("grid:x", 7.5).with_limit("import_kw", 12.0)
    assert later.limit[new.row_index["grid:x"]] == 7.5 and later.limit[new.row_index["import_kw"]] == 12.0
    np.testing.assert_array_equal(later.dense(), new.dense())


def test_rows_on_an_empty_matrix() -> None:
    empty = no_constraints(2)
    new = empty.with_rows(["r0", "r1"], np.array([[1.0, 0.0], [0.25, 4.0]]), np.array([3.0, 2.0]))
    _assert_appended(empty, new, ["r0", "r1"], np.array([[1.0, 0.0], [0.25, 4.0]]), np.array([3.0, 2.0]))
    assert new.indptr.tolist() == [0, 2, 3] and new.indices.tolist() == [0, 1, 1]


def test_zero_rows_appended_changes_nothing(site: Constraints) -> None:
    new = site.with_rows([], np.zeros((0, 3)), np.zeros(0))
    assert new.row_names == site.row_names
    for name in ("indptr", "indices", "coef", "limit"):
        np.testing.assert_array_equal(getattr(new, name), getattr(site, name))
    np.testing.assert_array_equal(new.dense(), site.dense())


@pytest.mark.parametrize("bad", [-1e-12, -3.0, np.nan, np.inf], ids=["tiny-negative", "negative", "nan", "inf"])
def test_negative_or_non_finite_coefficients_are_rejected(site: Constraints, bad: float) -> None:
    coef = np.array([[1.0, bad, 0.0]])
    with pytest.raises(ValueError, match="finite and >= 0"):
        site.with_rows(["bad"], coef, np.array([1.0]))


def test_wrong_shape_is_rejected(site: Constraints) -> None:
    with pytest.raises(ValueError):
        site.with_rows(["r"], np.ones((1, 2)), np.array([1.0]))  # 2 columns for 3 chargers


@st.composite
def constraint_sets(draw: st.DrawFn) -> Constraints:
    """A random small constraint set: random CSC contents over 1-5 chargers, 0-4 rows."""
    n_chargers = draw(st.integers(1, 5))
    n_rows = draw(st.integers(0, 4))
    dense = draw(_sparse_matrices(n_rows, n_chargers))
    limit = draw(hnp.arrays(np.float64, n_rows, elements=st.floats(-10.0, 100.0)))
    return no_constraints(n_chargers).with_rows([f"site{k}" for k in range(n_rows)], dense, limit)


def _sparse_matrices(n_rows: int, n_cols: int) -> st.SearchStrategy[np.ndarray]:
    """Non-negative matrices with many exact zeros (and a few tiny values that must be kept)."""
    value = st.one_of(st.just(0.0), st.just(0.0), st.floats(1e-300, 1e-6), st.floats(0.01, 50.0))
    return hnp.arrays(np.float64, (n_rows, n_cols), elements=value)


@EXAMPLES
@given(data=st.data(), old=constraint_sets())
def test_random_rows_append_exactly(data: st.DataObject, old: Constraints) -> None:
    k = data.draw(st.integers(0, 4), label="new rows")
    coef = data.draw(_sparse_matrices(k, old.n_chargers), label="coef")
    limit = data.draw(hnp.arrays(np.float64, k, elements=st.floats(-5.0, 50.0)), label="limit")
    names = [f"grid:{j}" for j in range(k)]
    new = old.with_rows(names, coef, limit)
    _assert_appended(old, new, names, coef, limit)
    assert new.coef.size == old.coef.size + np.count_nonzero(coef)
    current = data.draw(hnp.arrays(np.float64, old.n_chargers, elements=st.floats(0.0, 32.0)), label="current")
    np.testing.assert_allclose(new.load(current), new.dense() @ current, rtol=1e-12, atol=1e-12)
    # the columns a kernel reads for some sessions are the dense matrix's columns
    chosen = np.asarray(data.draw(st.lists(st.integers(0, old.n_chargers - 1), max_size=4), label="sessions"),
                        dtype=np.int64)
    indptr, indices, values = new.columns(chosen)
    for k_col, j in enumerate(chosen):
        column = np.zeros(new.n_rows)
        column[indices[indptr[k_col] : indptr[k_col + 1]]] = values[indptr[k_col] : indptr[k_col + 1]]
        np.testing.assert_array_equal(column, new.dense()[:, j])


@EXAMPLES
@given(old=constraint_sets(), data=st.data())
def test_random_bad_coefficients_are_rejected(old: Constraints, data: st.DataObject) -> None:
    coef = data.draw(_sparse_matrices(2, old.n_chargers), label="coef")
    row = data.draw(st.integers(0, 1))
    col = data.draw(st.integers(0, old.n_chargers - 1))
    coef[row, col] = data.draw(st.one_of(st.floats(max_value=-1e-300, allow_infinity=False), st.just(np.nan)))
    with pytest.raises(ValueError, match="finite and >= 0"):
        old.with_rows(["a", "b"], coef, np.ones(2))
