"""The AC load flow: the one interface the engine calls (``LoadFlow``) and its pandapower solver.

``LoadFlow.solve`` takes this tick's injections as flat arrays in the feeder's fixed orderings
(loads, sgens, chargers) and returns a ``GridState`` aligned with ``bus_ids`` / ``line_ids`` /
``trafo_ids``. A faster solver only has to implement this protocol.

``PandapowerLoadFlow`` works on its own deep copy of the feeder's net, with one extra load per
charger bus (``ev_charging@<bus>``, unity power factor) appended after the feeder's loads at
construction. Each call writes the injections into the existing DataFrame columns with numpy (no
element creation, no per-row loops), then runs ``pandapower.runpp``: the first call (and the
first after a failure) is a full cold start (``init="auto"``, connectivity check); later calls
reuse the internal model (``recycle=dict(bus_pq=True, trafo=False, gen=False)``) and warm-start
from the last solution (``init="results"``), ~4x faster. Every pandapower failure becomes a
``LoadFlowError`` naming the step and the injections, and resets the solver to a cold start so a
diverged state cannot poison the next call.
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import numpy as np
import pandapower as pp
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from sim.domain import ChargerTable, GridState
from sim.errors import LoadFlowError
from sim.grid.feeder import Feeder

_RECYCLE = {"trafo": False, "gen": False, "bus_pq": True}
# Newton-Raphson stops when the largest power mismatch is below the tolerance. pandapower's default
# (1e-8 MVA) leaves up to ~4e-6 % line-loading error on the CIGRE LV feeder once warm starts let NR stop
# right under it. The tolerance scales with the feeder's size: 1e-11 MVA per MVA of connected load and
# generation, between 1e-12 (an LV feeder: on the IEEE European LV feeder's long lines 1e-10 still left
# 3.4e-6 % line loading) and 1e-10 (an MV grid, where 1e-12 is below what double precision reaches).
TOLERANCE_MVA = 1e-10
TOLERANCE_MVA_PER_MVA = 1e-11
TOLERANCE_MVA_MIN = 1e-12


def tolerance_for(net: pp.pandapowerNet) -> float:
    """The Newton-Raphson tolerance (MVA) for this net's size (see ``TOLERANCE_MVA_PER_MVA``)."""
    size_mva = sum(float(np.nansum(np.abs(net[t]["p_mw"].to_numpy(dtype=float)))) for t in ("load", "sgen")
                   if t in net and len(net[t]))
    return float(np.clip(TOLERANCE_MVA_PER_MVA * size_mva, TOLERANCE_MVA_MIN, TOLERANCE_MVA))


@runtime_checkable
class LoadFlow(Protocol):
    """Solve the feeder for one tick's injections (kW, kvar; charger power per charger)."""

    bus_ids: tuple[int, ...]
    line_ids: tuple[int, ...]
    trafo_ids: tuple[int, ...]

    def solve(
        self,
        step: int,
        t_s: float,
        load_p_kw: ArrayLike,
        load_q_kvar: ArrayLike,
        sgen_p_kw: ArrayLike,
        charger_p_kw: ArrayLike,
    ) -> GridState: ...


