"""The Kron reduction of passive chain buses (``sim.grid.fast_reduce``) is exact: the reduced system
plus the expansion give every bus voltage the full system gives; only passive buses go, without
fill-in. (Against pandapower on real feeders: ``test_fast_loadflow``, both with and without it.)"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.grid.fast_reduce import chain_buses, reduce
from tests.grid.test_fast_kernels import _admittance

pytestmark = pytest.mark.core


def _graph(n: int, edges: list[tuple[int, int]]) -> sp.csr_matrix:
    y = sp.lil_matrix((n, n), dtype=complex)
    for a, b in edges:
        y[a, b] = y[b, a] = -1.0
    y.setdiag(3.0)
    return sp.csr_matrix(y)


def test_chain_and_dangling_buses_go_junctions_and_injections_stay() -> None:
    #  0(load) - 1 - 2 - 3(junction) - 4 - 5(load)      3 - 6 - 7 (a passive dead end)
    #                    3 - 8(load)
    y = _graph(9, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (3, 6), (6, 7), (3, 8)])
    loads = np.isin(np.arange(9), [0, 5, 8])
    gone = chain_buses(y, loads)
    assert np.flatnonzero(gone).tolist() == [1, 2, 4, 6, 7]  # 3 keeps three neighbours: 0, 5, 8
    assert not chain_buses(y, np.ones(9, dtype=bool)).any()  # nothing passive: nothing goes


def test_a_passive_junction_goes_once_its_branches_are_gone() -> None:
    #  0(load) - 1 - 2 - 3,  2 - 4: bus 2 has three neighbours until the dead ends 3 and 4 go
    y = _graph(5, [(0, 1), (1, 2), (2, 3), (2, 4)])
    assert chain_buses(y, np.isin(np.arange(5), [0])).tolist() == [False, True, True, True, True]


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 60), share=st.floats(0.0, 1.0), eliminate=st.booleans())
@settings(max_examples=60, deadline=None)
def test_reduced_system_gives_every_voltage_of_the_full_one(seed: int, n: int, share: float,
                                                            eliminate: bool) -> None:
    rng = np.random.default_rng(seed)
    y_all = _admittance(rng, n + 1)  # bus n is the slack
    pq, ref = np.arange(n), np.array([n])
    y_pp = sp.csc_matrix(y_all[:n, :n])
    v_slack = np.array([1.02 + 0.01j])
    v0 = np.linalg.solve(y_pp.toarray(), -y_all[:n, [n]].toarray() @ v_slack)
    has_injection = rng.random(n) < share
    red = reduce(y_pp, v0, pq, ref, v_slack, n + 1, has_injection, eliminate=eliminate)
    assert np.all(np.isin(np.flatnonzero(has_injection), red.kept))  # every injection bus is kept
    assert red.kept.size == n or eliminate
    # a current at every injection bus; the full and the reduced system agree on all voltages
    current = np.where(has_injection, rng.standard_normal(n) + 1j * rng.standard_normal(n), 0.0)
    v_full = v0 + np.linalg.solve(y_pp.toarray(), current)
    v_kept = v0[red.kept] + np.linalg.solve(red.y_red.toarray(), current[red.kept])
    v_bus = red.offset + red.expand @ v_kept
    np.testing.assert_allclose(v_bus[pq], v_full, rtol=0, atol=1e-9 * max(1.0, np.abs(v_full).max()))
    assert v_bus[n] == v_slack[0]
    eliminated_rows = red.expand[np.setdiff1d(pq, red.kept)]
    assert np.diff(eliminated_rows.indptr).max(initial=0) <= 2  # no fill-in: two kept neighbours at most
    assert red.y_red.nnz <= y_pp[red.kept][:, red.kept].nnz + 2 * (n - red.kept.size)
