"""The installed charging profiles of a simulated charger and the composite limit they give.

This is what a real charger does with ``SetChargingProfile`` (OCPP 1.6 section 3.13, 2.0.1 K01/K08),
reduced to the rules a controller can observe:

Installing (``ProfileSet.install``; a refusal raises ``ProfileError`` and the charger answers
``Rejected``):
- ``ChargePointMaxProfile`` (and 2.0.1 ``ChargingStationExternalConstraints``) only on connector 0;
- ``TxProfile`` only on a connector with a running transaction, and with that transaction's id when
  it names one;
- the stack level at most the charger's ``max_stack_level``, the unit one it accepts, at most
  ``max_periods`` periods, at most ``max_profiles`` installed;
- a new profile replaces the one with the same id, and the one with the same connector, purpose and
  stack level.

The limit at time ``t`` (``ProfileSet.limit_at``):
1. a profile is *in force* when ``validFrom <= t < validTo`` and ``t`` lies in its schedule: from its
   start (``startSchedule`` for Absolute, the receipt time if it has none; the transaction start for
   Relative; the latest ``startSchedule + k * day|week`` for Recurring) for ``duration`` (if given;
   a recurring one also ends at its next recurrence). Within it, the period with the last
   ``startPeriod <= t - start`` gives the limit;
2. per purpose, the profile in force with the highest stack level prevails (ties: the
   connector-specific one over connector 0's);
3. the transaction's limit is its ``TxProfile`` if one is in force, else the ``TxDefaultProfile``
   (connector-specific or connector 0's);
4. the composite is the smallest of that and the maximum profiles, compared as power (a W limit and
   an A limit on a different number of phases are compared in W), converted to A per phase on the
   fewest phases any of them allows, and never above the charger's rating.

The charger has one connector per charge point here (as the simulator's chargers), so a maximum
profile limits that connector alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.live.chargepoint.profiles import (
    EXTERNAL,
    MAX_PROFILE,
    RECURRENCY_S,
    TX,
    TX_DEFAULT,
    ChargingProfile,
    ProfileError,
)


@dataclass(frozen=True)
class SmartChargingCaps:
    """What the simulated charger accepts (answered to GetConfiguration / GetVariables)."""

    enabled: bool = True
    rate_units: tuple[str, ...] = ("A", "W")
    max_stack_level: int = 8
    max_periods: int = 24
    max_profiles: int = 16
    connectors: int = 1


@dataclass(frozen=True)
class Rating:
    """The electrical side of the charger the limits are converted with."""

    phases: int
    v_ln_v: float
    max_current_a: float


@dataclass(frozen=True)
class Limit:
    """The composite limit at one instant and until when it holds."""

    current_a: float  # per phase
    phases: int
    next_change_s: float  # the next instant the composite may change (math.inf: never)
    limited: bool  # a profile is in force (else the charger's rating applies)


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    start_s: float


def schedule_start_s(profile: ChargingProfile, t_s: float, tx: Transaction | None) -> float | None:
    """The start of ``profile``'s schedule occurrence that covers ``t_s`` (None: it has none now)."""
    if profile.kind == "Relative":
        return tx.start_s if tx is not None else None
    if profile.kind == "Recurring":
        assert profile.start_schedule_s is not None and profile.recurrency is not None
        cycle_s = RECURRENCY_S[profile.recurrency]
        return profile.start_schedule_s + math.floor((t_s - profile.start_schedule_s) / cycle_s) * cycle_s
    return profile.start_schedule_s if profile.start_schedule_s is not None else profile.installed_s


def _schedule_end_s(profile: ChargingProfile, start_s: float) -> float:
    end_s = start_s + profile.duration_s if profile.duration_s is not None else math.inf
    if profile.kind == "Recurring" and profile.recurrency is not None:
        end_s = min(end_s, start_s + RECURRENCY_S[profile.recurrency])
    return end_s


def value_at(profile: ChargingProfile, t_s: float, tx: Transaction | None) -> tuple[float, int | None] | None:
    """``(limit, phases)`` of ``profile`` at ``t_s``, or None when it is not in force."""
    if not profile.valid_from_s <= t_s < profile.valid_to_s:
        return None
    start_s = schedule_start_s(profile, t_s, tx)
    if start_s is None or not start_s <= t_s < _schedule_end_s(profile, start_s):
        return None
    elapsed_s = t_s - start_s
    period = profile.periods[0]
    for candidate in profile.periods:
        if candidate.start_s > elapsed_s:
            break
        period = candidate
    return period.limit, period.phases


def boundaries_after(profile: ChargingProfile, t_s: float, tx: Transaction | None) -> float:
    """The first instant after ``t_s`` at which ``profile``'s value may change."""
    times = [profile.valid_from_s, profile.valid_to_s]
    start_s = schedule_start_s(profile, t_s, tx)
    if start_s is not None:
        times += [start_s + p.start_s for p in profile.periods]
        times.append(_schedule_end_s(profile, start_s))
        if profile.kind == "Recurring" and profile.recurrency is not None:
            times.append(start_s + RECURRENCY_S[profile.recurrency])  # the next occurrence begins
    later = [x for x in times if x > t_s]
    return min(later) if later else math.inf


