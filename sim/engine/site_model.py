"""The site as the engine sees it: its limits and its per-tick series, all built once at set-up.

``build_site_model`` turns the scenario's ``[site]`` and ``[tariff]`` tables into a ``SiteModel``:

- the site's ``Constraints`` (domain ``build_constraints`` over the placed chargers; a limit
  node's ``charger_prefix`` expands to the ids starting with it), with an ``import_kw`` row when
  ``site.import_limit_kw`` is set;
- the site base load per tick: load minus generation (every sgen, PV or not) of the in-service
  loads and sgens at ``site.buses``, or of the whole feeder when no buses are given;
- the site's generation and the tariff's price per tick.

The series cover every tick of the run plus ``FORECAST_HORIZON_S`` beyond its end, so the perfect
forecast of any tick is a slice (no per-tick recomputation). At each allocation the engine asks for
``constraints_at(step)``: the import row's limit is then ``import_limit_kw`` minus the base load of
the tick. It is negative when the base load alone is above the import limit: the allocation kernels
then give nothing to the chargers on that row, and the tick counts as a violation (the site's
import is over its limit, whatever the chargers do), which ``peak_site_import_kw`` quantifies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.domain import ChargerTable, Constraints, Forecast, Timebase, build_constraints
from sim.errors import ScenarioError
from sim.grid import BaseInjections, Feeder
from sim.scenario.limits import limit_nodes
from sim.scenario.schema import Scenario, SiteSpec
from sim.scenario.tariff import price_per_kwh

FORECAST_HORIZON_S = 24 * 3600.0
"""How far the forecast in every ``SiteView`` reaches (from the current tick on)."""

LIMIT_TOL = 1e-6
"""A row's load above its limit by more than this counts as a violation (A, kVA or kW)."""

IMPORT_ROW = "import_kw"


def _ro(values: NDArray[np.float64]) -> NDArray[np.float64]:
    values = np.ascontiguousarray(values, dtype=float)
    values.setflags(write=False)
    return values


@dataclass(frozen=True)
class SiteModel:
    """The site's constraints and its per-tick series (read-only; ``len = n_steps + horizon_steps``).

    ``base_load_kw`` is the site's load minus its generation, ``pv_kw`` its generation (positive),
    so its gross load is their sum. ``import_row_kw`` is the import row's limit per tick,
    ``import_limit_kw - base_load_kw`` (empty without an import limit).
    """

    constraints: Constraints
    step_s: float
    horizon_steps: int
    base_load_kw: NDArray[np.float64]
    pv_kw: NDArray[np.float64]
    price_per_kwh: NDArray[np.float64]
    import_row_kw: NDArray[np.float64]

    def constraints_at(self, step: int) -> Constraints:
        """The constraints of tick ``step`` (the import row's limit set for that tick)."""
        if self.import_row_kw.size == 0:
            return self.constraints
        return self.constraints.with_limit(IMPORT_ROW, float(self.import_row_kw[step]))

    def forecast_at(self, step: int) -> Forecast:
        """The perfect forecast from tick ``step`` on, ``horizon_steps`` values (read-only views)."""
        window = slice(step, step + self.horizon_steps)
        return Forecast(self.step_s, self.base_load_kw[window], self.pv_kw[window], self.price_per_kwh[window])

    def limit_use(self, step: int, current_a: NDArray[np.float64]) -> tuple[bool, float]:
        """Whether the currents break a row of tick ``step`` (load above limit by > ``LIMIT_TOL``),
        and the highest row use, load / limit in %. ``nan`` without rows; a row with no room
        (limit <= 0) counts ``inf`` when broken and 0 otherwise."""
        broken, use = self.limit_use_all(np.asarray(current_a, dtype=float)[None, :], first_step=step)
        return bool(broken[0]), float(use[0])

    def limit_use_all(self, current_a: NDArray[np.float64], first_step: int = 0
                      ) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
        """``limit_use`` for ticks ``first_step ...`` at once: ``current_a`` is ticks x chargers."""
        n_ticks = current_a.shape[0]
        if self.constraints.n_rows == 0:
            return np.zeros(n_ticks, dtype=bool), np.full(n_ticks, math.nan)
        load = current_a @ self.constraints.dense().T  # ticks x rows
        limit = np.broadcast_to(self.constraints.limit, load.shape).copy()
        if self.import_row_kw.size:
            row = self.constraints.row_index[IMPORT_ROW]
            limit[:, row] = self.import_row_kw[first_step : first_step + n_ticks]
        broken = load - limit > LIMIT_TOL
        with np.errstate(divide="ignore", invalid="ignore"):
            use = np.where(limit > 0, load / limit * 100.0, np.where(broken, math.inf, 0.0))
        return broken.any(axis=1), use.max(axis=1)


def build_site_model(
    scenario: Scenario,
    feeder: Feeder,
    chargers: ChargerTable,
    timebase: Timebase,
    injections: BaseInjections,
    horizon_steps: int,
) -> SiteModel:
    """The ``SiteModel`` of ``scenario``; ``injections`` cover every tick plus ``horizon_steps``."""
    file = str(scenario.path or "<scenario>")
    site = scenario.site
    nodes = limit_nodes(site, chargers, file)
    constraints = build_constraints(chargers, nodes, site.import_limit_kw)
    load_cols, sgen_cols = site_columns(site, feeder, file)
    pv_kw = injections.sgen_p_kw[:, sgen_cols].sum(axis=1)
    base_kw = injections.load_p_kw[:, load_cols].sum(axis=1) - pv_kw
    import_row = np.zeros(0)
    if site.import_limit_kw is not None:
        import_row = site.import_limit_kw - base_kw
    return SiteModel(
        constraints=constraints,
        step_s=scenario.simulation.control_period_s,
        horizon_steps=horizon_steps,
        base_load_kw=_ro(base_kw),
        pv_kw=_ro(pv_kw),
        price_per_kwh=_ro(price_per_kwh(scenario.tariff, timebase, injections.t_s)),
        import_row_kw=_ro(import_row),
    )


def horizon_steps(period_s: float, horizon_s: float = FORECAST_HORIZON_S) -> int:
    """Ticks in a forecast window: ``horizon_s`` rounded up to whole control periods (at least 1)."""
    return max(1, math.ceil(horizon_s / period_s - 1e-9))


def site_columns(site: SiteSpec, feeder: Feeder, file: str) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Masks over ``feeder.load_ids`` / ``feeder.sgen_ids``: the in-service ones at the site's buses."""
    net = feeder.net
    load_bus = net.load.loc[list(feeder.load_ids), "bus"].to_numpy(dtype=np.int64)
    sgen_bus = net.sgen.loc[list(feeder.sgen_ids), "bus"].to_numpy(dtype=np.int64)
    load_on = net.load.loc[list(feeder.load_ids), "in_service"].to_numpy(dtype=bool)
    sgen_on = net.sgen.loc[list(feeder.sgen_ids), "in_service"].to_numpy(dtype=bool)
    if site.buses is None:
        return load_on, sgen_on
    known = set(feeder.bus_ids)
    for i, bus in enumerate(site.buses):
        if bus not in known:
            loads = ", ".join(str(b) for b in feeder.load_bus_ids()[:8])
            raise ScenarioError(file, f"site.buses[{i}]", "no such bus in the network", value=bus,
                                expected=f"a bus index {min(known)}..{max(known)}; load buses are {loads or 'none'}")
    buses = np.asarray(site.buses, dtype=np.int64)
    return load_on & np.isin(load_bus, buses), sgen_on & np.isin(sgen_bus, buses)
