"""The sorted family (fcfs, edf, llf) and equal_share on hand-made sites: orders, ties, who gets what."""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable, LimitNode, SiteView, build_constraints
from sim.strategies import EarliestDeadlineFirst, LeastLaxityFirst, create
from sim.strategies.orders import arrival_order, departure_order, laxity_order, laxity_s
from tests.strategies._sites import check_feasible, make_sessions

pytestmark = pytest.mark.core

H = 3600.0


def _site(n: int, site_a: float | None = 32.0, **kw: float) -> tuple[ChargerTable, object]:
    table = ChargerTable(tuple(Charger(f"cp{k}", 1, max_current_a=32.0, efficiency=1.0, **kw) for k in range(n)))
    return table, build_constraints(table, [LimitNode("site", max_current_a=site_a)] if site_a else [])


def _view(table: ChargerTable, cons: object, sessions: object, now: float = 0.0) -> SiteView:
    return SiteView(now, 300.0, table, sessions, None, 0.0, cons)  # type: ignore[arg-type]


def test_orders_sort_by_their_key_with_ties_by_session_id() -> None:
    table, cons = _site(4)
    ses = make_sessions([0, 1, 2, 3], [30.0, 10.0, 10.0, 20.0], [4 * H, 2 * H, 3 * H, 2 * H], [10.0] * 4, [32.0] * 4,
                        ids=["d", "c", "b", "a"])
    view = _view(table, cons, ses)
    assert arrival_order(view).tolist() == [2, 1, 3, 0]  # b and c arrive together: b first by id
    assert departure_order(view).tolist() == [3, 1, 2, 0]  # a and c leave together: a first by id


def test_laxity_is_time_left_minus_charging_time_at_the_max_rate() -> None:
    table, cons = _site(2)
    kw = 3 * 230.0 * 32.0 / 1000.0  # 22.08 kW at 32 A, three phases
    ses = make_sessions([0, 1], [0.0, 0.0], [4 * H, 4 * H], [kw, 0.0], [32.0, 0.0])
    np.testing.assert_allclose(laxity_s(_view(table, cons, ses, now=H)), [3 * H - H, 3 * H])


def test_edf_and_llf_differ_where_they_should() -> None:
    """A leaves first but has slack; B leaves later but needs nearly all its time: EDF serves A, LLF B."""
    table, cons = _site(2, site_a=32.0)
    ses = make_sessions([0, 1], [0.0, 0.0], [2 * H, 4 * H], [2.0, 60.0], [32.0, 32.0], ids=["A", "B"])
    view = _view(table, cons, ses)
    assert departure_order(view).tolist() == [0, 1]
    assert laxity_order(view).tolist() == [1, 0]
    np.testing.assert_allclose(EarliestDeadlineFirst().compute(view).current_a, [32.0, 0.0])
    np.testing.assert_allclose(LeastLaxityFirst().compute(view).current_a, [0.0, 32.0])


def test_fcfs_gives_the_first_arrival_all_and_the_next_the_rest() -> None:
    table, cons = _site(3, site_a=40.0)
    ses = make_sessions([0, 1, 2], [100.0, 0.0, 200.0], [H, H, H], [10.0] * 3, [32.0] * 3)
    sp = create("fcfs").compute(_view(table, cons, ses))
    np.testing.assert_allclose(sp.current_a, [8.0, 32.0, 0.0])  # the third would get 0 < 6 A: paused


def test_equal_share_splits_a_fuse_evenly_and_pauses_the_last_arrival() -> None:
    table, cons = _site(3, site_a=40.0)
    ses = make_sessions([0, 1, 2], [0.0, 10.0, 20.0], [H, H, H], [10.0] * 3, [32.0, 32.0, 32.0])
    np.testing.assert_allclose(create("equal_share").compute(_view(table, cons, ses)).current_a, [40 / 3] * 3)
    table, cons = _site(3, site_a=15.0)  # minimums (6 A) fit only twice: the last to arrive waits
    np.testing.assert_allclose(create("equal_share").compute(_view(table, cons, ses)).current_a, [7.5, 7.5, 0.0])


def test_equal_share_gives_a_small_vehicle_its_fill_and_the_rest_to_others() -> None:
    table, cons = _site(3, site_a=40.0)
    ses = make_sessions([0, 1, 2], [0.0, 10.0, 20.0], [H, H, H], [10.0] * 3, [8.0, 32.0, 32.0])
    np.testing.assert_allclose(create("equal_share").compute(_view(table, cons, ses)).current_a, [8.0, 16.0, 16.0])


def test_vehicle_below_the_minimum_is_offered_the_minimum_and_counted_at_its_draw() -> None:
    """A vehicle taking 2 A on a 6 A-minimum charger: offer 6 A, but only 2 A count against the fuse."""
    table, cons = _site(2, site_a=20.0)
    ses = make_sessions([0, 1], [0.0, 10.0], [H, H], [10.0, 10.0], [2.0, 32.0])
    view = _view(table, cons, ses)
    sp = create("edf").compute(view)
    np.testing.assert_allclose(sp.current_a, [6.0, 18.0])
    check_feasible(view, sp)


@pytest.mark.parametrize("name", ["fcfs", "edf", "llf", "equal_share"])
def test_no_sessions_no_current(name: str) -> None:
    table, cons = _site(2)
    view = _view(table, cons, make_sessions([], [], [], [], []))
    np.testing.assert_array_equal(create(name).compute(view).current_a, [0.0, 0.0])


def test_steps_and_allowed_sets_are_respected_without_breaking_the_fuse() -> None:
    chargers = (Charger("a", 1, max_current_a=32.0, current_step_a=1.0),
                Charger("b", 1, max_current_a=32.0, allowed_current_a=(8.0, 16.0, 24.0, 32.0)),
                Charger("c", 1, max_current_a=32.0))
    table = ChargerTable(chargers)
    cons = build_constraints(table, [LimitNode("site", max_current_a=45.5)])
    ses = make_sessions([0, 1, 2], [0.0, 1.0, 2.0], [H, H, H], [10.0] * 3, [32.0, 32.0, 32.0])
    view = _view(table, cons, ses)
    for name in ("equal_share", "fcfs", "edf", "llf"):
        sp = create(name).compute(view)
        check_feasible(view, sp)
        assert sp.current_a.sum() <= 45.5 + 1e-9


def test_a_vehicle_limited_below_a_step_keeps_its_draw_and_gets_the_next_allowed_offer() -> None:
    """A vehicle taking 12.5 A on a charger allowing 8/16/24/32 A: offer 16 A, draw 12.5 A."""
    table = ChargerTable((Charger("b", 1, max_current_a=32.0, allowed_current_a=(8.0, 16.0, 24.0, 32.0)),))
    cons = build_constraints(table, [LimitNode("site", max_current_a=20.0)])
    view = _view(table, cons, make_sessions([0], [0.0], [H], [10.0], [12.5]))
    np.testing.assert_allclose(create("edf").compute(view).current_a, [16.0])
