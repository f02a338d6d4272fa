"""The compiled unbalanced load-flow kernels (core_ext._pf3) equal their numpy twin (core_ext._pf3_py) on
random inputs, and the twin's phase/sequence algebra is right.

Marked ``core``: ``make test`` runs these once more with SIM_NO_EXT=1 (then only the twin's own checks
run).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_ext import _pf3_py, pf3

pytestmark = pytest.mark.core

try:
    from core_ext import _pf3  # the compiled module, built by `make install`
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _pf3 = None

needs_compiled = pytest.mark.skipif(
    _pf3 is None and os.environ.get("SIM_REQUIRE_EXT") != "1", reason="compiled kernels not built (SIM_NO_EXT)"
)
EXAMPLES = settings(max_examples=40, deadline=None)
SIZES = {"seed": st.integers(0, 2**32 - 1), "n": st.integers(1, 30), "n_t": st.one_of(st.just(1), st.integers(1, 40))}
TOL = {"rtol": 1e-12, "atol": 1e-12}


def test_backend_follows_environment() -> None:
    if os.environ.get("SIM_NO_EXT") == "1":
        assert pf3.BACKEND == "python"
    if os.environ.get("SIM_REQUIRE_EXT") == "1":
        assert pf3.BACKEND == "cython"


def _rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(np.stack([rng.permutation(n) for _ in range(3)]).astype(np.int64)),
            np.ascontiguousarray(np.stack([rng.permutation(n) for _ in range(3)]).astype(np.int64)))


def _voltages(rng: np.random.Generator, n: int, n_t: int) -> np.ndarray:
    """Sequence voltages near a real feeder's: V1 ~ 1 pu, V0 and V2 a few percent."""
    v = rng.normal(0.0, 0.03, (3, 2, n, n_t))
    v[1, 0] += 1.0
    return v


def _pair(rng: np.random.Generator, n: int) -> tuple[list, np.ndarray, np.ndarray]:
    """The compiled and the twin ``Sequences`` on the same rows; their no-load V012 and sol_row."""
    rhs_row, sol_row = _rows(rng, n)
    v0 = np.ascontiguousarray(_voltages(rng, n, 1)[..., 0])
    return [module.Sequences(rhs_row, sol_row, v0) for module in (_pf3, _pf3_py)], v0, sol_row


@needs_compiled
@EXAMPLES
@given(**SIZES)
def test_currents_equal(seed: int, n: int, n_t: int) -> None:
    rng = np.random.default_rng(seed)
    v, s = _voltages(rng, n, n_t), rng.normal(0.0, 0.01, (2, 3 * n, n_t))
    out = [np.full((3, 2, n, n_t), np.nan) for _ in range(2)]
    for seq, rhs in zip(_pair(rng, n)[0], out, strict=True):
        seq.currents(v, s, rhs)
    np.testing.assert_allclose(out[0], out[1], **TOL)


