"""The columnar recorder the engine writes into once per tick.

Columns are numpy arrays preallocated for ``n_steps`` rows, so ``record_step`` only copies a few
numbers (no per-step DataFrame or dict work); ``finish`` turns them into the ``Results`` frames
once, at the end of the run.

Row ``step`` holds the state of tick ``step``: ``t_s`` (seconds since the scenario start, the
start of the tick), the mean grid-side power of each charger over the tick, the base load and PV
power (both positive kW; PV is generation) and the load flow's ``GridState``, and the site's
view of the tick: ``site_base_load_kw`` (load minus generation at the site), ``price_per_kwh``
(the tariff at the tick start), ``site_limit_violation`` (whether the tick's mean charger currents
broke a site limit; a base load alone above the import limit counts too) and
``site_limit_max_use_percent`` (the most used limit, % of it; ``nan`` without limits). The metrics treat each row as one period of ``period_s`` seconds. Per-tick
extremes (``vm_min_pu``, the maximum loadings) ignore ``nan`` elements, which pandapower reports
for out-of-service buses.

An unbalanced load flow (``GridState.vm_phase_pu`` set) adds per-phase columns and tables
(``sim.results.phases``: what they are and what they cost in memory); then the timeseries'
``vm_max_pu`` is the highest *phase* voltage (``vm_min_pu`` already is: ``vm_pu`` is each bus's lowest
phase), the summary says ``per_phase_results = true`` and carries ``vuf_limit_percent`` (from
``meta``, default ``metrics.VUF_LIMIT_PERCENT``) and the unbalance KPIs. A balanced run records
exactly what it did before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from sim.domain import GridState, Timebase
from sim.results._json import to_jsonable
from sim.results.metrics import VM_BAND_PU, VUF_LIMIT_PERCENT, compute_kpis, compute_unbalance_kpis
from sim.results.phases import PhaseRecorder, PhaseTables
from sim.results.results import CHARGER_COLUMN_PREFIX, PER_PHASE_KEY, Results
from sim.results.tables import buses_frame, sessions_frame

RESERVED_SUMMARY_KEYS = ("kpis", "record_period_s", "n_steps_recorded", PER_PHASE_KEY)
"""Keys ``finish`` writes into the summary itself; ``meta`` must not carry them."""

def _adopt_or_copy(target: NDArray[np.float64], rows: slice, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``target`` with ``values`` in ``rows``; when ``values`` is a float64 C-contiguous array of the
    whole ``target``, it is taken over instead of copied (a block-solved year: 0.25 GB per table).
    The caller hands it over: the recorder never writes it again, nor should the caller."""
    if (rows.start == 0 and isinstance(values, np.ndarray) and values.shape == target.shape
            and values.dtype == np.float64 and values.flags.c_contiguous and values.flags.writeable):
        return values
    target[rows] = values
    return target


class BlockGrid(Protocol):
    """Load-flow results of many steps (``sim.grid.BlockResult`` is one): steps x elements arrays
    and one value per step for the flows."""

    vm_pu: NDArray[np.float64]
    line_loading_percent: NDArray[np.float64]
    trafo_loading_percent: NDArray[np.float64]
    p_import_kw: NDArray[np.float64]
    q_import_kvar: NDArray[np.float64]
    losses_kw: NDArray[np.float64]


_SCALAR_COLUMNS = ("base_load_kw", "pv_kw", "p_import_kw", "q_import_kvar", "losses_kw")
_SITE_COLUMNS = ("site_base_load_kw", "price_per_kwh", "site_limit_max_use_percent")


def _ids(name: str, ids: Sequence[Any]) -> tuple[str, ...]:
    """Element ids as strings (Parquet column names), refusing duplicates."""
    text = tuple(str(i) for i in ids)
    if len(set(text)) != len(text):
        dupes = sorted({t for t in text if text.count(t) > 1})
        raise ValueError(f"Recorder: {name} has duplicate ids {dupes}; each id names one column")
    return text


def _row_reduce(values: NDArray[np.float64], ufunc: np.ufunc, empty: float) -> NDArray[np.float64]:
    """Per-row max/min ignoring ``nan`` elements (e.g. out-of-service buses); ``empty`` without columns."""
    if values.shape[1] == 0:
        return np.full(values.shape[0], empty)
    return np.asarray(ufunc.reduce(values, axis=1), dtype=float)


