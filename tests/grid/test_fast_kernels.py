"""The compiled load-flow kernels (core_ext._pf) equal their numpy/scipy twin (core_ext._pf_py) on
random inputs, and the factor format solves Y x = b. Marked ``core``: ``make test`` runs these once
more with SIM_NO_EXT=1 (then only the twin's own checks run)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from core_ext import _pf_py, pf
from sim.grid.fast_model import LuFactors, factors_solve, split

pytestmark = pytest.mark.core

try:
    from core_ext import _pf  # the compiled module, built by `make install`
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _pf = None

needs_compiled = pytest.mark.skipif(
    _pf is None and os.environ.get("SIM_REQUIRE_EXT") != "1", reason="compiled kernels not built (SIM_NO_EXT)"
)
EXAMPLES = settings(max_examples=40, deadline=None)
# one step often: the compiled kernels have a scalar path for it
SIZES = {"seed": st.integers(0, 2**32 - 1), "n": st.integers(1, 40), "n_t": st.one_of(st.just(1), st.integers(1, 70))}


def test_backend_follows_environment() -> None:
    if os.environ.get("SIM_NO_EXT") == "1":
        assert pf.BACKEND == "python"
    if os.environ.get("SIM_REQUIRE_EXT") == "1":
        assert pf.BACKEND == "cython"
    assert pf.BACKEND in ("cython", "python")


def _admittance(rng: np.random.Generator, n: int) -> sp.csc_matrix:
    """A feeder-like bus admittance matrix: a random tree plus a few meshes, series admittances of
    cables, a small shunt at every bus (so it is nonsingular)."""
    parents = [int(rng.integers(0, k)) for k in range(1, n)]
    edges = list(zip(range(1, n), parents, strict=True))
    edges += [(int(a), int(b)) for a, b in rng.integers(0, n, (n // 8, 2)) if a != b]
    y = sp.lil_matrix((n, n), dtype=complex)
    for a, b in edges:
        g = complex(rng.uniform(5, 50), -rng.uniform(1, 20))
        y[a, a] += g
        y[b, b] += g
        y[a, b] -= g
        y[b, a] -= g
    y.setdiag(y.diagonal() + complex(0.5, 0.1))
    return sp.csc_matrix(y)


def _systems(f: LuFactors, v0: np.ndarray, rhs_row: np.ndarray, sol_row: np.ndarray) -> list:
    """The compiled and the twin ``FixedPoint`` on the same arrays."""
    args = (f.l_indptr, f.l_indices, f.l_data, f.u_indptr, f.u_indices, f.u_data, f.u_diag_inv, rhs_row, sol_row, v0)
    return [module.FixedPoint(*args) for module in (_pf, _pf_py)]


@given(**SIZES)
@EXAMPLES
def test_factors_solve_the_admittance_system(seed: int, n: int, n_t: int) -> None:
    rng = np.random.default_rng(seed)
    y = _admittance(rng, n)
    b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    x = factors_solve(LuFactors.factorise(y), b)
    np.testing.assert_allclose(y @ x, b, atol=1e-9 * np.abs(b).max())


@needs_compiled
@given(**SIZES)
@EXAMPLES
def test_lu_solve_equals_twin(seed: int, n: int, n_t: int) -> None:
    rng = np.random.default_rng(seed)
    f = LuFactors.factorise(_admittance(rng, n))
    x = rng.standard_normal((2, n, n_t))
    compiled, twin = x.copy(), x.copy()
    systems = _systems(f, np.zeros((2, n)), f.rhs_row, f.sol_row)
    systems[0].lu_solve(compiled)
    systems[1].lu_solve(twin)
    np.testing.assert_allclose(compiled, twin, rtol=1e-10, atol=1e-12 * np.abs(twin).max())


def _iteration_inputs(rng: np.random.Generator, n: int, n_t: int) -> dict[str, np.ndarray]:
    v = np.stack([rng.uniform(0.9, 1.1, (n, n_t)), rng.uniform(-0.1, 0.1, (n, n_t))])
    return {
        "v0": np.stack([rng.uniform(0.95, 1.05, n), rng.uniform(-0.05, 0.05, n)]),
        "y": rng.standard_normal((2, n, n_t)) * 0.05,
        "sol_row": rng.permutation(n).astype(np.int64),
        "s": rng.standard_normal((2, n, n_t)),
        "rhs_row": rng.permutation(n).astype(np.int64),
        "v": v,
    }


@needs_compiled
@given(**SIZES, nan=st.booleans())
@EXAMPLES
def test_injection_and_update_equal_twin(seed: int, n: int, n_t: int, nan: bool) -> None:
    rng = np.random.default_rng(seed)
    a = _iteration_inputs(rng, n, n_t)
    if nan:
        a["y"][0, int(rng.integers(n)), int(rng.integers(n_t))] = np.nan
    results = []
    factors = LuFactors.factorise(_admittance(rng, n))
    for system in _systems(factors, a["v0"], a["rhs_row"], a["sol_row"]):
        v, rhs, dv2, cur = a["v"].copy(), np.zeros((2, n, n_t)), np.full(n_t, -1.0), np.zeros((2, n, n_t))
        system.injection(v, a["s"], cur)
        system.update(a["y"], a["s"], v, rhs, dv2)
        results.append((cur, v, rhs, dv2))
    for compiled, twin in zip(*results, strict=True):
        np.testing.assert_allclose(compiled, twin, rtol=1e-12, atol=1e-14, equal_nan=True)
    assert np.isnan(results[0][3]).sum() == (1 if nan else 0)  # a NaN step never looks converged


@needs_compiled
@given(**SIZES, stop_early=st.booleans(), nan=st.booleans())
@EXAMPLES
def test_iterate_equals_twin(seed: int, n: int, n_t: int, stop_early: bool, nan: bool) -> None:
    """The whole fixed point (currents, solves, updates, the convergence test per step) from the
    same start: same voltages, changes, iteration counts and stopping iteration."""
    rng = np.random.default_rng(seed)
    y = _admittance(rng, n) * 20.0
    factors = LuFactors.factorise(sp.csc_matrix(y))
    v0 = np.stack([rng.uniform(0.98, 1.02, n), rng.uniform(-0.01, 0.01, n)])
    s = -np.abs(rng.standard_normal((2, n, n_t))) * rng.uniform(0.0, 0.5, n_t)  # some light, some heavy
    nan_step = int(rng.integers(n_t))
    if nan:
        s[0, int(rng.integers(n)), nan_step] = np.nan
    first, max_iter = int(rng.integers(0, 3)), int(rng.integers(3, 30))
    stop_left = int(rng.integers(0, n_t + 1)) if stop_early else 0
    start = np.repeat(v0[:, :, None], n_t, axis=2) + rng.standard_normal((2, n, n_t)) * 1e-3
    done_before = np.where(rng.random(n_t) < 0.2, first, -1).astype(np.int64) if first else np.full(n_t, -1)
    done_before[nan_step] = -1
    results = []
    for system in _systems(factors, v0, factors.rhs_row, factors.sol_row):
        v, last, iterations = start.copy(), np.full(n_t, np.inf), done_before.copy()
        k = system.iterate(v, s, last, iterations, first, max_iter, 1e-9, stop_left)
        results.append((k, v, last, iterations))
    (k_c, v_c, last_c, its_c), (k_t, v_t, last_t, its_t) = results
    assert k_c == k_t
    np.testing.assert_array_equal(its_c, its_t)
    np.testing.assert_allclose(v_c, v_t, rtol=1e-10, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(last_c, last_t, rtol=1e-6, atol=1e-13, equal_nan=True)
    if nan:
        assert its_c[nan_step] == -1  # a NaN step never converges


@needs_compiled
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(0, 12), n_p=st.integers(0, 30), n_q=st.integers(0, 10),
       n_t=st.one_of(st.just(1), st.integers(1, 40)), layout=st.sampled_from(["rows", "columns", "slice"]),
       bad=st.sampled_from([None, np.nan, np.inf]))
@EXAMPLES
def test_injector_equals_twin(seed: int, n_rows: int, n_p: int, n_q: int, n_t: int, layout: str, bad) -> None:
    """Inputs of any layout (steps x elements, Fortran order, a slice), inputs reaching no row (-1)
    and rows reached by several inputs; a non-finite input marks its step, also where it reaches no row."""
    rng = np.random.default_rng(seed)
    p_rows, q_rows = (rng.integers(-1, n_rows, n).astype(np.int64) if n_rows else np.full(n, -1, dtype=np.int64)
                      for n in (n_p, n_q))
    const = rng.standard_normal((2, n_rows))
    args = (const, p_rows, rng.standard_normal(n_p), q_rows, rng.standard_normal(n_q))
    inputs = []
    for n in (n_p, n_q):
        base = rng.standard_normal((n_t + 4, n + 3))
        inputs.append({"rows": np.ascontiguousarray(base[:n_t, :n]), "columns": np.asfortranarray(base[:n_t, :n]),
                       "slice": base[2:2 + n_t, 1:1 + n]}[layout])
    if bad is not None and n_p:
        inputs[0][int(rng.integers(n_t)), int(rng.integers(n_p))] = bad
    outputs = []
    for module in (_pf, _pf_py):
        out, finite = np.full((2, n_rows, n_t), 7.0), np.full(n_t, 9, dtype=np.uint8)
        module.Injector(*args).fill(inputs[0], inputs[1], out, finite)
        outputs.append((out, finite))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    assert outputs[0][1].sum() == n_t - (bad is not None and n_p > 0)


@needs_compiled
@given(**SIZES, all_rows=st.booleans())
@EXAMPLES
def test_result_kernels_equal_twin(seed: int, n: int, n_t: int, all_rows: bool) -> None:
    rng = np.random.default_rng(seed)
    v = np.stack([rng.uniform(0.9, 1.1, (n, n_t)), rng.uniform(-0.1, 0.1, (n, n_t))])
    n_br = int(rng.integers(0, 2 * n))
    from_bus, to_bus = rng.integers(0, n, n_br), rng.integers(0, n, n_br)
    y = rng.standard_normal((n_br, 8)) * 10
    scale_from, scale_to = rng.uniform(1, 100, n_br), rng.uniform(1, 100, n_br)
    n_out = n_br + (0 if all_rows else 3)
    out_rows = None if all_rows else np.sort(rng.choice(n_out, n_br, replace=False)).astype(np.int64)
    bus_pos = np.where(rng.random(n) < 0.2, -1, rng.integers(0, n, n)).astype(np.int64)
    rows = SparseRowsLike(sp.csr_matrix(sp.random(3, n, density=0.5, rng=rng) * (1.0 - 0.5j)))
    offset = rng.standard_normal((2, 3))
    ref_bus = rng.integers(0, n, 3).astype(np.int64)
    own = rng.standard_normal((2, 3, n_t))
    outputs = []
    for module in (_pf, _pf_py):
        # results go into the rows of a wider steps x elements array, through its transposed view
        wide = np.full((n_t + 5, n_out), -1.0)
        losses = np.ones(n_t)
        module.branch_flows(from_bus, to_bus, y, scale_from, scale_to, v, wide[2:2 + n_t].T, losses, out_rows)
        vm = np.full((n_t + 3, n), -1.0)
        module.magnitude(v, bus_pos, vm[1:1 + n_t].T)
        out, shifted, power = np.empty((2, 3, n_t)), np.empty((2, 3, n_t)), np.empty((2, n_t))
        module.spmv(rows.indptr, rows.indices, rows.data, v, out)
        module.spmv(rows.indptr, rows.indices, rows.data, v, shifted, offset)
        module.slack_power(rows.indptr, rows.indices, rows.data, ref_bus, v, own, power)
        outputs.append((wide, losses, vm, out, shifted, power))
    for compiled, twin in zip(*outputs, strict=True):
        np.testing.assert_allclose(compiled, twin, rtol=1e-12, atol=1e-12, equal_nan=True)
    wide, _, vm = outputs[0][:3]
    assert (wide[:2] == -1.0).all() and (wide[2 + n_t:] == -1.0).all() and (vm[0] == -1.0).all()  # nothing outside
    if out_rows is not None:
        untouched = np.setdiff1d(np.arange(n_out), out_rows)
        assert (wide[:, untouched] == -1.0).all()


class SparseRowsLike:
    """CSR arrays in the kernels' layout (indptr, indices as int64; data split)."""

    def __init__(self, m: sp.csr_matrix) -> None:
        m.sort_indices()
        self.indptr = m.indptr.astype(np.int64)
        self.indices = m.indices.astype(np.int64)
        self.data = split(m.data.astype(complex))


