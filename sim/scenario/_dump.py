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
    Scenario,
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
    out["chargers"] = [_charger(c) for c in scenario.chargers]
    out["fleet"] = _fleet(scenario.fleet, base_dir)
    out["battery"] = _battery(scenario.battery)
    out["strategy"] = {"name": scenario.strategy.name, **scenario.strategy.params}
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
