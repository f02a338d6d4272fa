"""Readers for recorded charging sessions: a plain CSV table and the Caltech ACN-Data JSON export.

Both readers return ``RawSession`` records (times still as aware datetimes, charger still the
file's key) and check everything that concerns one row or record. Checks across rows (duplicate
ids, charger assignment, overlaps) and the conversion to model time live in
``sim.scenario.sessions``. Every problem is a ``DataError`` naming the file, the row (1-based
data row, with the line) or record (1-based, with its JSON index), the column or field, the bad
value and what is valid.

Times: ISO 8601 with an offset (``2024-03-04T08:15:00+01:00``, ``...Z``); a time without an
offset is read in the scenario start's time zone. ACN-Data's RFC 1123 form
(``Wed, 25 Apr 2018 11:08:04 GMT``) is accepted in both formats.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from sim.errors import DataError

CSV_REQUIRED = ("session_id", "charger_id", "arrival", "departure", "energy_kwh")
CSV_OPTIONAL = ("max_power_kw", "battery_kwh", "soc_arrival")
ACN_REQUIRED = ("sessionID", "spaceID", "connectionTime", "disconnectTime", "kWhDelivered")
TIME_FORMATS = (
    "ISO 8601 such as '2024-03-04T08:15:00+01:00' (without an offset: the scenario start's zone) "
    "or RFC 1123 such as 'Wed, 25 Apr 2018 11:08:04 GMT'"
)


@dataclass(frozen=True)
class FieldNames:
    """What a format calls the columns/fields the cross-row checks talk about."""

    session_id: str
    charger: str
    arrival: str
    energy: str


CSV_FIELDS = FieldNames("session_id", "charger_id", "arrival", "energy_kwh")
ACN_FIELDS = FieldNames("sessionID", "spaceID", "connectionTime", "kWhDelivered")


@dataclass(frozen=True)
class RawSession:
    """One session as a file states it; ``where`` locates it (``row 3 (line 4)``, ``record 2 (_items[1])``).

    ``None`` for an optional value the file does not give.
    """

    where: str
    session_id: str
    charger_key: str
    arrival: datetime
    departure: datetime
    energy_kwh: float
    max_power_kw: float | None = None
    battery_kwh: float | None = None
    soc_arrival: float | None = None


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); unreadable or empty is a DataError."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(str(path), "", "session file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            str(path), "", f"cannot read session file ({exc})", expected="a UTF-8 text file"
        ) from None
    if not text.strip():
        raise DataError(str(path), "", "empty file: no sessions", expected="at least one session")
    return text


def parse_time(value: Any, zone: tzinfo, file: Path, where: str) -> datetime:
    """An aware datetime from ISO 8601 or RFC 1123 text; naive times get ``zone``."""
    when: datetime | None = None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                when = None
    if when is None:
        raise DataError(str(file), where, "not a date and time", value=value, expected=TIME_FORMATS)
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def parse_number(value: Any, file: Path, where: str, *, rule: str, text: bool = False) -> float:
    """A finite float that satisfies ``rule``: ``">=0"``, ``">0"`` or ``"0..1"``.

    ``text=True`` parses a string (CSV cells); otherwise (JSON) the value must be a number,
    not a string or a boolean.
    """
    expected = {">=0": "a number >= 0", ">0": "a number > 0", "0..1": "a number from 0 to 1"}[rule]
    number: float | None = None
    if isinstance(value, str) and text:
        try:
            number = float(value)
        except ValueError:
            number = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None:
        problem = "not a number"
    elif not math.isfinite(number):
        problem = "not a finite number"
    elif (
        (rule == ">=0" and number < 0)
        or (rule == ">0" and number <= 0)
        or (rule == "0..1" and not 0 <= number <= 1)
    ):
        problem = "out of range"
    else:
        return number
    raise DataError(str(file), where, problem, value=value, expected=expected)


def _check_order(arrival: datetime, departure: datetime, file: Path, where: str, value: Any) -> None:
    if departure <= arrival:
        raise DataError(
            str(file),
            where,
            "departure is not after arrival",
            value=value,
            expected=f"a time after the arrival {arrival.isoformat()}",
        )


# ---------------------------------------------------------------- CSV


def read_sessions_csv(path: Path, zone: tzinfo) -> list[RawSession]:
    """Sessions from a CSV table with columns ``CSV_REQUIRED`` and optionally ``CSV_OPTIONAL``."""
    reader = csv.reader(io.StringIO(read_text(path)))
    try:
        header = [name.strip() for name in next(reader)]
        columns = _csv_columns(header, path)
        records: list[RawSession] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line is not a session
            where = f"row {len(records) + 1} (line {reader.line_num})"
            if len(cells) != len(header):
                raise DataError(
                    str(path),
                    where,
                    f"row has {len(cells)} fields",
                    value=cells,
                    expected=f"{len(header)} fields like the header",
                )
            row = {name: cells[i].strip() for name, i in columns.items()}
            records.append(_csv_record(row, path, where, zone))
    except csv.Error as exc:
        raise DataError(str(path), f"line {reader.line_num}", f"malformed CSV ({exc})") from None
    if not records:
        raise DataError(str(path), "", "no data rows after the header", expected="at least one session")
    return records


def _csv_columns(header: list[str], path: Path) -> dict[str, int]:
    allowed = CSV_REQUIRED + CSV_OPTIONAL
    allowed_text = ", ".join(CSV_REQUIRED) + " (required); " + ", ".join(CSV_OPTIONAL) + " (optional)"
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            raise DataError(
                str(path),
                f"header, column {i + 1}",
                "column named twice",
                value=name,
                expected="each column once",
            )
        seen[name] = i
    unknown = [n for n in header if n not in allowed]
    if unknown:
        raise DataError(
            str(path),
            "header",
            f"unknown column(s) {', '.join(repr(n) for n in unknown)}",
            value=header,
            expected=f"only the columns {allowed_text}",
        )
    missing = [n for n in CSV_REQUIRED if n not in seen]
    if missing:
        raise DataError(
            str(path),
            "header",
            f"missing column(s) {', '.join(repr(n) for n in missing)}",
            value=header,
            expected=f"the columns {allowed_text}",
        )
    return seen


def _csv_record(row: dict[str, str], path: Path, where: str, zone: tzinfo) -> RawSession:
    for name in CSV_REQUIRED:
        if not row[name]:
            raise DataError(
                str(path),
                f"{where}, column '{name}'",
                "empty cell",
                value=row[name],
                expected="a value (this column is required)",
            )

    def col(name: str) -> str:
        return f"{where}, column '{name}'"

    arrival = parse_time(row["arrival"], zone, path, col("arrival"))
    departure = parse_time(row["departure"], zone, path, col("departure"))
    _check_order(arrival, departure, path, col("departure"), row["departure"])
    optional = {
        name: parse_number(
            row[name], path, col(name), rule="0..1" if name == "soc_arrival" else ">0", text=True
        )
        for name in CSV_OPTIONAL
        if row.get(name)
    }
    return RawSession(
        where=where,
        session_id=row["session_id"],
        charger_key=row["charger_id"],
        arrival=arrival,
        departure=departure,
        energy_kwh=parse_number(row["energy_kwh"], path, col("energy_kwh"), rule=">=0", text=True),
        **optional,
    )


# ---------------------------------------------------------------- ACN-Data JSON


def read_sessions_acn(path: Path, zone: tzinfo) -> list[RawSession]:
    """Sessions from an ACN-Data export: ``{"_items": [...]}`` (with ``_meta``) or a bare list of records."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(
            str(path), f"line {exc.lineno}, column {exc.colno}", f"malformed JSON: {exc.msg}"
        ) from None
    shape = 'a list of session records or an object with an "_items" list (the ACN-Data export)'
    if isinstance(data, dict) and "_items" in data:
        items, prefix = data["_items"], "_items"
        if not isinstance(items, list):
            raise DataError(
                str(path), "field '_items'", "not a list", value=type(items).__name__, expected=shape
            )
    elif isinstance(data, list):
        items, prefix = data, ""
    else:
        got = f"object with keys {sorted(data)[:6]}" if isinstance(data, dict) else type(data).__name__
        raise DataError(str(path), "top level", "wrong JSON shape", value=got, expected=shape)
    if not items:
        raise DataError(
            str(path), prefix or "top level", "no session records", expected="at least one session"
        )
    return [_acn_record(rec, path, f"record {i + 1} ({prefix}[{i}])", zone) for i, rec in enumerate(items)]


