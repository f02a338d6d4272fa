"""The results of one run (``Results``) and its on-disk form (a directory of Parquet + JSON).

A results directory holds exactly these files, each readable without feedertwin:

=============================  ==========================================================
``summary.json``               meta data of the run and ``"kpis"`` (strict JSON, NaN -> null)
``timeseries.parquet``         one row per recorded tick: ``TIMESERIES_COLUMNS`` then one
                               ``p_kw:<charger_id>`` column per charger
``sessions.parquet``           one row per session: ``SESSION_COLUMNS`` (+ any extra columns)
``bus_vm_pu.parquet``          index ``time`` (UTC), one column per bus id (as str), p.u.
``line_loading_percent.parquet``  index ``time`` (UTC), one column per line id (as str), %
``buses.parquet``              ``BUS_COLUMNS``: bus id (str), name, distance from the
                               transformer in km (``nan`` when unknown)
=============================  ==========================================================

An unbalanced run (``summary["per_phase_results"]`` true) adds the per-phase tables
(``Results.phases``, files ``sim.results.phases.PHASE_FILES``: ``bus_vm_a_pu.parquet`` ..., laid out
like ``bus_vm_pu.parquet``) and per-phase timeseries columns; see ``sim.results.phases``.

The report, notebooks and sweeps read results only through ``load_results``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import ResultsError
from sim.results._json import to_jsonable
from sim.results._parquet import write_frame, write_wide
from sim.results.phases import PHASE_FILES, PhaseTables, phase_file

TIMESERIES_COLUMNS = (
    "time",
    "t_s",
    "charging_p_kw",
    "base_load_kw",
    "pv_kw",
    "p_import_kw",
    "q_import_kvar",
    "losses_kw",
    "vm_min_pu",
    "vm_max_pu",
    "max_line_loading_percent",
    "max_trafo_loading_percent",
    "site_base_load_kw",
    "price_per_kwh",
    "site_limit_violation",
    "site_limit_max_use_percent",
)
CHARGER_COLUMN_PREFIX = "p_kw:"
SESSION_COLUMNS = (
    "session_id",
    "charger_id",
    "bus",
    "arrival",
    "departure",
    "energy_requested_kwh",
    "energy_delivered_kwh",
    "max_power_kw",
)
BUS_COLUMNS = ("bus_id", "name", "distance_km")

SUMMARY_FILE = "summary.json"
TIMESERIES_FILE = "timeseries.parquet"
SESSIONS_FILE = "sessions.parquet"
BUS_VM_FILE = "bus_vm_pu.parquet"
LINE_LOADING_FILE = "line_loading_percent.parquet"
BUSES_FILE = "buses.parquet"
RESULT_FILES = (SUMMARY_FILE, TIMESERIES_FILE, SESSIONS_FILE, BUS_VM_FILE, LINE_LOADING_FILE, BUSES_FILE)
PER_PHASE_KEY = "per_phase_results"
"""Summary key, true in a run with per-phase results (``Results.phases``); absent otherwise."""


@dataclass(frozen=True, eq=False)
class Results:
    """Everything one run produced, as frames (see the module docstring for their layout).

    ``summary`` is JSON-ready (undefined numbers are ``None``) so that a saved and re-loaded
    ``Results`` is equal to the original; compare two instances with ``equals``. ``phases``: the
    per-phase tables of an unbalanced run (``None`` in a balanced one); ``summary[PER_PHASE_KEY]`` is
    true exactly when they are there.
    """

    summary: dict[str, Any]
    timeseries: pd.DataFrame
    sessions: pd.DataFrame
    bus_vm_pu: pd.DataFrame
    line_loading_percent: pd.DataFrame
    buses: pd.DataFrame
    phases: PhaseTables | None = None

    def __post_init__(self) -> None:
        if bool(self.summary.get(PER_PHASE_KEY, False)) != (self.phases is not None):
            raise ValueError(f"Results: summary[{PER_PHASE_KEY!r}] is {self.summary.get(PER_PHASE_KEY)!r} but phases "
                             f"is {'set' if self.phases is not None else 'None'}; the flag says whether the run "
                             "has per-phase tables")

    @property
    def kpis(self) -> dict[str, Any]:
        """The KPI block of the summary (``None`` where undefined, e.g. no buses)."""
        return dict(self.summary.get("kpis", {}))

    @property
    def period_s(self) -> float:
        """Seconds per timeseries row (the recording period)."""
        return float(self.summary["record_period_s"])

    @property
    def charger_ids(self) -> tuple[str, ...]:
        """Charger ids in column order of the ``p_kw:<id>`` columns."""
        n = len(CHARGER_COLUMN_PREFIX)
        return tuple(c[n:] for c in self.timeseries.columns if c.startswith(CHARGER_COLUMN_PREFIX))

    def equals(self, other: Results) -> bool:
        """True when the summaries are equal and every frame ``DataFrame.equals`` its twin."""
        if self.summary != other.summary:
            return False
        if not all(getattr(self, name).equals(getattr(other, name)) for name in _FRAME_NAMES):
            return False
        if self.phases is None or other.phases is None:
            return self.phases is other.phases
        return self.phases.equals(other.phases)

    def save(self, out_dir: str | Path) -> Path:
        """Write the results directory ``out_dir`` (created if needed); returns its path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        text = json.dumps(to_jsonable(self.summary), indent=2, sort_keys=True, allow_nan=False)
        (out / SUMMARY_FILE).write_text(text + "\n", encoding="utf-8")
        # Float columns gain nothing from dictionary encoding, and trying it costs 3x the write time.
        # The two wide tables have their own writer (why: sim/results/_parquet.py).
        write_frame(self.timeseries, out / TIMESERIES_FILE, index=False, use_dictionary=False)
        write_frame(self.sessions, out / SESSIONS_FILE, index=False)
        write_wide(self.bus_vm_pu, out / BUS_VM_FILE)
        write_wide(self.line_loading_percent, out / LINE_LOADING_FILE)
        write_frame(self.buses, out / BUSES_FILE, index=False)
        if self.phases is not None:
            for name, frame in self.phases.items():
                write_wide(frame, out / phase_file(name))
        else:  # a balanced run written over an unbalanced one's directory leaves no stale phase tables
            for file in PHASE_FILES:
                (out / file).unlink(missing_ok=True)
        return out


