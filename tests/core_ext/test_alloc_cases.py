"""Small allocation cases with answers worked out by hand (both backends)."""

from __future__ import annotations

import numpy as np
import pytest

from core_ext import _sched_py
from sim.domain import Charger, ChargerTable, LimitNode, build_constraints

try:
    from core_ext import _sched
except ImportError:  # pragma: no cover - only where the build was skipped on purpose
    _sched = None

pytestmark = pytest.mark.core
MODULES = pytest.mark.parametrize("module", [m for m in (_sched, _sched_py) if m is not None],
                                  ids=lambda m: m.__name__)


def _one_row(n: int, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n sessions under one aggregate limit (coefficient 1)."""
    return np.arange(n + 1, dtype=np.int64), np.zeros(n, dtype=np.int64), np.ones(n), np.array([limit])


def _run(module: object, kernel: str, upper: list[float], lower: list[float], limit: float,
         order: list[int] | None = None) -> np.ndarray:
    n = len(upper)
    out = np.full(n, np.nan)
    getattr(module, kernel)(np.array(order if order is not None else range(n), dtype=np.int64), np.array(upper, float),
                            np.array(lower, float), *_one_row(n, limit), out)
    return out


@MODULES
def test_waterfill_shares_an_aggregate_limit_equally(module: object) -> None:
    np.testing.assert_allclose(_run(module, "waterfill", [16, 16, 16], [0, 0, 0], 32.0), [32 / 3] * 3, atol=1e-12)


@MODULES
def test_waterfill_pauses_whom_the_order_puts_last(module: object) -> None:
    np.testing.assert_allclose(_run(module, "waterfill", [16, 16, 16], [6, 6, 6], 16.0), [8, 8, 0])
    np.testing.assert_allclose(_run(module, "waterfill", [16, 16, 16], [6, 6, 6], 16.0, order=[2, 0, 1]), [8, 0, 8])


@MODULES
def test_waterfill_gives_what_a_small_upper_leaves_to_the_others(module: object) -> None:
    np.testing.assert_allclose(_run(module, "waterfill", [4, 16, 16], [0, 0, 0], 32.0), [4, 14, 14])
    np.testing.assert_allclose(_run(module, "waterfill", [4, 16, 16], [0, 0, 0], 100.0), [4, 16, 16])


@MODULES
def test_waterfill_keeps_a_minimum_above_the_level(module: object) -> None:
    # both minimums fit (0 + 12 <= 20); the level rises to 8 where the row is full: 8 + 12 = 20
    np.testing.assert_allclose(_run(module, "waterfill", [16, 16], [0, 12], 20.0), [8, 12])


@MODULES
def test_waterfill_effective_minimum_is_the_upper_when_below_the_charger_minimum(module: object) -> None:
    # the second vehicle takes only 4 A (its charger's minimum is 6 A): it needs 4 A, not 6
    np.testing.assert_allclose(_run(module, "waterfill", [16, 4], [6, 6], 14.0), [10, 4])


@MODULES
def test_waterfill_on_a_three_phase_site(module: object) -> None:
    """Three single-phase chargers on L1 and one three-phase charger under 32 A per phase: L1 is the
    bottleneck (4 sessions share it: 8 A each); L2 and L3 have room but the three-phase charger is
    frozen by L1."""
    table = ChargerTable((Charger("a", 0, 1, "L1"), Charger("b", 0, 1, "L1"), Charger("c", 0, 1, "L1"),
                          Charger("d", 0, 3, "L1L2L3", max_current_a=32.0)))
    cons = build_constraints(table, [LimitNode("site", max_current_a=32.0)])
    out = np.full(4, np.nan)
    module.waterfill(np.arange(4, dtype=np.int64), np.array([16.0, 16, 16, 32]), np.zeros(4),  # type: ignore[attr-defined]
                     *cons.columns(np.arange(4, dtype=np.int64)), np.array(cons.limit), out)
    np.testing.assert_allclose(out, [8, 8, 8, 8])


@MODULES
def test_priority_gives_each_in_turn_the_most_it_can(module: object) -> None:
    np.testing.assert_allclose(_run(module, "priority_allocate", [16, 16, 16], [6, 6, 6], 30.0), [16, 14, 0])
    np.testing.assert_allclose(_run(module, "priority_allocate", [16, 16, 16], [6, 6, 6], 36.0), [16, 16, 0])
    np.testing.assert_allclose(_run(module, "priority_allocate", [16, 16, 16], [0, 0, 0], 36.0), [16, 16, 4])
    np.testing.assert_allclose(_run(module, "priority_allocate", [16, 16, 16], [6, 6, 6], 36.0, [2, 1, 0]),
                               [0, 16, 16])


@MODULES
@pytest.mark.parametrize("kernel", ["priority_allocate", "waterfill"])
def test_a_row_already_over_gives_nobody_anything(module: object, kernel: str) -> None:
    np.testing.assert_array_equal(_run(module, kernel, [16, 16], [0, 6], -0.5), [0, 0])
    np.testing.assert_array_equal(_run(module, kernel, [16, 16], [0, 6], 0.0), [0, 0])


@MODULES
@pytest.mark.parametrize("kernel", ["priority_allocate", "waterfill"])
def test_no_sessions_and_no_rows(module: object, kernel: str) -> None:
    out = np.zeros(0)
    getattr(module, kernel)(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(1, np.int64),
                            np.zeros(0, np.int64), np.zeros(0), np.zeros(0), out)
    out = np.full(2, np.nan)  # sessions without any row: their upper
    getattr(module, kernel)(np.arange(2, dtype=np.int64), np.array([16.0, 5.0]), np.array([6.0, 6.0]),
                            np.zeros(3, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), out)
    np.testing.assert_array_equal(out, [16.0, 5.0])


def _quantize(module: object, io: list[float], limit: float, step: list[float] | None = None,
              sets: list[list[float]] | None = None, lower: float = 6.0, upper: float = 32.0,
              order: list[int] | None = None) -> np.ndarray:
    n = len(io)
    sets = sets or [[] for _ in range(n)]
    allowed_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=allowed_indptr[1:])
    out = np.array(io, dtype=float)
    module.quantize(np.array(order if order is not None else range(n), dtype=np.int64),  # type: ignore[attr-defined]
                    np.full(n, upper), np.full(n, lower), np.array(step or [0.0] * n, dtype=float), allowed_indptr,
                    np.array([v for s in sets for v in s], dtype=float), *_one_row(n, limit), out)
    return out


@MODULES
def test_quantize_to_a_step_rounds_down_then_tops_up_in_order(module: object) -> None:
    third = 32.0 / 3
    # 10.666.. -> 10.6 each (31.8 A); 0.2 A left: the first two in order get one more step
    np.testing.assert_allclose(_quantize(module, [third] * 3, 32.0, step=[0.1] * 3), [10.7, 10.7, 10.6])
    np.testing.assert_allclose(_quantize(module, [third] * 3, 32.0, step=[0.1] * 3, order=[2, 1, 0]),
                               [10.6, 10.7, 10.7])


@MODULES
def test_quantize_to_a_set(module: object) -> None:
    third = 32.0 / 3
    # 10.67 -> 8 each (24 A); 8 A left: the first in order goes to 16
    np.testing.assert_allclose(_quantize(module, [third] * 3, 32.0, sets=[[8, 16, 24, 32]] * 3), [16, 8, 8])
    # a value that rounds below the minimum is 0; top-up goes straight to the first value >= the minimum
    np.testing.assert_allclose(_quantize(module, [7.0], 7.5, sets=[[4, 8]]), [0.0])
    np.testing.assert_allclose(_quantize(module, [7.0], 8.0, sets=[[4, 8]]), [8.0])


@MODULES
def test_quantize_tolerates_floating_error(module: object) -> None:
    np.testing.assert_array_equal(_quantize(module, [16.0000000001, 15.9999999999], 100.0, step=[1.0, 1.0],
                                            upper=16.0), [16.0, 16.0])
    np.testing.assert_allclose(_quantize(module, [0.3, 6.0], 6.3, step=[0.1, 0.1], lower=0.0), [0.3, 6.0])


@MODULES
def test_quantize_never_rounds_above_a_limit_or_the_upper(module: object) -> None:
    # 5 A rounds to 0 (below the 6 A minimum); top-up would need 6 A but the row has 5.5 A
    np.testing.assert_array_equal(_quantize(module, [5.0], 5.5, step=[1.0], lower=6.0), [0.0])
    # the next step (14 A) is above the 13.5 A upper: stays at 12
    np.testing.assert_array_equal(_quantize(module, [13.5], 100.0, step=[2.0], upper=13.5), [12.0])
    # continuous sessions are left alone, except below their minimum
    np.testing.assert_array_equal(_quantize(module, [7.3, 3.0], 100.0), [7.3, 0.0])
