"""Meter values of both OCPP versions as ``MeterSample`` events, and OCPP timestamps as seconds.

1.6 and 2.0.1 share the shape ``meterValue: [{timestamp, sampledValue: [...]}]``; they differ in
how a value and its unit are written (1.6: ``value`` is text, ``unit``; 2.0.1: ``value`` is a
number, ``unitOfMeasure: {unit, multiplier}``). Each ``meterValue`` entry becomes one sample.

Read: ``Power.Active.Import`` (W, kW), ``Energy.Active.Import.Register`` (Wh, kWh; the default
measurand when none is named), ``Current.Import`` per phase (``L1``, ``L1-N``, ...; an unphased
value is taken as L1), ``Current.Offered``, ``SoC``. Values measured at the ``Inlet`` are
skipped (they are the grid side of the charger, not what goes to the vehicle); other measurands,
and values that are not numbers, are skipped and named in the returned notes so the caller can log
them. Nothing here raises on a charger's bad data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sim.live.events import MeterSample

_SCALE = {"W": 1.0, "kW": 1e3, "Wh": 1.0, "kWh": 1e3, "A": 1.0, "Percent": 1.0}
_PHASES = {"L1": 0, "L2": 1, "L3": 2, "L1-N": 0, "L2-N": 1, "L3-N": 2}
_DEFAULT_MEASURAND = "Energy.Active.Import.Register"


def parse_time_s(text: Any, fallback_s: float) -> float:
    """Seconds since the epoch from an OCPP (ISO 8601) timestamp, or ``fallback_s`` if unreadable."""
    if not isinstance(text, str):
        return fallback_s
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return fallback_s
    if stamp.tzinfo is None:  # OCPP times are UTC; a charger that omits the zone means UTC
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def iso_utc(t_s: float) -> str:
    """An OCPP timestamp (UTC, ``Z``) for seconds since the epoch."""
    return datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value_w(sampled: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """The value in base units (W, Wh, A, %) and, if unreadable, why."""
    raw = sampled.get("value")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, f"value {raw!r} is not a number"
    unit_of_measure = sampled.get("unit_of_measure")
    if isinstance(unit_of_measure, Mapping):  # 2.0.1
        unit = unit_of_measure.get("unit", "Wh")
        multiplier = unit_of_measure.get("multiplier", 0)
        value *= 10.0 ** (multiplier if isinstance(multiplier, int) else 0)
    else:
        unit = sampled.get("unit")
    if unit is None:
        return value, None
    scale = _SCALE.get(unit)
    if scale is None:
        return None, f"unit {unit!r} not understood"
    return value * scale, None


def meter_samples(charger_id: str, connector_id: int, transaction_id: str | None,
                  meter_values: Sequence[Mapping[str, Any]], now_s: float) -> tuple[list[MeterSample], list[str]]:
    """One ``MeterSample`` per ``meterValue`` entry (snake_case keys, as the ocpp library passes them)
    and notes on what was skipped."""
    samples: list[MeterSample] = []
    notes: list[str] = []
    for entry in meter_values:
        fields: dict[str, Any] = {}
        current: list[float | None] = [None, None, None]
        for sampled in entry.get("sampled_value", ()):
            measurand = sampled.get("measurand", _DEFAULT_MEASURAND)
            if sampled.get("location") == "Inlet":
                continue
            value, problem = _value_w(sampled)
            if value is None:
                notes.append(f"{measurand}: {problem}")
                continue
            if measurand == "Power.Active.Import":
                if sampled.get("phase") in (None, "N"):
                    fields["power_w"] = value
                else:  # per-phase powers add up to the total
                    fields["power_w_phases"] = fields.get("power_w_phases", 0.0) + value
            elif measurand == _DEFAULT_MEASURAND:
                if sampled.get("phase") is None:
                    fields["energy_wh"] = value
            elif measurand == "Current.Import":
                current[_PHASES.get(sampled.get("phase") or "L1", 0)] = value
            elif measurand == "Current.Offered":
                fields["offered_current_a"] = value
            elif measurand == "SoC":
                fields["soc_percent"] = value
            else:
                notes.append(f"measurand {measurand!r} not used")
        phase_total = fields.pop("power_w_phases", None)
        if "power_w" not in fields and phase_total is not None:
            fields["power_w"] = phase_total
        if any(c is not None for c in current):
            fields["current_a"] = (current[0], current[1], current[2])
        samples.append(MeterSample(charger_id=charger_id, connector_id=connector_id, transaction_id=transaction_id,
                                   t_s=parse_time_s(entry.get("timestamp"), now_s), **fields))
    return samples, notes


def energy_register_wh(meter_values: Sequence[Mapping[str, Any]]) -> float | None:
    """The last energy register reading among ``meter_values`` (2.0.1 Started / Ended events)."""
    readings = [s.energy_wh for s in meter_samples("", 0, None, meter_values, 0.0)[0] if s.energy_wh is not None]
    return readings[-1] if readings else None