class PandapowerLoadFlow:
    """``LoadFlow`` with pandapower's Newton-Raphson ``runpp`` (warm-started, recycled model)."""

    def __init__(
        self,
        feeder: Feeder,
        chargers: ChargerTable,
        *,
        numba: bool = True,
        tolerance_mva: float | None = None,
    ) -> None:
        self.bus_ids = feeder.bus_ids
        self.line_ids = feeder.line_ids
        self.trafo_ids = feeder.trafo_ids
        self.charger_ids = chargers.ids
        self.timebase = feeder.timebase
        self.net = copy.deepcopy(feeder.net)
        unknown = sorted(set(chargers.bus.tolist()) - set(self.bus_ids))
        if unknown:
            raise ValueError(f"chargers sit on buses {unknown} that the feeder does not have")
        ev_buses, self._charger_to_ev = np.unique(chargers.bus, return_inverse=True)
        self.ev_buses: tuple[int, ...] = tuple(int(b) for b in ev_buses)
        names = [f"ev_charging@{b}" for b in self.ev_buses]
        ids = pp.create_loads(self.net, ev_buses, p_mw=0.0, q_mvar=0.0, name=names) if names else []
        self.ev_load_ids: tuple[int, ...] = tuple(int(i) for i in ids)
        order = list(feeder.load_ids) + list(self.ev_load_ids)
        if list(self.net.load.index) != order:
            raise RuntimeError("the net's load order differs from the feeder's load_ids")
        self._n_loads = len(feeder.load_ids)
        self._n_sgens = len(feeder.sgen_ids)
        self._n_chargers = len(chargers)
        self._index = (pd.Index(self.bus_ids), pd.Index(self.line_ids), pd.Index(self.trafo_ids))
        tolerance = tolerance_for(feeder.net) if tolerance_mva is None else tolerance_mva
        self._options = {"numba": numba, "tolerance_mva": tolerance}
        self._warm = False
        self._writers = {
            (t, c): _ColumnWriter(self.net, t, c)
            for t, c in (("load", "p_mw"), ("load", "q_mvar"), ("sgen", "p_mw"))
        }

    def solve(
        self,
        step: int,
        t_s: float,
        load_p_kw: ArrayLike,
        load_q_kvar: ArrayLike,
        sgen_p_kw: ArrayLike,
        charger_p_kw: ArrayLike,
    ) -> GridState:
        """Write this tick's injections into the net, run the AC load flow, read the results."""
        load_p = _vector(load_p_kw, self._n_loads, "load_p_kw")
        load_q = _vector(load_q_kvar, self._n_loads, "load_q_kvar")
        sgen_p = _vector(sgen_p_kw, self._n_sgens, "sgen_p_kw")
        charger_p = _vector(charger_p_kw, self._n_chargers, "charger_p_kw")
        ev_p = np.bincount(self._charger_to_ev, weights=charger_p, minlength=len(self.ev_buses))
        arrays = (load_p, load_q, sgen_p, charger_p)
        if not all(np.isfinite(a).all() for a in arrays):  # nothing written yet: the net stays valid
            raise LoadFlowError(
                step, t_s, "non-finite (NaN or inf) injection", self._summary(load_p, sgen_p, charger_p, ev_p),
                self._when(t_s),
            )
        self._writers["load", "p_mw"].write(np.concatenate([load_p, ev_p]) / 1000.0)
        self._writers["load", "q_mvar"].write(np.concatenate([load_q, np.zeros_like(ev_p)]) / 1000.0)
        self._writers["sgen", "p_mw"].write(sgen_p / 1000.0)
        try:
            self._run()
        except Exception as exc:  # any pandapower failure is mapped here, and only here
            self._warm = False
            detail = f"{type(exc).__name__}: {exc}".strip()
            raise LoadFlowError(
                step, t_s, detail, self._summary(load_p, sgen_p, charger_p, ev_p), self._when(t_s)
            ) from None
        self._warm = True
        return self._read(t_s)

    def _when(self, t_s: float) -> str:
        """The tick's wall-clock time, for error messages."""
        return self.timebase.to_datetime(t_s).isoformat(timespec="seconds")

    def _run(self) -> None:
        if self._warm:
            pp.runpp(self.net, init="results", recycle=_RECYCLE, check_connectivity=False, **self._options)
        else:
            self.net["_ppc"] = None  # drop any model left by a failed call
            pp.runpp(self.net, init="auto", **self._options)
        if not self.net.get("converged", False):
            raise RuntimeError("pandapower reports no converged solution")

    def _read(self, t_s: float) -> GridState:
        net = self.net
        bus_idx, line_idx, trafo_idx = self._index
        return GridState(
            time_s=float(t_s),
            vm_pu=_column(net.res_bus, "vm_pu", bus_idx),
            va_degree=_column(net.res_bus, "va_degree", bus_idx),
            line_loading_percent=_column(net.res_line, "loading_percent", line_idx),
            trafo_loading_percent=_column(net.res_trafo, "loading_percent", trafo_idx),
            p_import_kw=float(np.nansum(net.res_ext_grid["p_mw"].to_numpy(dtype=float))) * 1000.0,
            q_import_kvar=float(np.nansum(net.res_ext_grid["q_mvar"].to_numpy(dtype=float))) * 1000.0,
            losses_kw=1000.0
            * float(
                np.nansum(net.res_line["pl_mw"].to_numpy(dtype=float))
                + np.nansum(net.res_trafo["pl_mw"].to_numpy(dtype=float))
            ),
        )

    def _summary(
        self,
        load_p: NDArray[np.float64],
        sgen_p: NDArray[np.float64],
        charger_p: NDArray[np.float64],
        ev_p: NDArray[np.float64],
    ) -> str:
        """The injections of the failing call, in words a user can act on."""
        text = (
            f"base load {np.sum(load_p):.1f} kW, charging {np.sum(charger_p):.1f} kW, "
            f"generation (PV/sgen) {np.sum(sgen_p):.1f} kW"
        )
        if ev_p.size:
            k = (
                int(np.nanargmax(np.where(np.isfinite(ev_p), ev_p, -np.inf)))
                if np.isfinite(ev_p).any()
                else 0
            )
            text += f", largest charging bus {self.ev_buses[k]} ({ev_p[k]:.1f} kW)"
        return text


class _ColumnWriter:
    """Writes one float column of a net's table: in place through the numpy view when pandas
    allows it (checked once, by reading the frame back), else by column assignment. The table is
    looked up in the net on every write, so a table pandapower replaced is never written stale."""

    def __init__(self, net: pp.pandapowerNet, table: str, column: str) -> None:
        self._net = net
        self._table = table
        self._column = column
        frame = net[table]
        frame[column] = frame[column].to_numpy(dtype=np.float64)
        self._in_place = self._probe(frame)

    def _probe(self, frame: pd.DataFrame) -> bool:
        col = self._column
        if frame.empty:
            return False
        old = frame[col].to_numpy(dtype=np.float64).copy()
        try:
            frame[col].values[:] = old + 1.0
        except (ValueError, TypeError):  # read-only under pandas copy-on-write
            frame[col] = old
            return False
        reached = np.array_equal(
            frame.iloc[:, frame.columns.get_loc(col)].to_numpy(dtype=np.float64), old + 1.0
        )
        frame[col] = old
        return reached

    def write(self, values: NDArray[np.float64]) -> None:
        frame = self._net[self._table]
        if self._in_place:
            frame[self._column].values[:] = values
        elif len(frame):
            frame[self._column] = values


def _vector(values: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} values, the feeder has {n}")
    return arr


def _column(table: pd.DataFrame, column: str, index: pd.Index) -> NDArray[np.float64]:
    """A result column as a fresh read-only array in the given element order (missing -> NaN)."""
    series = table[column] if table.index.equals(index) else table[column].reindex(index)
    out = series.to_numpy(dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out
