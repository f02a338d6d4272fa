"""The shared allocation step: problem building with extra rows, bounds from a plan, offers (pilots)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from sim.domain import Charger, ChargerTable, LimitNode, SiteView, build_constraints
from sim.errors import StrategyError
from sim.strategies import BUILTIN, create
from sim.strategies.allocate import ExtraRows, allocate, bounded, build_problem, solve
from sim.strategies.orders import departure_order
from tests.strategies._sites import check_feasible, make_sessions, site_views

pytestmark = pytest.mark.core

H = 3600.0


def _dense(problem: object) -> np.ndarray:
    p = problem
    a = np.zeros((len(p.limit), len(p.upper_a)))  # type: ignore[attr-defined]
    for j in range(len(p.upper_a)):  # type: ignore[attr-defined]
        s, e = p.indptr[j], p.indptr[j + 1]  # type: ignore[attr-defined]
        a[p.indices[s:e], j] = p.coef[s:e]  # type: ignore[attr-defined]
    return a


@settings(max_examples=40, deadline=None)
@given(view=site_views())
def test_extra_rows_are_appended_to_the_view_columns(view: SiteView) -> None:
    n = len(view.sessions)
    rng = np.random.default_rng(n)
    coef = rng.uniform(0.0, 2.0, (2, n)) * (rng.uniform(size=(2, n)) > 0.3)
    problem = build_problem(view, ExtraRows(coef, np.array([5.0, 7.0])))
    assert view.constraints is not None
    expected = np.vstack([view.constraints.dense()[:, view.sessions.charger_index], coef])
    np.testing.assert_array_equal(_dense(problem), expected)
    np.testing.assert_array_equal(problem.limit, np.r_[view.constraints.limit, 5.0, 7.0])
    assert np.all(problem.coef > 0)


def test_without_constraints_only_the_chargers_bound() -> None:
    table = ChargerTable((Charger("a", 1, max_current_a=16.0), Charger("b", 1, max_current_a=32.0)))
    view = SiteView(0.0, 300.0, table, make_sessions([1], [0.0], [H], [5.0], [20.0]))
    np.testing.assert_allclose(allocate(view, np.array([0])).current_a, [0.0, 20.0])


def test_a_plan_between_zero_and_the_minimum_is_raised_to_the_minimum() -> None:
    table = ChargerTable((Charger("a", 1, max_current_a=32.0, min_current_a=6.0),) * 1)
    view = SiteView(0.0, 300.0, table, make_sessions([0, ], [0.0], [H], [5.0], [32.0]))
    problem = bounded(build_problem(view), np.array([2.0]))
    assert problem.upper_a.tolist() == [6.0]
    out = solve(problem, np.array([0]), "waterfill")
    assert out.tolist() == [6.0]


def test_unknown_kernel_is_refused() -> None:
    table = ChargerTable((Charger("a", 1),))
    view = SiteView(0.0, 300.0, table, make_sessions([0], [0.0], [H], [5.0], [16.0]))
    with pytest.raises(ValueError, match="unknown allocation kernel 'magic'"):
        allocate(view, np.array([0]), "magic")


def test_negative_time_varying_limit_pauses_everyone_on_it() -> None:
    table = ChargerTable((Charger("a", 1), Charger("b", 1)))
    cons = build_constraints(table, [LimitNode("site", max_current_a=63.0)], import_limit_kw=10.0)
    cons = cons.with_limit("import_kw", -3.0)  # base load already above the import limit
    view = SiteView(0.0, 300.0, table, make_sessions([0, 1], [0.0, 0.0], [H, H], [5.0, 5.0], [16.0, 16.0]),
                    None, 13.0, cons)
    for name in ("equal_share", "edf", "fcfs", "llf"):
        sp = create(name).compute(view)
        check_feasible(view, sp)
        np.testing.assert_array_equal(sp.current_a, [0.0, 0.0])


# --- parameters ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(n for n in BUILTIN if n != "mpc"))
def test_unknown_parameters_are_named(name: str) -> None:
    with pytest.raises(StrategyError, match="'bogus'") as info:
        create(name, {"bogus": 1, **({"target_kw": 10} if name == "peak_shaving" else {})})
    assert info.value.param == "bogus"


@pytest.mark.parametrize("name, params, param, fragment", [
    ("peak_shaving", {}, "target_kw", "is required"),
    ("peak_shaving", {"target_kw": "ten"}, "target_kw", "is not a number"),
    ("peak_shaving", {"target_kw": True}, "target_kw", "is not a number"),
    ("peak_shaving", {"target_kw": -1}, "target_kw", "expected a number >= 0"),
    ("peak_shaving", {"target_kw": float("nan")}, "target_kw", "is not a number"),
    ("peak_shaving", {"target_kw": 50, "forecast": "oracle"}, "forecast", "'perfect', 'persistence'"),
    ("pv_surplus", {"min_current_a": -6}, "min_current_a", "out of range"),
    ("pv_surplus", {"min_current_a": [6]}, "min_current_a", "is not a number"),
    ("price_aware", {"rate_factor": 0}, "rate_factor", "between 0.01 and 1"),
    ("price_aware", {"rate_factor": 1.5}, "rate_factor", "between 0.01 and 1"),
])
def test_bad_parameters_name_the_parameter_value_and_range(name: str, params: dict[str, object], param: str,
                                                           fragment: str) -> None:
    with pytest.raises(StrategyError, match=fragment) as info:
        create(name, params)
    assert info.value.param == param
    assert f"'{param}'" in str(info.value)


def test_good_parameters_are_kept() -> None:
    ps = create("peak_shaving", {"target_kw": 50, "forecast": "persistence"})
    assert (ps.target_kw, ps.forecast) == (50.0, "persistence")  # type: ignore[attr-defined]
    assert create("pv_surplus", {"min_current_a": 6}).min_current_a == 6.0  # type: ignore[attr-defined]
    assert create("pv_surplus").min_current_a == 0.0  # type: ignore[attr-defined]
    assert create("price_aware").rate_factor == 0.8  # type: ignore[attr-defined]
    assert create("price_aware", {"rate_factor": 1}).rate_factor == 1.0  # type: ignore[attr-defined]


def test_columns_follow_the_view_when_reused() -> None:
    """The last view's columns are reused only for the same matrix and the same session chargers."""
    table = ChargerTable(tuple(Charger(f"c{k}", 1, phases=1 if k % 2 else 3, phase="L1" if k % 2 else "L1L2L3")
                               for k in range(4)))
    fuse = build_constraints(table, [LimitNode("site", max_current_a=40.0)], import_limit_kw=30.0)
    kva = build_constraints(table, [LimitNode("site", max_kva=20.0)])
    first = SiteView(0.0, 300.0, table, make_sessions([3, 0], [0.0, 0.0], [H, H], [5.0, 5.0], [16.0, 16.0]), None,
                     0.0, fuse)
    for view in (first,
                 SiteView(0.0, 300.0, table, first.sessions, None, 0.0, fuse.with_limit("import_kw", 12.0)),
                 SiteView(0.0, 300.0, table, first.sessions, None, 0.0, kva),
                 SiteView(0.0, 300.0, table, make_sessions([1, 2], [0.0, 0.0], [H, H], [5.0, 5.0], [16.0, 16.0]),
                          None, 0.0, kva),
                 SiteView(0.0, 300.0, table, first.sessions, None, 0.0, None)):
        problem = build_problem(view)
        if view.constraints is None:
            assert len(problem.indices) == 0 and problem.indptr.tolist() == [0, 0, 0]
            continue
        np.testing.assert_array_equal(_dense(problem), view.constraints.dense()[:, view.sessions.charger_index])
        np.testing.assert_array_equal(problem.limit, view.constraints.limit)
        np.testing.assert_array_equal(problem.lower_a, table.min_current_a[view.sessions.charger_index])


def test_ties_are_broken_by_session_id_with_or_without_given_ranks() -> None:
    table = ChargerTable(tuple(Charger(f"c{k}", 1) for k in range(4)))
    ids = ("s-b", "s-d", "s-a", "s-c")
    plain = make_sessions([0, 1, 2, 3], [0.0] * 4, [H, 2 * H, H, 2 * H], [5.0] * 4, [16.0] * 4, ids=ids)
    ranked = dataclasses.replace(plain, id_rank=np.array([10, 30, 5, 20], dtype=np.int64))  # any increasing map
    for sessions in (plain, ranked):
        view = SiteView(0.0, 300.0, table, sessions)
        assert departure_order(view).tolist() == [2, 0, 3, 1]  # s-a, s-b (1 h), then s-c, s-d (2 h)
