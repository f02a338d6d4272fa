"""Yearly base-load and PV profiles, sampled at model times.

A ``Profile`` holds one year of values at a fixed step from January 1, 00:00 local time.
``Profile.sample`` turns model times (seconds since the scenario start) into profile values by the
local time of year, holding each step's value until the next (step-hold), and wrapping at the end
of each calendar year so a simulation may start on any date of any year and cross New Year.

Local time uses the *fixed* UTC offset of the scenario start (as ``Timebase`` does); the shipped
SimBench profiles carry no daylight-saving shift either, so the two match.

The two shipped profiles (``household_profile()``, ``pv_profile()``) are read from
``sim/data/*.csv.gz`` on first use and cached per process; their arrays are read-only.
``tools/extract_profiles.py`` made them; ``sim/data/README.md`` gives source and licence.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from sim.domain.timebase import Timebase
from sim.errors import DataError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
HOUSEHOLD_FILE = DATA_DIR / "household_h0_15min.csv.gz"
PV_FILE = DATA_DIR / "pv_15min.csv.gz"
_DAY_S = 86400
_MIN_DAYS = 365  # a profile must cover at least a common year


@dataclass(frozen=True, eq=False)
class Profile:
    """One year of values at ``step_s`` steps from January 1, 00:00 local time.

    ``unit`` is e.g. ``"p.u. of peak"`` (household) or ``"kW per kWp"`` (PV). 366 days of values
    serve leap years fully and common years use the first 365; a 365-day profile wraps to its
    first day on December 31 of a leap year.
    """

    step_s: float
    values: NDArray[np.float64]
    unit: str
    name: str
    source: str = ""

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=float)  # a private copy we may freeze
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"profile {self.name!r}: values must be a non-empty 1-D array")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"profile {self.name!r}: values must be finite")
        if not (self.step_s > 0 and _DAY_S % self.step_s == 0):
            raise ValueError(f"profile {self.name!r}: step_s must divide a day, got {self.step_s!r}")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    @property
    def days(self) -> float:
        return self.values.size * self.step_s / _DAY_S

    def sample(self, timebase: Timebase, t_s: ArrayLike) -> NDArray[np.float64]:
        """Step-hold profile value at each model time ``t_s`` (seconds since ``timebase.start``)."""
        index = (seconds_of_year(timebase, t_s) // self.step_s).astype(np.int64) % self.values.size
        return self.values[index]


def seconds_of_year(timebase: Timebase, t_s: ArrayLike) -> NDArray[np.float64]:
    """Seconds since January 1, 00:00 local time (fixed start offset) of the year each ``t_s`` falls in."""
    t = np.asarray(t_s, dtype=float)
    offset = timebase.start.utcoffset()
    offset_ms = int(offset.total_seconds() * 1000) if offset is not None else 0
    # Local wall-clock instants as naive datetime64[ms]; the year boundary follows from them.
    local = timebase.to_datetime64(t) + np.timedelta64(offset_ms, "ms")
    year_start = local.astype("datetime64[Y]").astype("datetime64[ms]")
    return (local - year_start).astype(np.int64) / 1000.0


def load_profile(path: str | Path) -> Profile:
    """Read a profile CSV (optionally gzip): ``# key: value`` header lines, then columns ``time,value``.

    Header keys used: ``name``, ``unit``, ``step_s`` (required), ``source``, ``licence``.
    Raises ``DataError`` naming the file and the line or row for anything malformed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode("utf-8") if path.suffix == ".gz" else raw.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(str(path), "", f"cannot read profile file ({exc})") from None
    meta = _header(text)
    if "step_s" not in meta or "unit" not in meta:
        raise DataError(
            str(path),
            "header",
            "missing '# step_s: ...' or '# unit: ...' line",
            expected="'# key: value' lines for name, unit, step_s before the column header",
        )
    try:
        step_s = float(meta["step_s"])
    except ValueError:
        raise DataError(str(path), "header 'step_s'", "not a number", value=meta["step_s"]) from None
    values = _values(path, text)
    if not (step_s > 0 and _DAY_S % step_s == 0) or values.size * step_s < _MIN_DAYS * _DAY_S:
        raise DataError(
            str(path),
            "",
            f"profile covers {values.size} steps of {step_s:g} s",
            expected=f"a step dividing a day and at least {_MIN_DAYS} days of values",
        )
    source = meta.get("source", "")
    if "licence" in meta:
        source = f"{source}; licence: {meta['licence']}" if source else meta["licence"]
    return Profile(
        step_s=step_s, values=values, unit=meta["unit"], name=meta.get("name", path.name), source=source
    )


def _header(text: str) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a profile file."""
    meta: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def _values(path: Path, text: str) -> NDArray[np.float64]:
    """The ``value`` column as floats; a missing column or a non-numeric/NaN cell is a DataError."""
    try:
        frame = pd.read_csv(io.StringIO(text), comment="#", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(str(path), "", f"not a CSV table ({exc})") from None
    if "value" not in frame.columns:
        raise DataError(
            str(path),
            "column header",
            "no 'value' column",
            value=list(frame.columns),
            expected="columns time,value",
        )
    numbers = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            str(path),
            f"row {row + 1}, column 'value'",
            "not a finite number",
            value=frame["value"].iloc[row],
            expected="a number",
        )
    return numbers


@cache
def household_profile() -> Profile:
    """The shipped household H0 profile (SimBench H0-A), normalised to a peak of 1.0 (p.u. of peak)."""
    return load_profile(HOUSEHOLD_FILE)


@cache
def pv_profile() -> Profile:
    """The shipped PV profile (SimBench PV5), in kW per kWp installed."""
    return load_profile(PV_FILE)