@needs_compiled
@EXAMPLES
@given(**SIZES, k=st.integers(1, 30))
def test_update_equals(seed: int, n: int, n_t: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    y = _voltages(rng, n, n_t) * 1e-3
    s, v = rng.normal(0.0, 0.01, (2, 3 * n, n_t)), _voltages(rng, n, n_t)
    seqs, v0, sol_row = _pair(rng, n)
    # every other step: the update lands within 1e-13 of v, so it may converge
    landing = v0[..., None] + np.stack([y[q][:, sol_row[q]] for q in range(3)])
    v[..., ::2] = landing[..., ::2] + rng.normal(0, 1e-13, v[..., ::2].shape)
    last = rng.choice([np.inf, 1e-3, 1e-12], n_t)
    iterations = rng.choice([-1, -1, 3], n_t).astype(np.int64)
    results = []
    for seq in seqs:
        vv, rhs, ll, its = v.copy(), np.full_like(v, np.nan), last.copy(), iterations.copy()
        left = seq.update(y, s, vv, rhs, ll, its, k, 1e-9)
        results.append((vv, rhs, ll, its, left))
    (v_a, rhs_a, last_a, its_a, left_a), (v_b, rhs_b, last_b, its_b, left_b) = results
    np.testing.assert_allclose(v_a, v_b, **TOL)
    np.testing.assert_allclose(rhs_a, rhs_b, **TOL)
    np.testing.assert_allclose(last_a, last_b, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(its_a, its_b)
    assert left_a == left_b == int(np.count_nonzero(its_b < 0))


@needs_compiled
@EXAMPLES
@given(**SIZES)
def test_phase_voltages_equal_into_strided_outputs(seed: int, n: int, n_t: int) -> None:
    rng = np.random.default_rng(seed)
    n_bus = n + 2
    v = _voltages(rng, n_bus, n_t)
    bus_pos = rng.integers(-1, n_bus, n).astype(np.int64)
    outs = []
    for module in (_pf3, _pf3_py):
        vm, vuf, v0m = np.full((n_t, n, 3), 7.0), np.full((n_t, n), 7.0), np.full((n_t, n), 7.0)
        module.phase_voltages(v, bus_pos, vm.transpose(1, 2, 0), vuf.T, v0m.T)
        outs.append((vm, vuf, v0m))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, equal_nan=True, **TOL)
    assert np.isnan(outs[1][0][:, bus_pos < 0]).all() and np.isfinite(outs[1][0][:, bus_pos >= 0]).all()


@needs_compiled
@EXAMPLES
@given(**SIZES, n_br=st.integers(1, 25))
def test_branch_phase_flows_equal(seed: int, n: int, n_t: int, n_br: int) -> None:
    rng = np.random.default_rng(seed)
    v = _voltages(rng, n, n_t)
    from_bus, to_bus = rng.integers(0, n, n_br).astype(np.int64), rng.integers(0, n, n_br).astype(np.int64)
    y = rng.normal(0.0, 30.0, (3, n_br, 8))
    scale_from, scale_to, peak_scale = (rng.uniform(0.5, 2.0, n_br) for _ in range(3))
    n_rows = n_br + 3
    rows = rng.permutation(n_rows)[:n_br].astype(np.int64)
    outs = []
    for module in (_pf3, _pf3_py):
        value, peak, losses = np.full((n_t, n_rows, 3), 7.0), np.full((n_t, n_rows), 7.0), np.ones(n_t)
        module.branch_phase_flows(from_bus, to_bus, y, scale_from, scale_to, peak_scale, v,
                                  value.transpose(1, 2, 0), peak.T, losses, rows)
        outs.append((value, peak, losses))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    untouched = np.setdiff1d(np.arange(n_rows), rows)
    assert (outs[0][1][:, untouched] == 7.0).all()


@needs_compiled
@EXAMPLES
@given(**SIZES, n_ref=st.integers(1, 3))
def test_slack_phase_power_equal(seed: int, n: int, n_t: int, n_ref: int) -> None:
    rng = np.random.default_rng(seed)
    v, current = _voltages(rng, n, n_t), rng.normal(0.0, 0.1, (3, 2, n_ref, n_t))
    ref_bus = rng.integers(0, n, n_ref).astype(np.int64)
    outs = [np.full((2, 3, n_t), 7.0) for _ in range(2)]
    for module, out in zip((_pf3, _pf3_py), outs, strict=True):
        module.slack_phase_power(v, current, ref_bus, out)
    np.testing.assert_allclose(outs[0], outs[1], **TOL)


@needs_compiled
def test_compiled_kernels_refuse_wrong_shapes() -> None:
    rows, v0 = np.zeros((3, 2), np.int64), np.zeros((3, 2, 2))
    with pytest.raises(ValueError, match="Sequences"):
        _pf3.Sequences(np.zeros((2, 2), np.int64), rows, v0)
    with pytest.raises(ValueError, match="index out of range"):
        _pf3.Sequences(rows + 5, rows, v0)
    seq = _pf3.Sequences(rows, rows, v0)
    with pytest.raises(ValueError, match="currents"):
        seq.currents(np.zeros((3, 2, 2, 4)), np.zeros((2, 5, 4)), np.zeros((3, 2, 2, 4)))
    with pytest.raises(ValueError, match="index out of range"):
        _pf3.branch_phase_flows(np.array([9]), np.array([0]), np.zeros((3, 1, 8)), np.ones(1), np.ones(1), np.ones(1),
                                np.zeros((3, 2, 2, 1)), np.zeros((1, 3, 1)), np.zeros((1, 1)), np.zeros(1),
                                np.array([0]))


# --- the twin is right ------------------------------------------------------------------------------


@EXAMPLES
@given(seed=st.integers(0, 2**32 - 1))
def test_phase_and_sequence_transforms_invert_and_follow_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 5)) + 1j * rng.normal(size=(3, 5))
    np.testing.assert_allclose(_pf3_py.to_phases(_pf3_py.to_sequences(x)), x, atol=1e-12)
    a = np.exp(2j * np.pi / 3)
    abc = _pf3_py.to_phases(x)
    np.testing.assert_allclose(abc[1], x[0] + a**2 * x[1] + a * x[2], atol=1e-12)  # V_b = V0 + a^2 V1 + a V2


def test_balanced_wye_loads_draw_only_positive_sequence_current() -> None:
    n, n_t = 4, 3
    seq = _pf3_py.Sequences(np.tile(np.arange(n), (3, 1)), np.tile(np.arange(n), (3, 1)), np.zeros((3, 2, n)))
    v = np.zeros((3, 2, n, n_t))
    v[1, 0] = 0.97
    v[1, 1] = -0.05
    s = np.zeros((2, 3 * n, n_t))
    s[0], s[1] = -0.002, -0.0007  # the same load on every phase
    rhs = np.empty_like(v)
    seq.currents(v, s, rhs)
    np.testing.assert_allclose(rhs[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(rhs[2], 0.0, atol=1e-15)
    expected = np.conj((-0.002 - 0.0007j) / (0.97 - 0.05j))  # phase a's current is I1 (V_a = V1)
    np.testing.assert_allclose(rhs[1, 0] + 1j * rhs[1, 1], expected, rtol=1e-12)


def test_update_reports_what_converged() -> None:
    n, n_t = 2, 3
    rows = np.tile(np.arange(n), (3, 1))
    seq = _pf3_py.Sequences(rows, rows, np.zeros((3, 2, n)))
    v = np.zeros((3, 2, n, n_t))
    y = np.zeros_like(v)
    y[1, 0, :, 1] = 1e-3  # step 1 moves by 1e-3 pu; steps 0 and 2 do not move
    last, its = np.array([1e-3, 1e-3, np.nan]), np.full(n_t, -1, np.int64)
    left = seq.update(y, np.zeros((2, 3 * n, n_t)), v, np.empty_like(v), last, its, 4, 1e-9)
    assert left == 2 and list(its) == [4, -1, -1]  # a NaN previous change never converges
