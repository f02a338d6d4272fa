"""Yearly profiles: the shipped SimBench extracts and step-hold sampling by local time of year."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from sim.domain import Timebase
from sim.errors import DataError
from sim.scenario.profiles import (
    HOUSEHOLD_FILE,
    PV_FILE,
    Profile,
    household_profile,
    load_profile,
    pv_profile,
    seconds_of_year,
)

CET = timezone(timedelta(hours=1))
STEPS_366 = 366 * 96


def ramp(days: int = 366) -> Profile:
    """A profile whose value is its own step index: sampling returns the index it used."""
    return Profile(step_s=900, values=np.arange(days * 96, dtype=float), unit="index", name="ramp")


# ---------------------------------------------------------------- shipped data


def test_household_profile_is_normalised_and_documented() -> None:
    profile = household_profile()
    assert profile.values.size == STEPS_366 and profile.step_s == 900
    assert profile.unit == "p.u. of peak" and profile.values.max() == 1.0 and profile.values.min() >= 0.0
    assert 0.05 < profile.values.mean() < 0.5
    assert "simbench" in profile.source and "H0-A" in profile.source and "ODbL" in profile.source


def test_pv_profile_is_kw_per_kwp_and_dark_at_night() -> None:
    profile = pv_profile()
    assert profile.values.size == STEPS_366 and profile.unit == "kW per kWp"
    by_hour = profile.values.reshape(366, 24, 4).mean(axis=(0, 2))
    assert by_hour[:4].max() == 0.0 and by_hour[21:].max() == 0.0 and by_hour[10:14].min() > 0.1
    assert 0.3 < profile.values.max() <= 1.0
    full_load_hours = profile.values.sum() * 0.25
    assert 500 < full_load_hours < 1200
    summer = profile.values[172 * 96 : 173 * 96].sum()
    winter = profile.values[355 * 96 : 356 * 96].sum()
    assert summer > winter


def test_shipped_profiles_are_cached_and_read_only() -> None:
    assert household_profile() is household_profile() and pv_profile() is pv_profile()
    with pytest.raises(ValueError):
        household_profile().values[0] = 5.0


def test_shipped_files_carry_source_and_licence() -> None:
    for path in (HOUSEHOLD_FILE, PV_FILE):
        header = [
            line
            for line in gzip.decompress(path.read_bytes()).decode().splitlines()[:10]
            if line.startswith("#")
        ]
        text = "\n".join(header)
        assert "source: simbench" in text and "Open Database License" in text and "step_s: 900" in text
    readme = (HOUSEHOLD_FILE.parent / "README.md").read_text()
    assert "extract_profiles.py" in readme and "ODbL" in readme


# ---------------------------------------------------------------- sampling


def test_sample_step_holds_from_january_first() -> None:
    timebase = Timebase(datetime(2024, 1, 1, tzinfo=CET))
    t = np.array([0.0, 1.0, 899.9, 900.0, 3600.0, 86400.0 + 450.0])
    np.testing.assert_array_equal(ramp().sample(timebase, t), [0, 0, 0, 1, 4, 96])


def test_sample_uses_local_time_of_the_start_offset() -> None:
    # The same instant seen from UTC is the previous year's last step; from +01:00 it is the first.
    utc = Timebase(datetime(2023, 12, 31, 23, 0, tzinfo=UTC))
    cet = Timebase(datetime(2024, 1, 1, 0, 0, tzinfo=CET))
    assert ramp().sample(cet, [0.0])[0] == 0
    assert ramp().sample(utc, [0.0])[0] == 364 * 96 + 92  # 2023 has 365 days: Dec 31 23:00 = day 364


def test_sample_wraps_at_new_year_and_handles_leap_years() -> None:
    start = Timebase(datetime(2023, 12, 31, 23, 30, tzinfo=CET))
    np.testing.assert_array_equal(
        ramp().sample(start, [0.0, 900.0, 1800.0, 2700.0]), [364 * 96 + 94, 364 * 96 + 95, 0, 1]
    )
    march_first = {
        year: ramp().sample(Timebase(datetime(year, 3, 1, tzinfo=CET)), [0.0])[0] for year in (2023, 2024)
    }
    assert march_first == {2023: 59 * 96, 2024: 60 * 96}
    leap_end = Timebase(datetime(2024, 12, 31, 23, 45, tzinfo=CET))
    assert ramp().sample(leap_end, [0.0])[0] == STEPS_366 - 1
    assert ramp(365).sample(leap_end, [0.0])[0] == 95  # a 365-day profile wraps to its first day


def test_sample_scales_to_a_year_of_times() -> None:
    timebase = Timebase(datetime(2025, 6, 1, 12, 0, tzinfo=CET))
    t = np.arange(0.0, 400 * 86400.0, 900.0)
    values = household_profile().sample(timebase, t)
    assert values.shape == t.shape and np.all((values >= 0) & (values <= 1))
    seconds = seconds_of_year(timebase, t)
    assert seconds.min() >= 0 and seconds.max() < 366 * 86400


def test_profile_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        Profile(step_s=900, values=np.array([1.0, np.nan]), unit="x", name="bad")
    with pytest.raises(ValueError, match="step_s"):
        Profile(step_s=7, values=np.ones(4), unit="x", name="bad")
    source = np.ones(96)
    profile = Profile(step_s=900, values=source, unit="x", name="copy")
    source[0] = 2.0
    assert profile.values[0] == 1.0  # a private copy


# ---------------------------------------------------------------- malformed profile files


def write_profile(tmp_path: Path, body: str, header: str = "# unit: x\n# step_s: 86400\n") -> Path:
    path = tmp_path / "profile.csv"
    path.write_text(header + "time,value\n" + body)
    return path


def test_load_profile_reads_plain_csv(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "".join(f"d{i},{i / 10}\n" for i in range(365)))
    profile = load_profile(path)
    assert profile.values.size == 365 and profile.values[3] == 0.3 and profile.name == "profile.csv"


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        ("d0,1\nd1,oops\n" + "d,1\n" * 363, None, ["row 2, column 'value'", "'oops'"]),
        ("d0,1\nd1,nan\n" + "d,1\n" * 363, None, ["row 2, column 'value'", "not a finite number"]),
        ("d,1\n" * 10, None, ["10 steps of 86400 s", "at least 365 days"]),
        ("d,1\n" * 365, "# unit: x\n", ["header", "step_s"]),
        ("d,1\n" * 365, "# unit: x\n# step_s: fast\n", ["header 'step_s'", "'fast'"]),
    ],
)
def test_load_profile_errors_name_file_and_place(
    tmp_path: Path, body: str, header: str | None, expected: list[str]
) -> None:
    path = write_profile(tmp_path, body, header) if header else write_profile(tmp_path, body)
    with pytest.raises(DataError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_load_profile_missing_file_and_column(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read profile file"):
        load_profile(tmp_path / "nope.csv.gz")
    path = tmp_path / "p.csv"
    path.write_text("# unit: x\n# step_s: 900\ntime,p_kw\n0,1\n")
    with pytest.raises(DataError, match="no 'value' column"):
        load_profile(path)