def _acn_text(rec: dict[str, Any], name: str, path: Path, where: str) -> str:
    value = rec[name]
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise DataError(
            str(path),
            f"{where}, field '{name}'",
            "not an identifier",
            value=value,
            expected="a non-empty string",
        )
    return str(value).strip()


def _acn_record(rec: Any, path: Path, where: str, zone: tzinfo) -> RawSession:
    if not isinstance(rec, dict):
        raise DataError(
            str(path),
            where,
            "not a JSON object",
            value=rec,
            expected="an object with fields " + ", ".join(ACN_REQUIRED),
        )
    missing = [name for name in ACN_REQUIRED if name not in rec]
    if missing:
        raise DataError(
            str(path),
            where,
            f"missing field(s) {', '.join(repr(n) for n in missing)}",
            expected="the fields " + ", ".join(ACN_REQUIRED),
        )

    def fld(name: str) -> str:
        return f"{where}, field '{name}'"

    arrival = parse_time(rec["connectionTime"], zone, path, fld("connectionTime"))
    departure = parse_time(rec["disconnectTime"], zone, path, fld("disconnectTime"))
    _check_order(arrival, departure, path, fld("disconnectTime"), rec["disconnectTime"])
    delivered = parse_number(rec["kWhDelivered"], path, fld("kWhDelivered"), rule=">=0")
    return RawSession(
        where=where,
        session_id=_acn_text(rec, "sessionID", path, where),
        charger_key=_acn_text(rec, "spaceID", path, where),
        arrival=arrival,
        departure=departure,
        energy_kwh=_acn_requested(rec.get("userInputs"), delivered, path, where),
    )


def _acn_requested(inputs: Any, delivered: float, path: Path, where: str) -> float:
    """The last user input's ``kWhRequested`` when there is one, else the energy delivered."""
    if inputs is None or inputs == []:
        return delivered
    if not isinstance(inputs, list) or not isinstance(inputs[-1], dict):
        raise DataError(
            str(path),
            f"{where}, field 'userInputs'",
            "not a list of objects",
            value=inputs,
            expected="null or a list of user-input objects",
        )
    requested = inputs[-1].get("kWhRequested")
    if requested is None:
        return delivered
    name = f"{where}, field 'userInputs[{len(inputs) - 1}].kWhRequested'"
    return parse_number(requested, path, name, rule=">=0")
