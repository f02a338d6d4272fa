"""SetChargingProfile payloads: valid against the ocpp package's own JSON schemas, limits as the safety rules say."""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import jsonschema
import ocpp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.domain import Charger
from sim.live.profiles import (
    TX_DEFAULT_PROFILE,
    TX_PROFILE,
    limit_in_unit,
    profile_id,
    sendable_current_a,
    set_charging_profile,
)

SCHEMAS = Path(ocpp.__file__).parent
THREE = Charger("cp3", 1, phases=3, max_current_a=32.0, min_current_a=6.0)
ONE = Charger("cp1", 1, phases=1, phase="L2", max_current_a=16.0, min_current_a=8.0)


def validate(version: str, payload: dict[str, Any]) -> None:
    """As the ocpp library validates a call: 1.6 numbers parsed as Decimal (its multipleOf 0.1)."""
    if version == "1.6":
        schema = json.loads((SCHEMAS / "v16/schemas/SetChargingProfile.json").read_text(), parse_float=decimal.Decimal)
        instance = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    else:
        schema = json.loads((SCHEMAS / "v201/schemas/SetChargingProfileRequest.json").read_text())
        instance = json.loads(json.dumps(payload))
    jsonschema.Draft4Validator(schema).validate(instance)


def test_tx_profile_16_exactly() -> None:
    payload = set_charging_profile("1.6", THREE, purpose=TX_PROFILE, connector_id=1, limit_a=13.2, unit="A",
                                   stack_level=1, transaction_id="42")
    assert payload == {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 2001, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative", "transactionId": 42,
            "chargingSchedule": {"chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.2, "numberPhases": 3}]},
        },
    }
    validate("1.6", payload)


def test_tx_profile_201_exactly() -> None:
    payload = set_charging_profile("2.0.1", ONE, purpose=TX_PROFILE, connector_id=2, limit_a=10.0, unit="W",
                                   stack_level=3, transaction_id="a1b2-c3")
    assert payload == {
        "evseId": 2,
        "chargingProfile": {
            "id": 2002, "stackLevel": 3, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
            "transactionId": "a1b2-c3",
            "chargingSchedule": [{"id": 2002, "chargingRateUnit": "W", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 2300.0, "numberPhases": 1}]}],
        },
    }
    validate("2.0.1", payload)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize("unit", ["A", "W"])
def test_default_profile_at_connector_0(version: str, unit: str) -> None:
    payload = set_charging_profile(version, THREE, purpose=TX_DEFAULT_PROFILE, connector_id=0, limit_a=6.0,
                                   unit=unit, stack_level=0)
    validate(version, payload)
    body = payload["csChargingProfiles"] if version == "1.6" else payload["chargingProfile"]
    assert body["chargingProfilePurpose"] == "TxDefaultProfile" and "transactionId" not in body
    assert (payload.get("connectorId", payload.get("evseId"))) == 0
    assert profile_id(TX_DEFAULT_PROFILE, 0) == 1000


def test_sendable_current_rules() -> None:
    assert sendable_current_a(THREE, 0.0) == 0.0
    assert sendable_current_a(THREE, 5.99) == 0.0  # never 1-5 A: a pause
    assert sendable_current_a(THREE, 6.0) == 6.0
    assert sendable_current_a(THREE, 13.27) == 13.2  # down, never above the setpoint
    assert sendable_current_a(THREE, 40.0) == 32.0  # clamped to the charger
    assert sendable_current_a(ONE, 7.5) == 0.0  # below this charger's own minimum (8 A)
    lenient = Charger("x", 0, min_current_a=0.0)
    assert sendable_current_a(lenient, 3.0) == 0.0  # the IEC 61851 minimum holds whatever the file says
    with pytest.raises(ValueError, match="cp3.*finite number >= 0"):
        sendable_current_a(THREE, -1.0)
    with pytest.raises(ValueError, match="not sendable"):
        set_charging_profile("1.6", THREE, purpose=TX_PROFILE, connector_id=1, limit_a=3.0, unit="A",
                             stack_level=1, transaction_id="1")
    with pytest.raises(ValueError, match="ocpp_version"):
        set_charging_profile("2.1", THREE, purpose=TX_DEFAULT_PROFILE, connector_id=0, limit_a=6.0, unit="A",
                             stack_level=1)
    with pytest.raises(ValueError, match="TxProfile needs a transaction"):
        set_charging_profile("1.6", THREE, purpose=TX_PROFILE, connector_id=0, limit_a=6.0, unit="A", stack_level=1)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(current_a=st.floats(0.0, 80.0), phases=st.sampled_from([1, 3]), max_a=st.floats(6.0, 80.0),
       min_a=st.floats(0.0, 6.0), version=st.sampled_from(["1.6", "2.0.1"]), unit=st.sampled_from(["A", "W"]))
def test_every_limit_is_valid_and_safe(current_a: float, phases: int, max_a: float, min_a: float, version: str,
                                       unit: str) -> None:
    charger = Charger("c", 0, phases=phases, phase="L1" if phases == 1 else "L1L2L3", max_current_a=max_a,
                      min_current_a=min_a)
    limit = sendable_current_a(charger, current_a)
    assert limit == 0.0 or 6.0 <= limit <= max_a + 1e-9
    assert limit <= current_a + 1e-9  # never rounded above the setpoint
    assert limit == 0.0 or current_a - limit < 0.1 + 1e-9 or current_a > max_a
    assert abs(limit * 10 - round(limit * 10)) < 1e-9
    w = limit_in_unit(charger, limit, "W")
    assert w <= limit * phases * charger.v_ln_v + 1e-6 and w == int(w)
    payload = set_charging_profile(version, charger, purpose=TX_PROFILE, connector_id=1, limit_a=limit, unit=unit,
                                   stack_level=2, transaction_id="17")
    validate(version, payload)


def test_the_schema_check_has_teeth() -> None:
    """The validator used above rejects what a charger would: a 1.6 limit off the 0.1 grid, a 2.0.1 profile without id."""
    payload = set_charging_profile("1.6", THREE, purpose=TX_PROFILE, connector_id=1, limit_a=13.2, unit="A",
                                   stack_level=1, transaction_id="42")
    payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 13.25
    with pytest.raises(jsonschema.ValidationError, match="multiple of"):
        validate("1.6", payload)
    p201 = set_charging_profile("2.0.1", THREE, purpose=TX_DEFAULT_PROFILE, connector_id=0, limit_a=6.0, unit="A",
                                stack_level=0)
    del p201["chargingProfile"]["chargingSchedule"][0]["id"]
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        validate("2.0.1", p201)