_FRAME_NAMES = ("timeseries", "sessions", "bus_vm_pu", "line_loading_percent", "buses")


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read the run summary: {exc}") from exc
    if not isinstance(summary, dict):
        raise ResultsError(f"{path}: expected a JSON object at the top level; got {type(summary).__name__}")
    if "record_period_s" not in summary:
        raise ResultsError(
            f"{path}: key 'record_period_s' is missing; it gives the seconds per timeseries row"
        )
    return summary


def _read_frame(path: Path, needed: tuple[str, ...] = ()) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise ResultsError(f"{path}: cannot read as Parquet: {exc}") from exc
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {missing}; expected at least {list(needed)}")
    return frame


def load_results(directory: str | Path) -> Results:
    """Read a results directory written by ``Results.save``.

    Raises ``ResultsError`` naming the directory or the missing / unreadable file.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ResultsError(f"{root}: not a results directory (it does not exist or is a file)")
    missing = [name for name in RESULT_FILES if not (root / name).is_file()]
    if missing:
        raise ResultsError(
            f"{root}: missing file(s) {', '.join(missing)}; a results directory holds {', '.join(RESULT_FILES)}"
        )
    summary = _read_summary(root / SUMMARY_FILE)
    phases = None
    if summary.get(PER_PHASE_KEY):
        missing = [file for file in PHASE_FILES if not (root / file).is_file()]
        if missing:
            raise ResultsError(f"{root}: missing per-phase file(s) {', '.join(missing)}; the summary says "
                               f"{PER_PHASE_KEY} = true")
        phases = PhaseTables(*(_read_frame(root / file) for file in PHASE_FILES))
    return Results(
        summary=summary,
        timeseries=_read_frame(root / TIMESERIES_FILE, TIMESERIES_COLUMNS),
        sessions=_read_frame(root / SESSIONS_FILE, SESSION_COLUMNS),
        bus_vm_pu=_read_frame(root / BUS_VM_FILE),
        line_loading_percent=_read_frame(root / LINE_LOADING_FILE),
        buses=_read_frame(root / BUSES_FILE, BUS_COLUMNS),
        phases=phases,
    )
