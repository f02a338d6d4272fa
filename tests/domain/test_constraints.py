"""The limits tree as rows of A @ current_a <= b."""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable, LimitNode, build_constraints, no_constraints


@pytest.fixture
def site() -> ChargerTable:
    return ChargerTable((
        Charger("a", 1),                                  # three-phase
        Charger("b", 1, phases=1, phase="L2"),            # single-phase on L2
        Charger("c", 2),                                  # three-phase, under the root only
    ))


def test_tree_rows_and_coefficients(site: ChargerTable) -> None:
    nodes = [LimitNode("main", None, max_current_a=63, max_kva=40),
             LimitNode("sub", "main", max_current_a=32, charger_ids=("a", "b"))]
    c = build_constraints(site, nodes, import_limit_kw=30)
    assert c.row_names == ("main:L1", "main:L2", "main:L3", "main:kva", "sub:L1", "sub:L2", "sub:L3", "import_kw")
    kva3, kva1 = 3 * 230 / 1000, 230 / 1000
    np.testing.assert_allclose(c.dense(), [
        [1, 0, 1], [1, 1, 1], [1, 0, 1], [kva3, kva1, kva3],
        [1, 0, 0], [1, 1, 0], [1, 0, 0], [kva3, kva1, kva3],
    ])
    np.testing.assert_allclose(c.limit, [63, 63, 63, 40, 32, 32, 32, 30])
    current = np.array([16.0, 10.0, 8.0])
    np.testing.assert_allclose(c.load(current), c.dense() @ current)


def test_columns_select_sessions_in_order(site: ChargerTable) -> None:
    c = build_constraints(site, [LimitNode("main", None, max_current_a=63)])
    indptr, indices, coef = c.columns(np.array([2, 1], dtype=np.int64))
    assert indptr.tolist() == [0, 3, 4]
    assert indices.tolist() == [0, 1, 2, 1]
    assert coef.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_time_varying_row(site: ChargerTable) -> None:
    c = build_constraints(site, (), import_limit_kw=50)
    later = c.with_limit("import_kw", 12.5)
    assert later.limit.tolist() == [12.5] and c.limit.tolist() == [50.0]
    assert not later.limit.flags.writeable


def test_no_constraints(site: ChargerTable) -> None:
    c = no_constraints(len(site))
    assert c.n_rows == 0 and c.n_chargers == 3
    assert c.load(np.ones(3)).shape == (0,)
