"""The controller: shadow sends nothing; active sends valid profiles past the deadband and the raise interval;
refusals are marked and fall back."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from sim.domain import Setpoints, SiteView
from sim.errors import StrategyError
from sim.live.controller import Controller, ProfileCommand
from sim.live.events import Capabilities, ChargerConnected, SessionEnded, SessionStarted
from sim.live.site_file import LiveSite, site_from_dict
from sim.live.tracker import LiveTracker
from tests.live.test_profiles import validate

T0 = 1_776_000_000.0
PERIOD_S = 30.0


class Fixed:
    """A strategy that returns whatever the test sets (per charger)."""

    name: ClassVar[str] = "fixed"

    def __init__(self, current_a: list[float]) -> None:
        self.current_a = current_a

    def compute(self, view: SiteView) -> Setpoints:
        return Setpoints(np.array(self.current_a, dtype=float))


def make_site(**control: Any) -> LiveSite:
    return site_from_dict({
        "control": {"deadband_a": 1.0, "min_send_interval_s": 60, "safe_limit_a": 6.0, "stack_level": 2, **control},
        "chargers": [{"id": "cp1", "bus": 0, "max_current_a": 32}, {"id": "cp2", "bus": 0, "max_current_a": 16, "min_current_a": 2}],
    })


class Rig:
    """A tracker, a controller with a ``Fixed`` strategy, two booted chargers with a session each."""

    def __init__(self, site: LiveSite | None = None, versions: tuple[str, str] = ("1.6", "2.0.1"),
                 caps: Capabilities | None = None) -> None:
        self.site = site or make_site()
        self.tracker = LiveTracker(self.site)
        self.strategy = Fixed([16.0, 10.0])
        self.controller = Controller(self.site, self.strategy)
        self.boot = {}
        for cid, version in zip(("cp1", "cp2"), versions, strict=True):
            reaction = self.controller.on_boot(cid, version, caps)
            self.boot[cid] = reaction
            for command in reaction.commands:
                self.controller.on_outcome(command, "accepted")
        self.tracker.apply(SessionStarted("cp1", 1, "101", T0 - 600))
        self.tracker.apply(SessionStarted("cp2", 2, "tx-b", T0 - 300))

    def tick(self, t_s: float, mode: str = "active", answer: str | None = "accepted") -> list[ProfileCommand]:
        view = self.tracker.view(t_s, PERIOD_S)
        decision = self.controller.decide(view, mode, t_s, self.tracker.session_refs())
        for command in decision.commands:
            validate(command.ocpp_version, command.payload)
            if answer is not None:
                self.controller.on_outcome(command, answer)
        return list(decision.commands)


def test_boot_installs_the_safe_default() -> None:
    rig = Rig()
    (c16,) = rig.boot["cp1"].commands
    (c201,) = rig.boot["cp2"].commands
    assert (c16.purpose, c16.connector_id, c16.limit_a, c16.unit, c16.intent) == ("TxDefaultProfile", 0, 6.0, "A",
                                                                                  "default")
    assert c16.payload["csChargingProfiles"]["stackLevel"] == 2 and c16.payload["connectorId"] == 0
    assert c201.payload["evseId"] == 0 and c201.payload["chargingProfile"]["chargingProfilePurpose"] == "TxDefaultProfile"
    for command in (c16, c201):
        validate(command.ocpp_version, command.payload)
    assert "safe default 6 A" in rig.boot["cp1"].message
    # capabilities: only W, and a lower maximum stack level
    caps = Capabilities("cp1", T0, True, ("W",), 1)
    (cmd,) = Controller(make_site(), Fixed([0, 0])).on_boot("cp1", "1.6", caps).commands
    assert cmd.unit == "W" and cmd.payload["csChargingProfiles"]["stackLevel"] == 1
    assert cmd.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 4140.0
    none = Controller(make_site(), Fixed([0, 0])).on_boot("cp1", "1.6", Capabilities("cp1", T0, False, None, None))
    assert none.commands == () and "no smart charging" in none.message


def test_shadow_sends_nothing() -> None:
    rig = Rig()
    view = rig.tracker.view(T0, PERIOD_S)
    decision = rig.controller.decide(view, "shadow", T0, rig.tracker.session_refs())
    assert decision.commands == () and decision.mode == "shadow"
    np.testing.assert_array_equal(decision.setpoints_a, [16.0, 10.0])
    np.testing.assert_array_equal(decision.limits_a, [16.0, 10.0])
    assert decision.charger_ids == ("cp1", "cp2")


def test_active_sends_tx_profiles_per_session() -> None:
    rig = Rig()
    commands = rig.tick(T0)
    assert [(c.charger_id, c.purpose, c.connector_id, c.limit_a, c.transaction_id) for c in commands] == [
        ("cp1", "TxProfile", 1, 16.0, "101"), ("cp2", "TxProfile", 2, 10.0, "tx-b")]
    assert commands[0].payload["csChargingProfiles"]["transactionId"] == 101
    assert commands[1].payload["chargingProfile"]["transactionId"] == "tx-b"
    assert rig.tick(T0 + 30) == []  # nothing changed


def test_deadband_raise_interval_and_immediate_decreases() -> None:
    rig = Rig()
    rig.tick(T0)
    rig.strategy.current_a = [16.9, 10.0]
    assert rig.tick(T0 + 120) == []  # within the deadband
    rig.strategy.current_a = [20.0, 10.0]
    assert rig.tick(T0 + 30) == []  # a raise 30 s after the last profile: held
    assert [c.limit_a for c in rig.tick(T0 + 60)] == [20.0]  # 60 s: sent
    rig.strategy.current_a = [8.0, 10.0]
    assert [c.limit_a for c in rig.tick(T0 + 70)] == [8.0]  # a decrease goes at once
    rig.strategy.current_a = [0.0, 3.0]  # a pause; cp2 may take 3 A by the file, but IEC 61851 says >= 6 A
    commands = rig.tick(T0 + 80)
    assert [(c.charger_id, c.limit_a) for c in commands] == [("cp1", 0.0), ("cp2", 0.0)]
    rig.strategy.current_a = [6.5, 0.0]
    assert rig.tick(T0 + 100) == []  # resuming is a raise: held until 60 s after cp1's last profile
    assert [(c.charger_id, c.limit_a) for c in rig.tick(T0 + 140)] == [("cp1", 6.5)]


def test_no_second_command_while_one_is_outstanding() -> None:
    rig = Rig()
    first = rig.tick(T0, answer=None)
    assert len(first) == 2
    rig.strategy.current_a = [8.0, 6.0]
    assert rig.tick(T0 + 30, answer=None) == []
    for command in first:
        rig.controller.on_outcome(command, "accepted")
    assert len(rig.tick(T0 + 40)) == 2


def test_rejections_fall_back_unit_then_purpose_then_connector_0() -> None:
    rig = Rig()
    (tx_a, _) = rig.tick(T0, answer=None)
    reaction = rig.controller.on_outcome(tx_a, "rejected")
    (tx_w,) = reaction.commands
    assert (tx_w.purpose, tx_w.unit, tx_w.limit_a) == ("TxProfile", "W", 16.0)
    assert "rejected" in reaction.message and "TxProfile in A" in reaction.message
    validate("1.6", tx_w.payload)
    reaction = rig.controller.on_outcome(tx_w, "timeout")
    (def_conn,) = reaction.commands
    assert (def_conn.purpose, def_conn.connector_id, def_conn.unit) == ("TxDefaultProfile", 1, "A")
    assert "timed out" in reaction.message and "falling back to TxDefaultProfile in A on connector 1" in reaction.message
    reaction = rig.controller.on_outcome(def_conn, "rejected")
    (def_conn_w,) = reaction.commands
    reaction = rig.controller.on_outcome(def_conn_w, "rejected")
    (def_zero,) = reaction.commands
    assert (def_zero.purpose, def_zero.connector_id, def_zero.unit, def_zero.limit_a) == ("TxDefaultProfile", 0, "A",
                                                                                       16.0)
    rig.controller.on_outcome(def_zero, "accepted")
    # from now on cp1's setpoints travel as its connector-0 default, and the safe default returns when idle
    rig.strategy.current_a = [10.0, 10.0]
    (again,) = rig.tick(T0 + 30)
    assert (again.purpose, again.connector_id, again.limit_a) == ("TxDefaultProfile", 0, 10.0)
    rig.tracker.apply(SessionEnded("cp1", "101", T0 + 40))
    rig.strategy.current_a = [0.0, 10.0]
    (restore,) = rig.tick(T0 + 100)
    assert (restore.intent, restore.purpose, restore.connector_id, restore.limit_a) == ("default", "TxDefaultProfile",
                                                                                       0, 6.0)
    assert rig.tick(T0 + 200) == []


def test_a_confirmed_unit_skips_the_unit_fallback() -> None:
    rig = Rig(caps=Capabilities("cp1", T0, True, ("A",), 5, number_of_connectors=2))
    (tx, _) = rig.tick(T0, answer=None)
    (fallback,) = rig.controller.on_outcome(tx, "rejected").commands
    assert (fallback.purpose, fallback.connector_id, fallback.unit) == ("TxDefaultProfile", 1, "A")


def test_boot_default_falls_back_to_every_connector() -> None:
    controller = Controller(make_site(), Fixed([0, 0]))
    caps = Capabilities("cp1", T0, True, ("A",), 3, number_of_connectors=2)
    (zero,) = controller.on_boot("cp1", "2.0.1", caps).commands
    reaction = controller.on_outcome(zero, "rejected")
    assert [(c.purpose, c.connector_id) for c in reaction.commands] == [("TxDefaultProfile", 1), ("TxDefaultProfile", 2)]
    for command in reaction.commands:
        validate("2.0.1", command.payload)
    last = controller.on_outcome(reaction.commands[0], "rejected")
    assert last.commands == () and "charges at its own maximum" in last.message


def test_not_supported_marks_the_charger_uncontrollable_and_errors_retry() -> None:
    rig = Rig()
    (tx1, tx2) = rig.tick(T0, answer=None)
    reaction = rig.controller.on_outcome(tx1, "not_implemented")
    assert reaction.commands == () and "uncontrollable" in reaction.message
    assert "retried" in rig.controller.on_outcome(tx2, "error").message
    rig.strategy.current_a = [20.0, 12.0]
    commands = rig.tick(T0 + 60)
    assert [(c.charger_id, c.limit_a) for c in commands] == [("cp2", 12.0)]  # cp1 is shadow only now
    with pytest.raises(ValueError, match="outcome must be one of"):
        rig.controller.on_outcome(commands[0], "maybe")


def test_bad_setpoints_and_modes_are_errors() -> None:
    rig = Rig()
    rig.strategy.current_a = [3.0, 10.0]
    with pytest.raises(StrategyError, match="cp1.*valid: 0 or between 6 and 32 A"):
        rig.tick(T0)
    with pytest.raises(ValueError, match="mode must be one of"):
        rig.controller.decide(rig.tracker.view(T0, PERIOD_S), "loud", T0, {})


def test_the_deadband_and_raise_interval_hold_over_a_long_run() -> None:
    """Random setpoints for 2 h: every profile changes its limit by more than the deadband (or pauses/resumes),
    raises are at least min_send_interval_s apart per charger, and every payload is valid."""
    rng = np.random.default_rng(7)
    rig = Rig(site=make_site(deadband_a=2.0, min_send_interval_s=300))
    sent: dict[str, list[tuple[float, float]]] = {"cp1": [(T0 - 1, 6.0)], "cp2": [(T0 - 1, 6.0)]}
    for k in range(240):
        t_s = T0 + k * PERIOD_S
        rig.strategy.current_a = [float(rng.choice([0.0, rng.uniform(6, 32)])), float(rng.uniform(6, 16))]
        for command in rig.tick(t_s):
            sent[command.charger_id].append((t_s, command.limit_a))
    for charger_id, history in sent.items():
        assert len(history) > 5, charger_id
        last_raise_s = -np.inf
        last_send_s = -np.inf
        for (_, before), (t_s, after) in zip(history, history[1:], strict=False):
            assert abs(after - before) > 2.0 or (after == 0.0) != (before == 0.0)
            if after > before:
                assert t_s - last_send_s >= 300.0, (charger_id, t_s, last_send_s)
                last_raise_s = t_s
            last_send_s = t_s
        assert last_raise_s > T0


def test_a_first_limit_goes_at_once_when_no_default_is_known() -> None:
    """Without a default profile in force the charger may run at its maximum: the first limit is not held."""
    site = make_site()
    tracker = LiveTracker(site)
    controller = Controller(site, Fixed([20.0, 0.0]))
    for command in controller.on_boot("cp1", "1.6", None).commands:
        controller.on_outcome(command, "rejected")  # its fallback (in W) is never answered: no default known
    tracker.apply(SessionStarted("cp1", 1, "7", T0))
    view = tracker.view(T0, PERIOD_S)
    (first,) = controller.decide(view, "active", T0, tracker.session_refs()).commands
    assert (first.purpose, first.limit_a) == ("TxProfile", 20.0)


def test_a_charger_met_without_a_boot_is_booted_at_its_first_session() -> None:
    """After a restart of feedertwin a charger may only reconnect: it gets the safe default and its limit."""
    site = make_site()
    tracker = LiveTracker(site)
    controller = Controller(site, Fixed([20.0, 0.0]))
    tracker.apply(ChargerConnected("cp1", T0 - 5, "2.0.1"))
    tracker.apply(SessionStarted("cp1", 1, "uuid-7", T0 - 3600))
    decision = controller.decide(tracker.view(T0, PERIOD_S), "active", T0, tracker.session_refs())
    assert [(c.purpose, c.connector_id, c.limit_a) for c in decision.commands] == [
        ("TxDefaultProfile", 0, 6.0), ("TxProfile", 1, 20.0)]
    assert "no boot was seen" in decision.notes[0]
    for command in decision.commands:
        validate("2.0.1", command.payload)
    # a session on a charger that never connected (events replayed from a store) gets no profile
    tracker.apply(SessionStarted("cp2", 1, "9", T0))
    controller.strategy.current_a = [20.0, 10.0]
    decision = controller.decide(tracker.view(T0 + 30, PERIOD_S), "active", T0 + 30, tracker.session_refs())
    assert "cp2:9" in decision.notes[-1] and "not connected" in decision.notes[-1]


def test_a_tx_profile_refused_after_its_session_ended_marks_nothing() -> None:
    """A charger rightly refuses a TxProfile for a transaction that just stopped (the profile and the
    StopTransaction crossed): no fallback, and the next session still gets TxProfiles."""
    rig = Rig()
    (tx_a, _) = rig.tick(T0, answer=None)
    reaction = rig.controller.on_outcome(tx_a, "rejected", session_ended=True)
    assert reaction.commands == () or list(reaction.commands) == []
    assert "after its session ended" in reaction.message
    rig.strategy.current_a = [10.0, 10.0]
    commands = rig.tick(T0 + 120)
    assert [(c.charger_id, c.purpose, c.unit) for c in commands][0] == ("cp1", "TxProfile", "A")
