"""The simulated charger's composite schedule: stack levels, purposes, validity, periods, units."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.charge_point import camel_to_snake_case

from sim.live.chargepoint.composite import (
    ProfileSet,
    Rating,
    SmartChargingCaps,
    Transaction,
    composite_periods,
    value_at,
)
from sim.live.chargepoint.profiles import (
    MAX_PROFILE,
    TX,
    TX_DEFAULT,
    ChargingProfile,
    Period,
    ProfileError,
    epoch_s,
    iso,
    parse_profile_16,
    parse_profile_201,
)

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
RATING = Rating(phases=3, v_ln_v=230.0, max_current_a=32.0)
TXN = Transaction("42", T0)
_ids = iter(range(1, 10_000))


def profile(purpose: str = TX_DEFAULT, limit: float = 10.0, level: int = 0, connector: int = 0,
            **kw: object) -> ChargingProfile:
    fields: dict[str, object] = {"profile_id": next(_ids), "stack_level": level, "purpose": purpose,
                                 "kind": "Absolute", "rate_unit": "A", "periods": (Period(0.0, limit),),
                                 "connector_id": connector, "start_schedule_s": T0}
    fields.update(kw)
    return ChargingProfile(**fields)  # type: ignore[arg-type]


def limit_a(ps: ProfileSet, t_s: float = T0 + 1, tx: Transaction | None = TXN) -> float:
    return ps.limit_at(t_s, 1, tx, RATING).current_a


def installed(*profiles: ChargingProfile, tx: Transaction | None = TXN) -> ProfileSet:
    ps = ProfileSet()
    for p in profiles:
        ps.install(p, tx)
    return ps


def test_no_profile_means_the_rating() -> None:
    limit = ProfileSet().limit_at(T0, 1, TXN, RATING)
    assert (limit.current_a, limit.phases, limit.limited, limit.next_change_s) == (32.0, 3, False, math.inf)


def test_tx_profile_overrides_the_default_even_when_higher() -> None:
    assert limit_a(installed(profile(TX_DEFAULT, 10))) == 10
    assert limit_a(installed(profile(TX_DEFAULT, 10), profile(TX, 14, connector=1))) == 14
    assert limit_a(installed(profile(TX_DEFAULT, 10), profile(TX, 8, connector=1))) == 8


def test_the_charge_point_maximum_caps_everything() -> None:
    ps = installed(profile(MAX_PROFILE, 6), profile(TX, 14, connector=1))
    assert limit_a(ps) == 6


def test_highest_stack_level_prevails_within_a_purpose() -> None:
    ps = installed(profile(TX_DEFAULT, 10, level=0, connector=1), profile(TX_DEFAULT, 12, level=1, connector=1))
    assert limit_a(ps) == 12


def test_connector_specific_default_wins_a_tie_but_not_a_higher_level() -> None:
    assert limit_a(installed(profile(TX_DEFAULT, 10, connector=0), profile(TX_DEFAULT, 7, connector=1))) == 7
    assert limit_a(installed(profile(TX_DEFAULT, 10, level=2, connector=0),
                             profile(TX_DEFAULT, 7, level=1, connector=1))) == 10


def test_validity_window_falls_through_to_the_lower_level() -> None:
    ps = installed(profile(TX_DEFAULT, 10, level=0),
                   profile(TX_DEFAULT, 6, level=1, valid_from_s=T0 + 100, valid_to_s=T0 + 200))
    assert limit_a(ps, T0 + 50) == 10
    assert ps.limit_at(T0 + 50, 1, TXN, RATING).next_change_s == T0 + 100
    assert limit_a(ps, T0 + 150) == 6
    assert ps.limit_at(T0 + 150, 1, TXN, RATING).next_change_s == T0 + 200
    assert limit_a(ps, T0 + 200) == 10


def test_periods_and_duration() -> None:
    p = profile(TX_DEFAULT, periods=(Period(0, 16), Period(600, 8), Period(1200, 0)), duration_s=1800.0, level=1)
    ps = installed(p, profile(TX_DEFAULT, 11, level=0, start_schedule_s=T0 - 3600))
    assert [limit_a(ps, T0 + dt) for dt in (0, 599, 600, 1199, 1200, 1799, 1800)] == [16, 16, 8, 8, 0, 0, 11]
    assert ps.limit_at(T0 + 10, 1, TXN, RATING).next_change_s == T0 + 600
    assert limit_a(ps, T0 - 1) == 11  # before its start


def test_relative_profile_starts_with_the_transaction() -> None:
    p = profile(TX, kind="Relative", start_schedule_s=None, connector=1, periods=(Period(0, 16), Period(3600, 6)))
    tx = Transaction("7", T0 + 1000)
    ps = installed(p, tx=tx)
    assert limit_a(ps, T0 + 1000 + 3599, tx) == 16
    assert limit_a(ps, T0 + 1000 + 3600, tx) == 6


def test_daily_recurring_profile() -> None:
    midnight = epoch_s("2027-01-15T00:00:00Z")
    assert midnight is not None
    p = profile(MAX_PROFILE, kind="Recurring", recurrency="Daily", start_schedule_s=midnight,
                periods=(Period(0, 32), Period(8 * 3600, 6), Period(18 * 3600, 32)))
    ps = installed(p)
    three_days = 3 * 86_400
    assert limit_a(ps, midnight + three_days + 9 * 3600) == 6
    assert limit_a(ps, midnight + three_days + 19 * 3600) == 32
    assert ps.limit_at(midnight + three_days + 19 * 3600, 1, TXN, RATING).next_change_s == midnight + 4 * 86_400
    assert limit_a(ps, midnight - 3600) == 32  # the day before its start repeats it too


def test_power_and_phase_limits_are_compared_in_watts() -> None:
    w = installed(profile(TX_DEFAULT, rate_unit="W", limit=11_040.0))
    assert limit_a(w) == pytest.approx(16.0)
    one_phase = profile(TX, 16, connector=1, periods=(Period(0, 16, phases=1),))
    ps = installed(profile(MAX_PROFILE, 10), one_phase)  # 16 A on 1 phase = 3680 W < 10 A on 3 = 6900 W
    limit = ps.limit_at(T0 + 1, 1, TXN, RATING)
    assert (limit.current_a, limit.phases) == (pytest.approx(16.0), 1)


def test_the_rating_caps_a_higher_limit() -> None:
    assert limit_a(installed(profile(TX_DEFAULT, 63))) == 32


@pytest.mark.parametrize(("bad", "tx", "message"), [
    (dict(purpose=MAX_PROFILE, connector=1), TXN, "belongs on connector 0"),
    (dict(purpose=TX, connector=1), None, "needs a running transaction"),
    (dict(purpose=TX, connector=0), TXN, "needs a running transaction"),
    (dict(purpose=TX, connector=1, transaction_id="99"), TXN, "is not the running one"),
    (dict(level=9), TXN, "ChargeProfileMaxStackLevel"),
    (dict(rate_unit="W"), TXN, "not accepted"),
    (dict(periods=tuple(Period(60.0 * k, 10) for k in range(25))), TXN, "ChargingScheduleMaxPeriods"),
    (dict(connector=2), TXN, "does not exist"),
])
def test_install_refusals(bad: dict[str, object], tx: Transaction | None, message: str) -> None:
    ps = ProfileSet(SmartChargingCaps(rate_units=("A",)))
    fields = {"purpose": TX_DEFAULT} | bad
    with pytest.raises(ProfileError, match=message):
        ps.install(profile(**fields), tx)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "message"), [
    (dict(periods=(Period(10, 6),)), "must begin at 0"),
    (dict(periods=(Period(0, 6), Period(0, 8))), "increase"),
    (dict(periods=(Period(0, -1),)), ">= 0"),
    (dict(kind="Recurring"), "Daily or Weekly"),
    (dict(purpose="Nonsense"), "chargingProfilePurpose"),
])
def test_malformed_profiles(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        profile(**kw)  # type: ignore[arg-type]


def test_replacement_by_id_and_by_slot_and_the_profile_count() -> None:
    ps = installed(profile(TX_DEFAULT, 10, profile_id=1))
    ps.install(profile(TX_DEFAULT, 8, profile_id=1, level=3), TXN)  # same id replaces
    assert [(p.profile_id, p.stack_level) for p in ps.profiles] == [(1, 3)]
    ps.install(profile(TX_DEFAULT, 7, profile_id=2, level=3), TXN)  # same connector, purpose, level replaces
    assert [p.profile_id for p in ps.profiles] == [2]
    small = ProfileSet(SmartChargingCaps(max_profiles=2))
    small.install(profile(level=0), TXN)
    small.install(profile(level=1), TXN)
    with pytest.raises(ProfileError, match="MaxChargingProfilesInstalled"):
        small.install(profile(level=2), TXN)


def test_clear_and_transaction_end() -> None:
    a, b, c = profile(MAX_PROFILE, 20), profile(TX_DEFAULT, 10, level=1), profile(TX, 8, connector=1)
    ps = installed(a, b, c)
    assert ps.clear(profile_id=999) == 0
    assert ps.clear(purpose=TX_DEFAULT, stack_level=0) == 0
    assert ps.clear(purpose=TX_DEFAULT, stack_level=1) == 1
    ps.end_transaction(1)
    assert ps.profiles == [a]
    assert ps.clear() == 1 and ps.profiles == []


def test_composite_periods_for_get_composite_schedule() -> None:
    p = profile(TX_DEFAULT, periods=(Period(0, 16), Period(600, 8)), duration_s=1200.0)
    assert composite_periods(installed(p), T0, 1800, 1, TXN, RATING) == [(0.0, 16.0, 3), (600.0, 8.0, 3),
                                                                         (1200.0, 32.0, 3)]
    assert composite_periods(installed(p), T0, 600, 1, TXN, RATING, unit="W") == [(0.0, 11040.0, 3)]


def test_parse_ocpp16_and_201_payloads() -> None:
    payload16 = {"chargingProfileId": 5, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                 "chargingProfileKind": "Absolute", "transactionId": 42,
                 "chargingSchedule": {"startSchedule": iso(T0), "chargingRateUnit": "A", "duration": 900,
                                      "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12.5,
                                                                  "numberPhases": 3}]}}
    p16 = parse_profile_16(1, camel_to_snake_case(payload16), now_s=T0)
    assert (p16.profile_id, p16.purpose, p16.transaction_id, p16.duration_s) == (5, TX, "42", 900.0)
    assert (p16.start_schedule_s, p16.periods) == (T0, (Period(0.0, 12.5, 3),))
    payload201 = {"id": 9, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
                  "chargingProfileKind": "Recurring", "recurrencyKind": "Weekly", "validTo": "2027-02-01T00:00:00Z",
                  "chargingSchedule": [{"id": 1, "startSchedule": "2027-01-11T00:00:00+00:00",
                                        "chargingRateUnit": "W",
                                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}]}]}
    p201 = parse_profile_201(0, camel_to_snake_case(payload201), now_s=T0)
    assert (p201.purpose, p201.recurrency, p201.rate_unit) == (MAX_PROFILE, "Weekly", "W")
    assert p201.valid_to_s == epoch_s("2027-02-01T00:00:00Z")
    with pytest.raises(ProfileError, match="ISO 8601"):
        epoch_s("yesterday")


# --- the composite is constant until the next change it announces -----------------------------------------
_period_lists = st.lists(st.tuples(st.integers(1, 7200), st.integers(0, 32)), max_size=4).map(
    lambda xs: tuple(Period(float(s), float(v)) for s, v in sorted({s: v for s, v in xs}.items())))


@st.composite
def random_profile(draw: st.DrawFn) -> ChargingProfile:
    purpose = draw(st.sampled_from([MAX_PROFILE, TX_DEFAULT, TX]))
    kind = draw(st.sampled_from(["Absolute", "Relative", "Recurring"]))
    valid_from = draw(st.none() | st.integers(-3600, 7200))
    valid_len = draw(st.none() | st.integers(1, 7200))
    return ChargingProfile(
        profile_id=draw(st.integers(1, 10_000)), stack_level=draw(st.integers(0, 3)), purpose=purpose, kind=kind,
        rate_unit=draw(st.sampled_from(["A", "W"])),
        periods=(Period(0.0, float(draw(st.integers(0, 32)))),) + draw(_period_lists),
        connector_id=1 if purpose == TX else draw(st.sampled_from([0, 1])) if purpose == TX_DEFAULT else 0,
        recurrency="Daily" if kind == "Recurring" else None,
        valid_from_s=T0 + valid_from if valid_from is not None else -math.inf,
        valid_to_s=T0 + (valid_from or 0) + valid_len if valid_len is not None else math.inf,
        start_schedule_s=None if kind == "Relative" else T0 + draw(st.integers(-3600, 3600)),
        duration_s=draw(st.none() | st.integers(1, 10_000).map(float)), installed_s=T0,
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(random_profile(), max_size=5), st.integers(-7200, 20_000), st.floats(0.0, 1.0))
def test_composite_holds_until_the_announced_change(profiles: list[ChargingProfile], offset_s: int,
                                                    fraction: float) -> None:
    ps = ProfileSet(SmartChargingCaps(max_profiles=100))
    tx = Transaction("1", T0 - 600)
    for p in profiles:
        try:
            ps.install(p, tx)
        except ProfileError:
            pass
    t_s = T0 + offset_s
    limit = ps.limit_at(t_s, 1, tx, RATING)
    assert 0.0 <= limit.current_a <= RATING.max_current_a
    horizon_s = min(limit.next_change_s, t_s + 86_400 * 8)
    later_s = t_s + fraction * (horizon_s - t_s)
    if later_s < limit.next_change_s:
        assert ps.limit_at(later_s, 1, tx, RATING).current_a == limit.current_a
    in_force = [(p.stack_level, p) for p in ps.profiles
                if p.purpose == MAX_PROFILE and value_at(p, t_s, tx) is not None]
    if in_force:  # never above the prevailing (highest stack level) maximum profile
        prevailing = max(in_force, key=lambda pair: pair[0])[1]
        v = value_at(prevailing, t_s, tx)
        assert v is not None
        cap_a = v[0] if prevailing.rate_unit == "A" else v[0] / (3 * RATING.v_ln_v)
        assert limit.current_a <= cap_a + 1e-9