class Recorder:
    """Preallocated columns for one run; the engine calls ``record_step`` then ``finish``.

    ``charger_ids``, ``bus_ids``, ``line_ids`` and ``trafo_ids`` fix the column order; every
    array passed to ``record_step`` (and every ``GridState`` array) must follow it.
    """

    def __init__(
        self,
        n_steps: int,
        period_s: float,
        timebase: Timebase,
        charger_ids: Sequence[Any],
        bus_ids: Sequence[Any],
        line_ids: Sequence[Any],
        trafo_ids: Sequence[Any],
    ) -> None:
        if int(n_steps) != n_steps or n_steps < 0:
            raise ValueError(f"Recorder: n_steps must be a whole number >= 0; got {n_steps!r}")
        if not (period_s > 0 and np.isfinite(period_s)):
            raise ValueError(f"Recorder: period_s must be a positive number of seconds; got {period_s!r}")
        self.n_steps = int(n_steps)
        self.period_s = float(period_s)
        self.timebase = timebase
        self.charger_ids = _ids("charger_ids", charger_ids)
        self.bus_ids = _ids("bus_ids", bus_ids)
        self.line_ids = _ids("line_ids", line_ids)
        self.trafo_ids = _ids("trafo_ids", trafo_ids)
        n = self.n_steps
        self._t_s = np.full(n, np.nan)
        self._charger_p_kw = np.full((n, len(self.charger_ids)), np.nan)
        self._scalars = {k: np.full(n, np.nan) for k in _SCALAR_COLUMNS + _SITE_COLUMNS}
        self._site_violation = np.zeros(n, dtype=bool)
        # Only recorded rows are ever read (``_n_rows``), so the wide arrays need no NaN fill: for a
        # year of the IEEE feeder that fill alone touched 0.5 GB (0.6 s).
        self._vm_pu = np.empty((n, len(self.bus_ids)))
        self._line_percent = np.empty((n, len(self.line_ids)))
        self._trafo_percent = np.empty((n, len(self.trafo_ids)))
        self._recorded = np.zeros(n, dtype=bool)
        self._phases: PhaseRecorder | None = None  # made at the first per-phase state (unbalanced runs only)

    def _phase_recorder(self) -> PhaseRecorder:
        """The per-phase buffers, made when the first per-phase state arrives (before any other row)."""
        if self._phases is None:
            if self.n_recorded:
                raise ValueError("Recorder: per-phase grid results arrived after steps without them; "
                                 "one run records either balanced or unbalanced load flows")
            self._phases = PhaseRecorder(self.n_steps, len(self.bus_ids), len(self.line_ids))
        return self._phases

    def _check_shape(self, name: str, values: NDArray[np.float64], expected: int) -> None:
        if values.shape != (expected,):
            raise ValueError(f"Recorder.record_step: {name} has shape {values.shape}; expected ({expected},)")

    def record_step(
        self,
        step: int,
        t_s: float,
        charger_p_kw: ArrayLike,
        base_load_kw: float,
        pv_kw: float,
        grid: GridState,
        *,
        site_base_load_kw: float = math.nan,
        price_per_kwh: float = math.nan,
        site_limit_violation: bool = False,
        site_limit_max_use_percent: float = math.nan,
    ) -> None:
        """Fill row ``step`` (0-based). Recording a step again overwrites it.

        The site values default to "unknown" (``nan``, no violation) for callers without a site.
        """
        if not 0 <= step < self.n_steps:
            raise IndexError(f"Recorder.record_step: step {step} outside 0..{self.n_steps - 1}")
        p_kw = np.asarray(charger_p_kw, dtype=float)
        self._check_shape("charger_p_kw", p_kw, len(self.charger_ids))
        self._check_shape("grid.vm_pu", grid.vm_pu, len(self.bus_ids))
        self._check_shape("grid.line_loading_percent", grid.line_loading_percent, len(self.line_ids))
        self._check_shape("grid.trafo_loading_percent", grid.trafo_loading_percent, len(self.trafo_ids))
        self._t_s[step] = t_s
        self._charger_p_kw[step] = p_kw
        scalars = self._scalars
        scalars["base_load_kw"][step] = base_load_kw
        scalars["pv_kw"][step] = pv_kw
        scalars["p_import_kw"][step] = grid.p_import_kw
        scalars["q_import_kvar"][step] = grid.q_import_kvar
        scalars["losses_kw"][step] = grid.losses_kw
        scalars["site_base_load_kw"][step] = site_base_load_kw
        scalars["price_per_kwh"][step] = price_per_kwh
        scalars["site_limit_max_use_percent"][step] = site_limit_max_use_percent
        self._site_violation[step] = bool(site_limit_violation)
        self._vm_pu[step] = grid.vm_pu
        self._line_percent[step] = grid.line_loading_percent
        self._trafo_percent[step] = grid.trafo_loading_percent
        if grid.vm_phase_pu is not None or self._phases is not None:
            self._phase_recorder().record_step(step, grid.vm_phase_pu, grid.vuf_percent, grid.vm0_pu,
                                               grid.line_i_phase_ka, grid.p_import_phase_kw)
        self._recorded[step] = True

    def record_block(
        self,
        start: int,
        t_s: ArrayLike,
        charger_p_kw: ArrayLike,
        base_load_kw: ArrayLike,
        pv_kw: ArrayLike,
        grid: BlockGrid,
        *,
        site_base_load_kw: ArrayLike,
        price_per_kwh: ArrayLike,
        site_limit_violation: ArrayLike,
        site_limit_max_use_percent: ArrayLike,
    ) -> None:
        """Fill rows ``start .. start + T - 1`` at once: what ``record_step`` does for each of T steps,
        with every argument an array over the steps (grid arrays: steps x elements; per-phase ones, when
        ``grid`` has ``vm_phase_pu``, as ``sim.results.phases.BlockPhases``)."""
        times = np.asarray(t_s, dtype=float).reshape(-1)
        stop = start + times.size
        if not (0 <= start and stop <= self.n_steps):
            raise IndexError(f"Recorder.record_block: steps {start}..{stop - 1} outside 0..{self.n_steps - 1}")
        n_t = times.size
        for name, values, width in (("charger_p_kw", charger_p_kw, len(self.charger_ids)),
                                    ("grid.vm_pu", grid.vm_pu, len(self.bus_ids)),
                                    ("grid.line_loading_percent", grid.line_loading_percent, len(self.line_ids)),
                                    ("grid.trafo_loading_percent", grid.trafo_loading_percent, len(self.trafo_ids))):
            shape = np.shape(values)
            if shape != (n_t, width):
                raise ValueError(f"Recorder.record_block: {name} has shape {shape}, expected ({n_t}, {width})")
        rows = slice(start, stop)
        self._t_s[rows] = times
        self._charger_p_kw[rows] = charger_p_kw
        scalars = self._scalars
        for key, values in (("base_load_kw", base_load_kw), ("pv_kw", pv_kw), ("p_import_kw", grid.p_import_kw),
                            ("q_import_kvar", grid.q_import_kvar), ("losses_kw", grid.losses_kw),
                            ("site_base_load_kw", site_base_load_kw), ("price_per_kwh", price_per_kwh),
                            ("site_limit_max_use_percent", site_limit_max_use_percent)):
            scalars[key][rows] = values
        self._site_violation[rows] = np.asarray(site_limit_violation, dtype=bool)
        self._vm_pu = _adopt_or_copy(self._vm_pu, rows, grid.vm_pu)
        self._line_percent = _adopt_or_copy(self._line_percent, rows, grid.line_loading_percent)
        self._trafo_percent = _adopt_or_copy(self._trafo_percent, rows, grid.trafo_loading_percent)
        if getattr(grid, "vm_phase_pu", None) is not None or self._phases is not None:
            self._phase_recorder().record_block(rows, grid)  # type: ignore[arg-type]
        self._recorded[rows] = True

    @property
    def n_recorded(self) -> int:
        """Rows filled so far (a run stopped early records a prefix of its steps)."""
        return int(np.count_nonzero(self._recorded))

    def _n_rows(self) -> int:
        """Number of leading rows recorded; a gap inside them is an engine bug."""
        n = self.n_recorded
        if not self._recorded[:n].all():
            gaps = np.flatnonzero(~self._recorded[:n])[:5].tolist()
            raise ValueError(f"Recorder.finish: steps {gaps} were never recorded but later steps were")
        return n

    def _time_index(self, n: int) -> pd.DatetimeIndex:
        stamps = self.timebase.to_datetime64(self._t_s[:n])
        return pd.DatetimeIndex(stamps, name="time").tz_localize("UTC")

    def _timeseries(self, n: int, times: pd.DatetimeIndex) -> pd.DataFrame:
        p_kw = self._charger_p_kw[:n]
        columns: dict[str, Any] = {
            "time": times,
            "t_s": self._t_s[:n],
            "charging_p_kw": p_kw.sum(axis=1),
        }
        columns.update({k: self._scalars[k][:n] for k in _SCALAR_COLUMNS})
        columns["vm_min_pu"] = _row_reduce(self._vm_pu[:n], np.fmin, np.nan)
        columns["vm_max_pu"] = _row_reduce(self._vm_pu[:n], np.fmax, np.nan)
        columns["max_line_loading_percent"] = _row_reduce(self._line_percent[:n], np.fmax, 0.0)
        columns["max_trafo_loading_percent"] = _row_reduce(self._trafo_percent[:n], np.fmax, 0.0)
        phase_columns = self._phases.timeseries_columns(n) if self._phases is not None else {}
        if phase_columns:
            columns["vm_max_pu"] = PhaseRecorder.vm_max_pu(phase_columns)
        columns["site_base_load_kw"] = self._scalars["site_base_load_kw"][:n]
        columns["price_per_kwh"] = self._scalars["price_per_kwh"][:n]
        columns["site_limit_violation"] = self._site_violation[:n]
        columns["site_limit_max_use_percent"] = self._scalars["site_limit_max_use_percent"][:n]
        columns.update(phase_columns)
        for j, charger_id in enumerate(self.charger_ids):
            columns[CHARGER_COLUMN_PREFIX + charger_id] = p_kw[:, j]
        return pd.DataFrame(columns)

    def _summary(
        self, meta: dict[str, Any], timeseries: pd.DataFrame, sessions: pd.DataFrame, n: int,
        phases: PhaseTables | None = None,
    ) -> dict[str, Any]:
        clash = [k for k in RESERVED_SUMMARY_KEYS if k in meta]
        if clash:
            raise ValueError(f"Recorder.finish: meta must not set {clash}; the recorder writes these keys")
        vm_band = tuple(float(v) for v in meta.get("vm_band_pu", VM_BAND_PU))
        if len(vm_band) != 2:
            raise ValueError(f"Recorder.finish: meta['vm_band_pu'] must be (low, high); got {vm_band!r}")
        summary = dict(meta)
        counts = {
            "n_chargers": len(self.charger_ids),
            "n_buses": len(self.bus_ids),
            "n_lines": len(self.line_ids),
            "n_trafos": len(self.trafo_ids),
        }
        for key, count in counts.items():
            if key in summary and summary[key] != count:
                raise ValueError(
                    f"Recorder.finish: meta[{key!r}] = {summary[key]!r} but {count} were recorded"
                )
        summary.update(counts)
        summary.update(
            record_period_s=self.period_s,
            n_steps_recorded=n,
            vm_band_pu=list(vm_band),
            kpis=compute_kpis(timeseries, sessions, self.period_s, (vm_band[0], vm_band[1])),
        )
        if phases is None:
            summary.pop("vuf_limit_percent", None)  # a balanced run has no unbalance to judge
        else:
            vuf_limit = float(meta.get("vuf_limit_percent", VUF_LIMIT_PERCENT))
            summary[PER_PHASE_KEY] = True
            summary["vuf_limit_percent"] = vuf_limit
            summary["kpis"].update(compute_unbalance_kpis(timeseries, phases.vuf_percent, self.period_s,
                                                          (vm_band[0], vm_band[1]), vuf_limit))
        return dict(to_jsonable(summary))

    def finish(self, sessions: pd.DataFrame | None, meta: Mapping[str, Any]) -> Results:
        """Build the ``Results`` of the run from the recorded rows and the engine's sessions.

        ``sessions`` has the columns ``SESSION_COLUMNS`` (``None`` means no sessions).
        ``meta`` goes into the summary as given (scenario name, scenario_hash, seed, version,
        core_backend, wall_time_s, strategy, start, ...), except ``meta["buses"]`` (a DataFrame
        or a list of records with ``bus_id``/``bus``, ``name``, ``distance_km``) which becomes
        the ``buses`` frame, ``meta["vm_band_pu"]`` (default (0.9, 1.1)) used by the KPIs and, in an
        unbalanced run, ``meta["vuf_limit_percent"]`` (default 2 %, EN 50160) for the unbalance KPIs.
        """
        meta = dict(meta)
        buses = buses_frame(meta.pop("buses", None), self.bus_ids)
        sessions_df = sessions_frame(sessions)
        n = self._n_rows()
        times = self._time_index(n)
        timeseries = self._timeseries(n, times)
        bus_ids, line_ids = list(self.bus_ids), list(self.line_ids)
        phases = self._phases.tables(n, times, bus_ids, line_ids) if self._phases is not None else None
        return Results(
            summary=self._summary(meta, timeseries, sessions_df, n, phases),
            timeseries=timeseries,
            sessions=sessions_df,
            bus_vm_pu=pd.DataFrame(self._vm_pu[:n], index=times, columns=list(self.bus_ids)),
            line_loading_percent=pd.DataFrame(
                self._line_percent[:n], index=times, columns=list(self.line_ids)
            ),
            buses=buses,
            phases=phases,
        )