@dataclass
class ProfileSet:
    """The profiles installed on one charger (mutable: only its own simulated charger changes it)."""

    caps: SmartChargingCaps = field(default_factory=SmartChargingCaps)
    profiles: list[ChargingProfile] = field(default_factory=list)

    def install(self, profile: ChargingProfile, tx: Transaction | None) -> None:
        """Add ``profile`` (``tx``: the transaction running on its connector); ProfileError if refused."""
        caps = self.caps
        if not caps.enabled:
            raise ProfileError("smart charging is disabled on this charger")
        if not 0 <= profile.connector_id <= caps.connectors:
            raise ProfileError(f"connector {profile.connector_id} does not exist (0..{caps.connectors})")
        if profile.purpose in (MAX_PROFILE, EXTERNAL) and profile.connector_id != 0:
            raise ProfileError(f"a {profile.purpose} belongs on connector 0, not {profile.connector_id}")
        if profile.purpose == TX:
            if profile.connector_id == 0 or tx is None:
                raise ProfileError(f"a TxProfile needs a running transaction on connector {profile.connector_id}")
            if profile.transaction_id is not None and profile.transaction_id != tx.transaction_id:
                raise ProfileError(f"transaction {profile.transaction_id} is not the running one ({tx.transaction_id})")
        if profile.stack_level > caps.max_stack_level:
            raise ProfileError(f"stackLevel {profile.stack_level} is above ChargeProfileMaxStackLevel "
                               f"{caps.max_stack_level}")
        if profile.rate_unit not in caps.rate_units:
            raise ProfileError(f"chargingRateUnit {profile.rate_unit} is not accepted ({','.join(caps.rate_units)})")
        if len(profile.periods) > caps.max_periods:
            raise ProfileError(f"{len(profile.periods)} periods exceed ChargingScheduleMaxPeriods {caps.max_periods}")
        kept = [p for p in self.profiles if p.profile_id != profile.profile_id
                and (p.connector_id, p.purpose, p.stack_level) != (profile.connector_id, profile.purpose,
                                                                   profile.stack_level)]
        if len(kept) >= caps.max_profiles:
            raise ProfileError(f"{caps.max_profiles} profiles are installed already (MaxChargingProfilesInstalled)")
        self.profiles = [*kept, profile]

    def clear(self, profile_id: int | None = None, connector_id: int | None = None, purpose: str | None = None,
              stack_level: int | None = None) -> int:
        """Remove by id, or by every criterion given (none given: all); returns how many went."""
        def matches(p: ChargingProfile) -> bool:
            if profile_id is not None:
                return p.profile_id == profile_id
            return ((connector_id is None or p.connector_id == connector_id)
                    and (purpose is None or p.purpose == purpose)
                    and (stack_level is None or p.stack_level == stack_level))
        kept = [p for p in self.profiles if not matches(p)]
        removed = len(self.profiles) - len(kept)
        self.profiles = kept
        return removed

    def end_transaction(self, connector_id: int) -> None:
        """A transaction ended: its TxProfiles go with it."""
        self.profiles = [p for p in self.profiles if not (p.purpose == TX and p.connector_id == connector_id)]

    def limit_at(self, t_s: float, connector_id: int, tx: Transaction | None, rating: Rating) -> Limit:
        """The composite limit on ``connector_id`` at ``t_s`` (see the module docstring)."""
        next_change_s = math.inf
        prevailing: dict[str, tuple[float, int | None, str]] = {}  # purpose -> (limit, phases, unit)
        for purpose, connectors in ((MAX_PROFILE, (0,)), (EXTERNAL, (0,)), (TX, (connector_id,)),
                                    (TX_DEFAULT, (connector_id, 0))):
            best_key: tuple[int, int] | None = None
            for p in self.profiles:
                if p.purpose != purpose or p.connector_id not in connectors:
                    continue
                if purpose == TX and (tx is None or p.transaction_id not in (None, tx.transaction_id)):
                    continue
                next_change_s = min(next_change_s, boundaries_after(p, t_s, tx))
                value = value_at(p, t_s, tx)
                key = (p.stack_level, int(p.connector_id != 0))
                if value is not None and (best_key is None or key > best_key):
                    best_key = key
                    prevailing[purpose] = (value[0], value[1], p.rate_unit)
        if TX in prevailing:  # a TxProfile in force overrides the default
            prevailing.pop(TX_DEFAULT, None)
        return _combine(list(prevailing.values()), rating, next_change_s)


def _combine(chosen: list[tuple[float, int | None, str]], rating: Rating, next_change_s: float) -> Limit:
    """The smallest of the prevailing limits, compared in W, as A per phase (see the module docstring)."""
    if not chosen:
        return Limit(rating.max_current_a, rating.phases, next_change_s, limited=False)
    power_w = math.inf
    phases = rating.phases
    for limit, limit_phases, unit in chosen:
        n = min(limit_phases or rating.phases, rating.phases)
        p_w = limit * n * rating.v_ln_v if unit == "A" else limit
        power_w = min(power_w, p_w)
        phases = min(phases, n)
    current_a = min(power_w / (phases * rating.v_ln_v), rating.max_current_a)
    return Limit(current_a, phases, next_change_s, limited=True)


def composite_periods(profiles: ProfileSet, start_s: float, duration_s: float, connector_id: int,
                      tx: Transaction | None, rating: Rating, unit: str = "A",
                      max_periods: int = 1024) -> list[tuple[float, float, int]]:
    """The composite over ``[start_s, start_s + duration_s)`` as ``(offset_s, limit, phases)`` periods
    in ``unit`` (what GetCompositeSchedule answers), equal neighbours merged."""
    periods: list[tuple[float, float, int]] = []
    t_s = start_s
    while t_s < start_s + duration_s and len(periods) < max_periods:
        limit = profiles.limit_at(t_s, connector_id, tx, rating)
        value = limit.current_a if unit == "A" else limit.current_a * limit.phases * rating.v_ln_v
        value = round(value, 1)
        if not periods or (periods[-1][1], periods[-1][2]) != (value, limit.phases):
            periods.append((t_s - start_s, value, limit.phases))
        t_s = limit.next_change_s
    return periods
