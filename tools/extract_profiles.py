"""Extract the shipped base-load and PV profiles from SimBench's own profile tables (run offline, once).

Usage::

    .venv/bin/python tools/extract_profiles.py [--out sim/data]

Writes ``household_h0_15min.csv.gz`` (household H0 profile, normalised to a peak of 1.0) and
``pv_15min.csv.gz`` (PV feed-in in kW per kWp) - one year at 15-minute steps, 6 significant
digits, with the source and licence in ``#`` header lines that ``sim.scenario.profiles`` reads.
The gzip stream carries no timestamp, so re-running the script reproduces the files byte for byte.

This is the only place in the scenario room that imports simbench; the package itself only reads
the CSV files.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import simbench as sb

SIMBENCH_CODE = "1-LV-rural1--0-sw"
HOUSEHOLD_COLUMN = "H0-A_pload"  # SimBench's standard household profile type A (active power)
PV_COLUMN = "PV5"  # a SimBench rooftop PV profile used by the LV rural grids
STEP_S = 900
LICENCE = (
    "SimBench data (c) University of Kassel, TU Dortmund, RWTH Aachen University and Fraunhofer IEE; "
    "database under the Open Database License (ODbL) 1.0, contents under the Database Contents "
    "License (DbCL) 1.0. This extract is a derivative database, offered under the same terms."
)


def _header(name: str, unit: str, column: str, note: str) -> list[str]:
    return [
        f"name: {name}",
        f"unit: {unit}",
        f"step_s: {STEP_S}",
        f"source: simbench {sb.__version__}, get_simbench_net('{SIMBENCH_CODE}').profiles, column '{column}'",
        f"note: {note}",
        f"licence: {LICENCE}",
        "time: local standard time of year 2016 (366 days, no daylight-saving shift), step start",
    ]


def _write(path: Path, header: list[str], times: list[str], values: np.ndarray) -> str:
    """Write a gzip CSV with ``#`` header lines and columns ``time,value``; return its sha256."""
    text = io.StringIO()
    for line in header:
        text.write(f"# {line}\n")
    text.write("time,value\n")
    for t, v in zip(times, values, strict=True):
        text.write(f"{t},{float(v):.6g}\n")
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    path.write_bytes(raw.getvalue())
    return hashlib.sha256(raw.getvalue()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "sim" / "data")
    args = parser.parse_args(argv)
    profiles = sb.get_simbench_net(SIMBENCH_CODE).profiles
    load, res = profiles["load"], profiles["renewables"]
    # SimBench writes "dd.mm.yyyy HH:MM"; re-write as ISO-like "2016-01-01T00:00" for readability.
    times = [f"{t[6:10]}-{t[3:5]}-{t[0:2]}T{t[11:16]}" for t in load["time"].astype(str)]
    if list(res["time"].astype(str)) != list(load["time"].astype(str)):
        raise SystemExit("load and renewables profiles have different time columns")

    household = load[HOUSEHOLD_COLUMN].to_numpy(dtype=float)
    household = np.clip(household, 0.0, None) / household.max()
    pv = np.clip(res[PV_COLUMN].to_numpy(dtype=float), 0.0, None)

    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "household_h0_15min.csv.gz": (
            _header(
                "household H0",
                "p.u. of peak",
                HOUSEHOLD_COLUMN,
                "active power, normalised to a peak of 1.0 (multiply by the load's rated power)",
            ),
            household,
        ),
        "pv_15min.csv.gz": (
            _header(
                "pv",
                "kW per kWp",
                PV_COLUMN,
                "feed-in per unit of installed power (SimBench: p.u. of the generator's rated power)",
            ),
            pv,
        ),
    }
    for file_name, (header, values) in outputs.items():
        digest = _write(args.out / file_name, header, times, values)
        print(
            f"{file_name}: {values.size} steps, max {values.max():.4g}, mean {values.mean():.4g}, "
            f"sha256 {digest}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