@needs_compiled
def test_compiled_kernels_check_shapes_and_indices() -> None:
    v = np.ones((2, 4, 3))
    f = LuFactors.factorise(_admittance(np.random.default_rng(0), 4))
    system = _systems(f, np.ones((2, 4)), f.rhs_row, f.sol_row)[0]  # the compiled one
    with pytest.raises(ValueError, match="update"):
        system.update(v, np.ones((2, 4, 2)), v.copy(), v.copy(), np.zeros(3))
    with pytest.raises(ValueError, match="lu_solve"):
        system.lu_solve(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match="iterate"):
        system.iterate(v.copy(), v, np.zeros(2), np.zeros(3, dtype=np.int64), 0, 5, 1e-9)
    with pytest.raises(ValueError, match="FixedPoint"):
        _pf.FixedPoint(f.l_indptr, f.l_indices, f.l_data, f.u_indptr, f.u_indices, f.u_data, f.u_diag_inv,
                       f.rhs_row[:2], f.sol_row, np.ones((2, 4)))
    one = np.ones(1)
    with pytest.raises(ValueError, match="branch_flows rows"):  # a row outside the output
        _pf.branch_flows(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones((1, 8)), one, one, v,
                         np.zeros((2, 3)), np.zeros(3), np.array([2]))
    with pytest.raises(ValueError, match="branch_flows rows"):
        _pf.branch_flows(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones((1, 8)), one, one, v,
                         np.zeros((2, 3)), np.zeros(3), np.array([-1]))
    with pytest.raises(ValueError, match="Injector p_rows"):
        _pf.Injector(np.zeros((2, 3)), np.array([0, 3]), np.ones(2), np.zeros(0, np.int64), np.zeros(0))
    with pytest.raises(ValueError, match="Injector.fill"):
        _pf.Injector(np.zeros((2, 3)), np.array([0, 2]), np.ones(2), np.zeros(0, np.int64), np.zeros(0)).fill(
            np.ones((4, 2)), np.ones((4, 0)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="slack_power ref_bus"):
        _pf.slack_power(np.array([0, 0]), np.zeros(0, np.int64), np.zeros((2, 0)), np.array([4]), v,
                        np.zeros((2, 1, 3)), np.zeros((2, 3)))
