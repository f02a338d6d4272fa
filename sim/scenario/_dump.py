"""A ``Scenario`` back to the TOML mapping the loader reads (for ``save_scenario``).

The mapping is canonical: every value the loader filled in is written explicitly, except the
``[fleet.kinds]`` parameters, of which only the differences to ``BUILTIN_KINDS`` are written.
Loading the result gives back an equal ``Scenario``. File paths are written relative to the
target directory when the file lies below it, absolute otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from sim.scenario._time import format_duration
from sim.scenario.schema import (
    BUILTIN_KINDS,
    BatterySpec,
    ChargerSpec,
    FleetSpec,
    GridSpec,
    KindProfile,
    LimitSpec,
    Scenario,
    SiteSpec,
    TariffSpec,
)


def scenario_to_dict(scenario: Scenario, base_dir: Path) -> dict[str, Any]:
    """The TOML mapping of ``scenario`` with file paths relative to ``base_dir`` where possible."""
    sim = scenario.simulation
    out: dict[str, Any] = {"name": scenario.name}
    if scenario.description:
        out["description"] = scenario.description
    out["simulation"] = {
        "start": sim.start,
        "duration": format_duration(sim.duration_s),
        "control_period_s": _number(sim.control_period_s),
        "seed": sim.seed,
    }
    out["grid"] = _grid(scenario.grid, base_dir)
    site = _site(scenario.site)
    if site:
        out["site"] = site
    out["chargers"] = [_charger(c) for c in scenario.chargers]
    out["fleet"] = _fleet(scenario.fleet, base_dir)
    out["battery"] = _battery(scenario.battery)
    out["strategy"] = {"name": scenario.strategy.name, **scenario.strategy.params}
    out["tariff"] = _tariff(scenario.tariff)
    return out


def _number(value: float) -> int | float:
    """Whole numbers as TOML integers (``300`` reads better than ``300.0``); the loader takes both."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def _path(path: Path, base_dir: Path) -> str:
    base = base_dir.resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def _grid(grid: GridSpec, base_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if grid.network is not None:
        out["network"] = grid.network
    if grid.simbench is not None:
        out["simbench"] = grid.simbench
    if grid.file is not None:
        out["file"] = _path(grid.file, base_dir)
    out["loadflow"] = grid.loadflow
    if grid.vm_band_pu != (0.9, 1.1):  # only when set: scenario hashes of older files stay as they were
        out["vm_band_pu"] = [_number(v) for v in grid.vm_band_pu]
    if grid.vuf_limit_percent != 2.0:
        out["vuf_limit_percent"] = _number(grid.vuf_limit_percent)
    out["base_load"] = {"profile": grid.base_load.profile, "scale": _number(grid.base_load.scale)}
    if grid.base_load.peak_kw is not None:
        out["base_load"]["peak_kw"] = _number(grid.base_load.peak_kw)
    if grid.pv is not None:
        out["pv"] = {"share": _number(grid.pv.share), "kwp": _number(grid.pv.kwp)}
    return out


def _charger(spec: ChargerSpec) -> dict[str, Any]:
    if spec.place is None:
        out: dict[str, Any] = {"id": spec.charger_id, "bus": spec.bus}
    else:
        out = {"place": spec.place, "id_prefix": spec.id_prefix}
        if spec.place == "per_load_bus":
            out["share"] = _number(spec.share)
        else:
            out["count"] = spec.count
    out["phases"] = spec.phases
    if spec.phases == 1:
        out["phase"] = spec.phase
    out.update(max_current_a=_number(spec.max_current_a), min_current_a=_number(spec.min_current_a),
               efficiency=_number(spec.efficiency), kind=spec.kind)
    if spec.allowed_current_a:
        out["allowed_current_a"] = [_number(a) for a in spec.allowed_current_a]
    else:
        out["current_step_a"] = _number(spec.current_step_a)
    return out


def _site(site: SiteSpec) -> dict[str, Any]:
    """The ``[site]`` table; empty (and then left out) for the default site."""
    out: dict[str, Any] = {}
    if site.import_limit_kw is not None:
        out["import_limit_kw"] = _number(site.import_limit_kw)
    if site.buses is not None:
        out["buses"] = list(site.buses)
    if site.limits:
        out["limits"] = [_limit(node) for node in site.limits]
    return out


def _limit(node: LimitSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.node_id}
    if node.parent is not None:
        out["parent"] = node.parent
    if node.max_current_a is not None:
        out["max_current_a"] = _number(node.max_current_a)
    if node.max_kva is not None:
        out["max_kva"] = _number(node.max_kva)
    if node.chargers:
        out["chargers"] = list(node.chargers)
    if node.charger_prefix is not None:
        out["charger_prefix"] = node.charger_prefix
    return out


def _tariff(tariff: TariffSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"price_per_kwh": _number(tariff.price_per_kwh)}
    if tariff.periods:
        out["periods"] = [{"start_h": _number(p.start_h), "end_h": _number(p.end_h),
                           "price_per_kwh": _number(p.price_per_kwh), "days": p.days} for p in tariff.periods]
    return out


def _fleet(fleet: FleetSpec, base_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"source": fleet.source}
    if fleet.file is not None:
        out["file"] = _path(fleet.file, base_dir)
        out["assign"] = fleet.assign
    if fleet.vehicles:
        out["vehicles"] = list(fleet.vehicles)
    kinds = {kind: _kind_delta(kind, profile) for kind, profile in fleet.kinds.items()}
    kinds = {kind: delta for kind, delta in kinds.items() if delta}
    if kinds:
        out["kinds"] = kinds
    return out


def _kind_delta(kind: str, profile: KindProfile) -> dict[str, Any]:
    """The fields of ``profile`` that differ from the built-in parameters of ``kind``."""
    builtin = BUILTIN_KINDS.get(kind)
    if builtin is None:
        return {k: _number(v) for k, v in asdict(profile).items()}
    return {f.name: _number(getattr(profile, f.name)) for f in fields(KindProfile)
            if getattr(profile, f.name) != getattr(builtin, f.name)}


def _battery(battery: BatterySpec) -> dict[str, Any]:
    return {"model": battery.model, "transition_soc": _number(battery.transition_soc),
            "default_capacity_kwh": _number(battery.default_capacity_kwh)}
