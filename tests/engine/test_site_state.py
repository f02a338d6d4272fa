"""``SiteState``: the views it builds are read-only snapshots, equal to a fresh gather from the state.

The plugged-in sessions' arrays are gathered once per plug event and shared by every view until the
next one; these tests check that sharing changes nothing a strategy can see.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import BatteryModel, Charger, ChargerTable, Session, Setpoints, SiteView
from sim.domain.site import id_ranks
from sim.engine.site_state import SiteState, check_setpoints
from sim.errors import StrategyError

pytestmark = pytest.mark.core

H = 3600.0


def _state() -> SiteState:
    table = ChargerTable((Charger("a", 1, max_current_a=32.0), Charger("b", 1, phases=1, phase="L2"),
                          Charger("c", 1, max_current_a=16.0, current_step_a=1.0)))
    sessions = (Session("z-late", "b", 0.0, 5 * H, 20.0, 7.4, 60.0, 0.2),
                Session("m-mid", "a", 0.5 * H, 4 * H, 30.0, 11.0, 60.0, 0.5),
                Session("a-first", "c", 0.5 * H, 6 * H, 10.0, 22.0, 40.0, 0.1))
    return SiteState(table, sessions, BatteryModel("taper", 0.8))


def _view(st: SiteState, t_s: float) -> SiteView:
    accept_kw = st.acceptance_kw(t_s, (np.floor(t_s / 900.0) + 1.0) * 900.0)
    return st.view(t_s, 900.0, accept_kw, None, 5.0)


class _Uncontrolled:
    name = "test-uncontrolled"

    def compute(self, view: SiteView) -> Setpoints:
        current_a = np.zeros(len(view.chargers))
        current_a[view.sessions.charger_index] = view.chargers.max_current_a[view.sessions.charger_index]
        return Setpoints(current_a)


def test_views_are_read_only_snapshots_of_the_state_at_their_time() -> None:
    st, strategy = _state(), _Uncontrolled()
    st.plug_in(0)
    first = _view(st, 0.0)
    st.apply(strategy, first, st.acceptance_kw(0.0, 900.0))
    st.advance_to(0.5 * H)
    st.plug_in(1)
    st.plug_in(2)
    second = _view(st, 0.5 * H)
    delivered_at_second = st.delivered_kwh[[0, 1, 2]].copy()
    st.apply(strategy, second, st.acceptance_kw(0.5 * H, 2700.0))
    st.advance_to(H)
    st.unplug(1)
    third = _view(st, H)
    # each view kept what the state was at its time
    assert first.sessions.session_ids == ("z-late",)
    assert first.sessions.energy_delivered_kwh.tolist() == [0.0]
    assert second.sessions.session_ids == ("z-late", "m-mid", "a-first")
    np.testing.assert_array_equal(second.sessions.energy_delivered_kwh, delivered_at_second)
    assert third.sessions.session_ids == ("z-late", "a-first")
    np.testing.assert_array_equal(third.sessions.energy_delivered_kwh, st.delivered_kwh[[0, 2]])
    assert third.sessions.energy_delivered_kwh[0] > second.sessions.energy_delivered_kwh[0] > 0.0
    for view in (first, second, third):
        s = view.sessions
        for values in (s.charger_index, s.arrival_s, s.departure_s, s.energy_requested_kwh,
                       s.energy_delivered_kwh, s.max_current_a, s.id_rank):
            assert values is not None and not values.flags.writeable


def test_view_arrays_equal_a_fresh_gather() -> None:
    st = _state()
    for k in (0, 1, 2):
        st.plug_in(k)
    st.apply(_Uncontrolled(), _view(st, 0.5 * H), st.acceptance_kw(0.5 * H, 2700.0))
    st.advance_to(0.75 * H)
    view = _view(st, 0.75 * H)
    idx = np.array(st.active)
    ci = st.charger_index[idx]
    ch = st.chargers
    accept_kw = st.acceptance_kw(0.75 * H, 3600.0)
    np.testing.assert_array_equal(view.sessions.charger_index, ci)
    np.testing.assert_array_equal(view.sessions.departure_s, st.departure_s[idx])
    np.testing.assert_array_equal(view.sessions.energy_delivered_kwh, st.delivered_kwh[idx])
    np.testing.assert_array_equal(view.sessions.max_current_a,
                                  np.minimum(accept_kw * 1000.0 / (ch.phases[ci] * ch.v_ln_v[ci]), ch.max_current_a[ci]))
    # the engine's id ranks order the sessions exactly as their ids do
    np.testing.assert_array_equal(np.argsort(view.sessions.session_id_rank()),
                                  np.argsort(id_ranks(view.sessions.session_ids)))
    assert view.sessions.session_ids == ("z-late", "m-mid", "a-first")


def test_bad_setpoints_name_the_charger_and_the_valid_range() -> None:
    st = _state()
    for current, match in (([0.0, 3.0, 0.0], "charger 'b' to 3 A .*valid: 0 or between 6 and 16 A"),
                           ([np.nan, 0.0, 0.0], "charger 'a' to nan A"),
                           ([0.0, 0.0, 17.0], "charger 'c' to 17 A")):
        with pytest.raises(StrategyError, match=match):
            check_setpoints(_Uncontrolled(), Setpoints(np.array(current)), st.chargers, 0.0)
    with pytest.raises(StrategyError, match=r"returned \(2,\) setpoints .* expected one per charger \(3\)"):
        check_setpoints(_Uncontrolled(), Setpoints(np.zeros(2)), st.chargers, 0.0)
    np.testing.assert_array_equal(check_setpoints(_Uncontrolled(), Setpoints(np.array([32.0 + 1e-10, 0.0, 6.0])),
                                                  st.chargers, 0.0), [32.0, 0.0, 6.0])
