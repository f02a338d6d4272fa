"""The live feeder: the site's ``[grid]`` network solved at a tick with the measured charging power.

The feeder is built as the simulator builds it (``sim.grid.build_feeder``: the same base-load and
PV model; PV placed with a fixed seed, so a restart builds the same feeder). ``solve(t_s, chargers,
charger_p_kw)`` takes the base loads and PV from that model at ``t_s`` (epoch seconds, on the
site's wall clock: model time 0 is the epoch in the site's ``time_zone``), the charging power per
charger (``LiveTracker.measured_power_kw``), and runs the ``[grid] loadflow`` solver. The
``GridState`` carries ``charger_p_kw`` and, where the network allows, the sensitivities
(``sim.grid.sensitivity``), as the simulator's look-ahead state does, so grid-aware strategies
run unchanged. The load flow is rebuilt when the charger table changes (an unknown charger
joined the site).

A site without ``[grid]`` has no live feeder (``for_site`` gives ``None``), and then ``sim.grid``
(pandapower) is never imported.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.domain import ChargerTable, GridState
from sim.domain.timebase import Timebase
from sim.errors import ScenarioError
from sim.live.site_file import LiveSite

PV_SEED = 0
"""The seed PV placement uses (fixed: the same site file always gives the same feeder)."""


class LiveFeeder:
    """The site's feeder and its load flow (see the module docstring)."""

    def __init__(self, site: LiveSite) -> None:
        from sim.grid import build_feeder

        if site.grid is None:
            raise ValueError("the site has no [grid] table: no live feeder (use LiveFeeder.for_site)")
        self.site = site
        base_dir = site.path.parent if site.path is not None else Path.cwd()
        timebase = Timebase(datetime.fromtimestamp(0.0, UTC).astimezone(site.time_zone))
        self.feeder = build_feeder(site.grid, base_dir, timebase, np.random.default_rng(PV_SEED),
                                   scenario_file=site.file_label)
        self._check_buses(site.chargers)
        self._table: ChargerTable | None = None
        self._loadflow: Any = None
        self._linearisation: Any = None
        self._step = 0

    @classmethod
    def for_site(cls, site: LiveSite) -> LiveFeeder | None:
        """The live feeder of ``site``, or ``None`` when the site file has no ``[grid]``."""
        return cls(site) if site.grid is not None else None

    def _check_buses(self, chargers: ChargerTable) -> None:
        buses = set(self.feeder.bus_ids)
        for i, charger in enumerate(chargers.chargers):
            if charger.bus not in buses:
                ids = self.feeder.bus_ids
                raise ScenarioError(self.site.file_label, f"chargers[{i}].bus", "no such bus in the network",
                                    value=charger.bus,
                                    expected=f"a bus index {min(ids)}..{max(ids)} ({len(ids)} buses)")

    def solve(self, t_s: float, chargers: ChargerTable, charger_p_kw: NDArray[np.float64]) -> GridState:
        """The load flow at ``t_s`` (epoch s) with ``charger_p_kw`` (kW) per charger of ``chargers``.

        Raises ``ValueError`` when ``charger_p_kw`` does not have one value per charger or an
        accepted unknown charger sits on a bus the feeder does not have, ``LoadFlowError`` when the
        load flow fails.
        """
        from sim.grid import make_loadflow
        from sim.grid.fast_model import UnsupportedNetworkError
        from sim.grid.sensitivity import GridLinearisation

        p_kw = np.asarray(charger_p_kw, dtype=float)
        if p_kw.shape != (len(chargers),):
            raise ValueError(f"charger_p_kw needs one value per charger ({len(chargers)}), got shape {p_kw.shape}")
        assert self.site.grid is not None
        if chargers is not self._table:
            self._loadflow = make_loadflow(self.feeder, chargers, self.site.grid.loadflow)
            try:
                self._linearisation = GridLinearisation.for_loadflow(self._loadflow, chargers)
            except UnsupportedNetworkError:
                self._linearisation = None
            self._table = chargers
        base = self.feeder.base_injections([t_s])
        grid: GridState = self._loadflow.solve(self._step, t_s, base.load_p_kw[0], base.load_q_kvar[0],
                                               base.sgen_p_kw[0], p_kw)
        self._step += 1
        has_angles = grid.va_degree is not None or grid.va_phase_degree is not None  # balanced or per phase
        sensitivity = self._linearisation.at(grid) if self._linearisation is not None and has_angles else None
        return replace(grid, charger_p_kw=p_kw, sensitivity=sensitivity)
