"""The feeder: a pandapower net plus its fixed element orderings and its base injections.

``build_feeder`` loads the network (``networks.load_network``), adds rooftop PV, and returns a
``Feeder`` whose index tuples (``bus_ids``, ``line_ids``, ``trafo_ids``, ``load_ids``,
``sgen_ids``) fix one ordering used everywhere: in ``BaseInjections`` columns, in the load flow's
writes and in ``GridState`` arrays.

Base injections are computed once for all ticks (vectorised):

* loads: ``household`` -> household profile (peak 1) x the load's rated p/q x ``scale``;
  ``simbench`` -> the grid's SimBench absolute profiles x ``scale``; ``none`` -> zero;
* sgens: SimBench grids' own sgens follow their SimBench profiles, added PV sgens follow the PV
  profile (kW per kWp) x ``kwp``, every other existing sgen stays at its static p.

Each load's and sgen's pandapower ``scaling`` is folded into its ``p_mw``/``q_mvar`` at build
time (scaling := 1), so the kW values here are exactly what pandapower injects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandapower as pp
import pandapower.topology as top
from numpy.typing import ArrayLike, NDArray

from sim.domain import Timebase
from sim.errors import ScenarioError
from sim.grid.networks import SimbenchProfiles, load_network
from sim.scenario.profiles import household_profile, pv_profile, seconds_of_year
from sim.scenario.schema import BASE_LOAD_PROFILES, BaseLoadSpec, GridSpec, PvSpec


class ProfileLike(Protocol):
    """What ``sim.scenario.profiles.Profile`` offers: values at model times ``t_s``."""

    def sample(self, timebase: Timebase, t_s: NDArray[np.float64]) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class BaseInjections:
    """Base-load and generation injections for every tick: rows are ticks (``t_s``), columns are
    ``Feeder.load_ids`` / ``Feeder.sgen_ids`` in order. Loads positive = consumption; sgens
    positive = generation."""

    t_s: NDArray[np.float64]
    load_p_kw: NDArray[np.float64]
    load_q_kvar: NDArray[np.float64]
    sgen_p_kw: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(frozen=True)
class _PvPlan:
    sgen_ids: tuple[int, ...]
    kwp: float
    profile: ProfileLike | None


class Feeder:
    """A pandapower net with fixed orderings and its base-injection model.

    ``net`` is owned by the feeder; a load flow works on its own deep copy (see
    ``PandapowerLoadFlow``), so the feeder's net stays exactly as built.
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        *,
        source: str,
        timebase: Timebase,
        base_load: BaseLoadSpec,
        household: ProfileLike | None,
        simbench: SimbenchProfiles | None,
        pv: _PvPlan,
    ) -> None:
        self.net = net
        self.source = source
        self.timebase = timebase
        self.base_load = base_load
        self.bus_ids: tuple[int, ...] = tuple(int(b) for b in net.bus.index)
        self.line_ids: tuple[int, ...] = tuple(int(i) for i in net.line.index)
        self.trafo_ids: tuple[int, ...] = tuple(int(i) for i in net.trafo.index)
        self.load_ids: tuple[int, ...] = tuple(int(i) for i in net.load.index)
        self.sgen_ids: tuple[int, ...] = tuple(int(i) for i in net.sgen.index)
        self.pv_sgen_ids = pv.sgen_ids
        self.bus_names: tuple[str, ...] = tuple(
            str(name) if isinstance(name, str) and name else str(idx) for idx, name in net.bus["name"].items()
        )
        eg = net.ext_grid[net.ext_grid["in_service"].astype(bool)]
        self.ext_grid_bus = int(eg["bus"].iloc[0])
        self._household = household
        self._simbench = simbench
        self._pv = pv
        self._rated_load_p_kw, self._rated_load_q_kvar = _rated_loads_kw(net, base_load.peak_kw)
        self._static_sgen_p_kw = net.sgen["p_mw"].to_numpy(dtype=float) * 1000.0
        self._pv_cols = np.array([self.sgen_ids.index(i) for i in pv.sgen_ids], dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"Feeder({self.source}: {len(self.bus_ids)} buses, {len(self.line_ids)} lines, "
            f"{len(self.load_ids)} loads, {len(self.sgen_ids)} sgens)"
        )

    def load_bus_ids(self) -> tuple[int, ...]:
        """Sorted unique buses carrying an in-service load: the household buses for placement."""
        loads = self.net.load[self.net.load["in_service"].astype(bool)]
        return tuple(int(b) for b in np.unique(loads["bus"].to_numpy(dtype=np.int64)))

    def bus_distance_km(self) -> NDArray[np.float64]:
        """Line length (km) along the shortest path from the ext_grid bus, per bus in ``bus_ids``
        order (transformers count 0 km; buses not reachable through closed switches: NaN)."""
        dist = top.calc_distance_to_bus(self.net, self.ext_grid_bus, respect_switches=True)
        return dist.reindex(list(self.bus_ids)).to_numpy(dtype=float)

    def base_injections(self, t_s: ArrayLike) -> BaseInjections:
        """Load and sgen injections (kW / kvar) at every model time in ``t_s`` (seconds)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float)).ravel()
        load_p, load_q = self._load_injections(t)
        return BaseInjections(t_s=t, load_p_kw=load_p, load_q_kvar=load_q, sgen_p_kw=self._sgen_injections(t))

    def _load_injections(self, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        scale = float(self.base_load.scale)
        kind = self.base_load.profile
        if kind == "household":
            assert self._household is not None
            shape = _sample(self._household, self.timebase, t, "household")[:, None] * scale
            return shape * self._rated_load_p_kw[None, :], shape * self._rated_load_q_kvar[None, :]
        if kind == "simbench":
            assert self._simbench is not None
            rows = _simbench_rows(self.timebase, t, self._simbench)
            return (
                self._simbench.load_p_mw[rows] * (1000.0 * scale),
                self._simbench.load_q_mvar[rows] * (1000.0 * scale),
            )
        zeros = np.zeros((t.size, len(self.load_ids)))
        return zeros, zeros.copy()

    def _sgen_injections(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        sgen = np.tile(self._static_sgen_p_kw, (t.size, 1))
        if self._simbench is not None and self._simbench.sgen_p_mw.shape[1]:
            rows = _simbench_rows(self.timebase, t, self._simbench)
            sgen[:, : self._simbench.sgen_p_mw.shape[1]] = self._simbench.sgen_p_mw[rows] * 1000.0
        if self._pv.sgen_ids:
            assert self._pv.profile is not None
            sgen[:, self._pv_cols] = _sample(self._pv.profile, self.timebase, t, "pv")[:, None] * self._pv.kwp
        return sgen


def _sample(
    profile: ProfileLike, timebase: Timebase, t: NDArray[np.float64], what: str
) -> NDArray[np.float64]:
    values = np.asarray(profile.sample(timebase, t), dtype=float)
    if values.shape != t.shape:
        raise ValueError(f"{what} profile returned shape {values.shape} for {t.shape} times")
    return values


def _simbench_rows(
    timebase: Timebase, t: NDArray[np.float64], profiles: SimbenchProfiles
) -> NDArray[np.int64]:
    """Profile row for each time: the local time of year (``profiles.seconds_of_year``, the rule
    every shipped profile follows) in 15-min steps. SimBench's year is 2016 (366 days); a common
    year uses its first 365 days, so dates match but weekdays may not."""
    steps = (seconds_of_year(timebase, t) // profiles.step_s).astype(np.int64)
    return np.mod(steps, profiles.n_steps)


def build_feeder(
    spec: GridSpec,
    base_dir: Path,
    timebase: Timebase,
    rng: np.random.Generator,
    *,
    scenario_file: str = "scenario",
    household: ProfileLike | None = None,
    pv: ProfileLike | None = None,
) -> Feeder:
    """Load the network of ``spec``, add PV, and fix the orderings and injection model.

    ``household`` / ``pv`` default to ``sim.scenario.profiles.household_profile()`` /
    ``pv_profile()`` (read only when needed); pass other profiles to override them.
    """
    _check_base_load(spec, scenario_file)
    net, simbench = load_network(spec, base_dir, scenario_file=scenario_file)
    simbench = _fold_scaling(net, simbench)
    load_buses = np.unique(net.load.loc[net.load["in_service"].astype(bool), "bus"].to_numpy(dtype=np.int64))
    pv_ids = _add_pv(net, spec.pv, load_buses, rng, scenario_file)
    if spec.base_load.profile == "household" and household is None:
        household = household_profile()
    if pv_ids and pv is None:
        pv = pv_profile()
    kwp = float(spec.pv.kwp) if spec.pv is not None else 0.0
    source = next(
        f"{k}:{v}"
        for k, v in (("network", spec.network), ("simbench", spec.simbench), ("file", spec.file))
        if v is not None
    )
    return Feeder(
        net,
        source=source,
        timebase=timebase,
        base_load=spec.base_load,
        household=household,
        simbench=simbench,
        pv=_PvPlan(pv_ids, kwp, pv if pv_ids else None),
    )


def _check_base_load(spec: GridSpec, scenario_file: str) -> None:
    base = spec.base_load
    if base.profile not in BASE_LOAD_PROFILES:
        raise ScenarioError(
            scenario_file,
            "grid.base_load.profile",
            "unknown base-load profile",
            value=base.profile,
            expected="one of " + ", ".join(BASE_LOAD_PROFILES),
        )
    if base.profile == "simbench" and spec.simbench is None:
        raise ScenarioError(
            scenario_file,
            "grid.base_load.profile",
            "the 'simbench' profile needs a SimBench grid (grid.simbench)",
            value=base.profile,
            expected="'household' or 'none' for this grid",
        )
    if not np.isfinite(base.scale) or base.scale < 0:
        raise ScenarioError(
            scenario_file, "grid.base_load.scale", "must be a finite number >= 0", value=base.scale
        )


def _fold_scaling(net: pp.pandapowerNet, simbench: SimbenchProfiles | None) -> SimbenchProfiles | None:
    """Multiply each load's/sgen's ``scaling`` into its p/q (and its SimBench profile column)."""
    load_scale = net.load["scaling"].to_numpy(dtype=float)
    sgen_scale = net.sgen["scaling"].to_numpy(dtype=float)
    for table, scale, cols in (
        (net.load, load_scale, ("p_mw", "q_mvar")),
        (net.sgen, sgen_scale, ("p_mw", "q_mvar")),
    ):
        for col in cols:
            table[col] = table[col].to_numpy(dtype=float) * scale
        table["scaling"] = 1.0
    if simbench is None:
        return None
    return SimbenchProfiles(
        load_p_mw=simbench.load_p_mw * load_scale[None, :],
        load_q_mvar=simbench.load_q_mvar * load_scale[None, :],
        sgen_p_mw=simbench.sgen_p_mw * sgen_scale[None, : simbench.sgen_p_mw.shape[1]],
        step_s=simbench.step_s,
    )


def _add_pv(
    net: pp.pandapowerNet,
    pv: PvSpec | None,
    load_buses: NDArray[np.int64],
    rng: np.random.Generator,
    scenario_file: str,
) -> tuple[int, ...]:
    """Add one ``kwp`` PV sgen on each of a seeded random ``share`` of the load buses (sorted)."""
    if pv is None:
        return ()
    if not (np.isfinite(pv.share) and 0.0 <= pv.share <= 1.0):
        raise ScenarioError(
            scenario_file,
            "grid.pv.share",
            "must be a fraction of the load buses",
            value=pv.share,
            expected="a number in [0, 1]",
        )
    if not (np.isfinite(pv.kwp) and pv.kwp >= 0.0):
        raise ScenarioError(scenario_file, "grid.pv.kwp", "must be a peak power >= 0 kWp", value=pv.kwp)
    n_pv = int(round(pv.share * load_buses.size))
    if n_pv == 0:
        return ()
    buses = np.sort(rng.choice(load_buses, size=n_pv, replace=False))
    ids = pp.create_sgens(net, buses, p_mw=pv.kwp / 1000.0, q_mvar=0.0, name=[f"pv@{int(b)}" for b in buses])
    return tuple(int(i) for i in ids)


def _rated_loads_kw(net: pp.pandapowerNet, peak_kw: float | None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each load's peak P and Q (kW, kvar): its own p_mw/q_mvar, or ``peak_kw`` for all with each
    load's own q/p ratio (a load with p = 0 gets q = 0)."""
    p_kw = net.load["p_mw"].to_numpy(dtype=float) * 1000.0
    q_kvar = net.load["q_mvar"].to_numpy(dtype=float) * 1000.0
    if peak_kw is None:
        return p_kw, q_kvar
    ratio = np.divide(q_kvar, p_kw, out=np.zeros_like(q_kvar), where=p_kw != 0)
    return np.full_like(p_kw, peak_kw), ratio * peak_kw
