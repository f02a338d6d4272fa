"""Per-phase results of an unbalanced (three-phase) run: the tables and the recorder's buffers.

An unbalanced load flow (``[grid] loadflow = "unbalanced"``) gives per phase a, b, c (= L1, L2, L3)
what the balanced one gives per bus or line (``GridState.vm_phase_pu`` and friends). A run's
``Results.phases`` holds them as ``PhaseTables``: eight time x elements frames laid out exactly like
``bus_vm_pu`` (index ``time`` in UTC, one column per element id as a string), one Parquet file each:

=====================  ==========================  ==================================================
field                  file                        what
=====================  ==========================  ==================================================
``vm_a_pu`` .. ``c``   ``bus_vm_a_pu.parquet`` ..  phase-to-neutral voltage magnitude of each bus, p.u.
``vuf_percent``        ``bus_vuf_percent.parquet``  voltage unbalance factor |V2| / |V1| x 100 per bus
``vm0_pu``             ``bus_vm0_pu.parquet``       zero-sequence voltage magnitude |V0| per bus, p.u.
``line_i_a_ka`` .. c   ``line_i_a_ka.parquet`` ..   line current per phase (larger of both ends), kA
=====================  ==========================  ==================================================

Three frames per phase rather than one frame with a (bus, phase) column level: each reads like
``bus_vm_pu`` (``results.phases.vm_b_pu["34"]`` is bus 34's phase-b voltage), is written by the same
fast wide-table writer and loads without feedertwin. ``bus_vm_pu`` itself stays the lowest phase of each
bus (what ``GridState.vm_pu`` is in this mode), so every check of ``bus_vm_pu`` keeps working.

The timeseries of an unbalanced run gains per tick: ``vm_min_a_pu`` .. ``vm_min_c_pu`` and
``vm_max_a_pu`` .. ``vm_max_c_pu`` (extremes over buses, per phase), ``vuf_max_percent`` (largest over
buses) and ``p_import_a_kw`` .. ``p_import_c_kw`` (import per phase); ``PHASE_TIMESERIES_COLUMNS``.

**Memory.** A balanced run allocates nothing here. An unbalanced run keeps, per tick, 5 values per bus
and 3 per line: a year at 15 minutes of the IEEE European LV feeder (35,040 ticks x 907 buses / 905
lines, 0.25 GB per float64 table) is 8 tables, about 2.0 GB, on top of ``bus_vm_pu`` and the line
loadings. With a block solver (the deferred load flow) the recorder *adopts* the solver's own arrays
(``UnbalancedBlockResult``: steps x elements x phases, C-contiguous) instead of copying them, and the
per-phase frames are views of them, so recording costs no memory beyond what the solve produced;
writing makes one column-major copy of one table at a time (0.25 GB). There is no downsampling: the
recorder keeps every tick (``record_period_s`` = the control period), as it does for ``bus_vm_pu``.
Measured once on that year (``scenarios/unbalanced_ieee_lv.toml`` at 365 days, 2-core machine): peak
RSS 3.3 GB (balanced: 1.1 GB), ``finish`` 1.0 s (0.1 s), ``Results.save`` 5-9 s for 2.55 GB
(1.6 s, 0.51 GB), ``load_results`` 7 s (2 s).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

F64 = NDArray[np.float64]
PHASES = ("a", "b", "c")
"""Phase names in column order of every per-phase array (a, b, c = L1, L2, L3)."""

PHASE_TIMESERIES_COLUMNS = (
    *(f"vm_min_{ph}_pu" for ph in PHASES),
    *(f"vm_max_{ph}_pu" for ph in PHASES),
    "vuf_max_percent",
    *(f"p_import_{ph}_kw" for ph in PHASES),
)
"""Per-tick columns an unbalanced run adds to the timeseries (after ``TIMESERIES_COLUMNS``)."""


@dataclass(frozen=True, eq=False)
class PhaseTables:
    """The per-phase time x elements frames of one unbalanced run (see the module docstring)."""

    vm_a_pu: pd.DataFrame
    vm_b_pu: pd.DataFrame
    vm_c_pu: pd.DataFrame
    vuf_percent: pd.DataFrame
    vm0_pu: pd.DataFrame
    line_i_a_ka: pd.DataFrame
    line_i_b_ka: pd.DataFrame
    line_i_c_ka: pd.DataFrame

    def vm_phase_pu(self, phase: str) -> pd.DataFrame:
        """The bus voltages of ``phase`` (``"a"``, ``"b"`` or ``"c"``)."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}; got {phase!r}")
        frame: pd.DataFrame = getattr(self, f"vm_{phase}_pu")
        return frame

    def vm_high_pu(self) -> pd.DataFrame:
        """Per tick and bus the highest phase voltage (what an overvoltage check must see)."""
        high = np.fmax(np.fmax(self.vm_a_pu.to_numpy(), self.vm_b_pu.to_numpy()), self.vm_c_pu.to_numpy())
        return pd.DataFrame(high, index=self.vm_a_pu.index, columns=self.vm_a_pu.columns)

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        """(field name, frame) in file order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    def equals(self, other: PhaseTables) -> bool:
        return all(frame.equals(getattr(other, name)) for name, frame in self.items())


def phase_file(name: str) -> str:
    """The Parquet file of a ``PhaseTables`` field: bus tables are named ``bus_<field>``."""
    return f"{name}.parquet" if name.startswith("line_") else f"bus_{name}.parquet"


PHASE_FILES = tuple(phase_file(f.name) for f in fields(PhaseTables))
"""The files an unbalanced run adds to its results directory."""


class BlockPhases(Protocol):
    """The per-phase arrays of a block of load-flow steps (``sim.grid.unbalanced.UnbalancedBlockResult``)."""

    vm_phase_pu: F64  # (T, n_bus, 3)
    vuf_percent: F64  # (T, n_bus)
    vm0_pu: F64  # (T, n_bus)
    line_i_phase_ka: F64  # (T, n_line, 3)
    p_import_phase_kw: F64  # (T, 3)


def _adopt_or_copy(target: F64, rows: slice, values: Any) -> F64:
    """``target`` with ``values`` in ``rows``; a float64 C-contiguous writable array of the whole
    ``target`` is taken over instead of copied (the caller hands it over and never writes it again)."""
    if (rows.start == 0 and isinstance(values, np.ndarray) and values.shape == target.shape
            and values.dtype == np.float64 and values.flags.c_contiguous and values.flags.writeable):
        return values
    target[rows] = values
    return target


def _row_extreme(values: F64, ufunc: np.ufunc) -> F64:
    """Per row of a (T, n) array the max/min ignoring ``nan`` (all-``nan`` or empty rows: ``nan``)."""
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    return np.asarray(ufunc.reduce(values, axis=1), dtype=float)


class PhaseRecorder:
    """Preallocated per-phase arrays of one run (made by ``Recorder`` at the first per-phase state)."""

    def __init__(self, n_steps: int, n_bus: int, n_line: int) -> None:
        # Only recorded rows are read, so no NaN fill (np.empty costs nothing until written).
        self.vm_phase = np.empty((n_steps, n_bus, 3))
        self.vuf = np.empty((n_steps, n_bus))
        self.vm0 = np.empty((n_steps, n_bus))
        self.line_i = np.empty((n_steps, n_line, 3))
        self.p_import = np.empty((n_steps, 3))

    def record_step(self, step: int, vm_phase_pu: F64 | None, vuf_percent: F64 | None, vm0_pu: F64 | None,
                    line_i_phase_ka: F64 | None, p_import_phase_kw: F64 | None) -> None:
        """Row ``step`` from one ``GridState``'s per-phase fields (a missing one is a clear error)."""
        named = {"vm_phase_pu": vm_phase_pu, "vuf_percent": vuf_percent, "vm0_pu": vm0_pu,
                 "line_i_phase_ka": line_i_phase_ka, "p_import_phase_kw": p_import_phase_kw}
        self._check({k: None if v is None else np.shape(v) for k, v in named.items()}, None)
        self.vm_phase[step] = vm_phase_pu
        self.vuf[step] = vuf_percent
        self.vm0[step] = vm0_pu
        self.line_i[step] = line_i_phase_ka
        self.p_import[step] = p_import_phase_kw

    def record_block(self, rows: slice, grid: BlockPhases) -> None:
        """Rows ``rows`` from a block result, adopting its arrays when they cover the whole run."""
        names = ("vm_phase_pu", "vuf_percent", "vm0_pu", "line_i_phase_ka", "p_import_phase_kw")
        self._check({k: None if getattr(grid, k, None) is None else np.shape(getattr(grid, k)) for k in names},
                    rows.stop - rows.start)
        self.vm_phase = _adopt_or_copy(self.vm_phase, rows, grid.vm_phase_pu)
        self.vuf = _adopt_or_copy(self.vuf, rows, grid.vuf_percent)
        self.vm0 = _adopt_or_copy(self.vm0, rows, grid.vm0_pu)
        self.line_i = _adopt_or_copy(self.line_i, rows, grid.line_i_phase_ka)
        self.p_import[rows] = grid.p_import_phase_kw

    def _check(self, shapes: dict[str, tuple[int, ...] | None], n_t: int | None) -> None:
        """Every per-phase field present with the recorder's element counts (and ``n_t`` steps)."""
        lead = () if n_t is None else (n_t,)
        expected = {"vm_phase_pu": self.vm_phase.shape[1:], "vuf_percent": self.vuf.shape[1:],
                    "vm0_pu": self.vm0.shape[1:], "line_i_phase_ka": self.line_i.shape[1:],
                    "p_import_phase_kw": (3,)}
        for name, shape in shapes.items():
            want = lead + expected[name]
            if shape != want:
                got = "missing" if shape is None else f"shape {shape}"
                raise ValueError(f"Recorder: the per-phase grid field {name} is {got}; expected shape {want} "
                                 "(an unbalanced load flow gives every per-phase field at every step)")

    def timeseries_columns(self, n: int) -> dict[str, F64]:
        """The per-tick columns ``PHASE_TIMESERIES_COLUMNS`` of the first ``n`` rows."""
        # Reducing each phase's strided (T, buses) view: 0.85 s for the six extremes of a year of the
        # IEEE feeder; one reduce over the middle axis of the (T, buses, 3) array took 3.3 s.
        columns: dict[str, F64] = {}
        for j, ph in enumerate(PHASES):
            columns[f"vm_min_{ph}_pu"] = _row_extreme(self.vm_phase[:n, :, j], np.fmin)
        for j, ph in enumerate(PHASES):
            columns[f"vm_max_{ph}_pu"] = _row_extreme(self.vm_phase[:n, :, j], np.fmax)
        columns["vuf_max_percent"] = _row_extreme(self.vuf[:n], np.fmax)
        for j, ph in enumerate(PHASES):
            columns[f"p_import_{ph}_kw"] = self.p_import[:n, j].copy()
        return columns

    @staticmethod
    def vm_max_pu(columns: dict[str, F64]) -> F64:
        """Per tick the highest voltage of any phase at any bus (the timeseries' ``vm_max_pu``), from
        the columns of ``timeseries_columns``."""
        return np.fmax(np.fmax(columns["vm_max_a_pu"], columns["vm_max_b_pu"]), columns["vm_max_c_pu"])

    def tables(self, n: int, times: pd.DatetimeIndex, bus_ids: list[str], line_ids: list[str]) -> PhaseTables:
        """The first ``n`` rows as ``PhaseTables``; the frames are views of the arrays (no copy)."""

        def frame(values: F64, columns: list[str]) -> pd.DataFrame:
            return pd.DataFrame(values, index=times, columns=columns, copy=False)

        vm, line_i = self.vm_phase[:n], self.line_i[:n]
        return PhaseTables(
            vm_a_pu=frame(vm[:, :, 0], bus_ids), vm_b_pu=frame(vm[:, :, 1], bus_ids), vm_c_pu=frame(vm[:, :, 2], bus_ids),
            vuf_percent=frame(self.vuf[:n], bus_ids), vm0_pu=frame(self.vm0[:n], bus_ids),
            line_i_a_ka=frame(line_i[:, :, 0], line_ids), line_i_b_ka=frame(line_i[:, :, 1], line_ids),
            line_i_c_ka=frame(line_i[:, :, 2], line_ids),
        )
