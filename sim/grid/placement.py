"""Put chargers on feeder buses: explicit ``bus`` entries and seeded placement rules.

Each ``[[chargers]]`` entry is either one explicit charger (``bus`` set) or a rule (``place`` set):

* ``per_load_bus``: one charger on each of a random ``share`` of the load buses
  (``round(share * n_load_buses)`` buses drawn without replacement);
* ``random_load_buses``: ``count`` chargers on load buses, drawn without replacement, or with
  replacement only when ``count`` exceeds the number of load buses.

Rule chargers are listed in bus order and named ``{id_prefix}{k:03d}`` with k = 1, 2, ... per entry
(an explicit entry without an id is named ``{id_prefix}001``). Single-phase chargers with
``phase = "random"`` get L1/L2/L3 drawn from ``rng``. All draws come from ``rng`` in entry order,
so a given seed always yields the same chargers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.domain import Charger
from sim.domain.chargers import PHASES_1
from sim.errors import ScenarioError
from sim.grid.feeder import Feeder
from sim.scenario.schema import PLACEMENT_RULES, ChargerSpec


@dataclass(frozen=True)
class _Ctx:
    file: str
    index: int

    def err(self, field: str, message: str, **kw) -> ScenarioError:
        return ScenarioError(
            self.file, f"chargers[{self.index}]{'.' + field if field else ''}", message, **kw
        )


def place_chargers(
    specs: Sequence[ChargerSpec], feeder: Feeder, rng: np.random.Generator, scenario_file: str
) -> tuple[tuple[Charger, ...], tuple[str, ...]]:
    """Turn the scenario's charger entries into ``Charger`` objects (and each one's kind)."""
    chargers: list[Charger] = []
    made_by: dict[str, int] = {}
    for i, spec in enumerate(specs):
        ctx = _Ctx(scenario_file, i)
        _check_electrical(spec, ctx)
        if (spec.bus is None) == (spec.place is None):
            raise ctx.err(
                "",
                "set either bus (one explicit charger) or place (a placement rule)",
                value={"bus": spec.bus, "place": spec.place},
            )
        if spec.bus is not None:
            buses, ids = _explicit_bus(spec, feeder, ctx), [spec.charger_id or f"{spec.id_prefix}001"]
        else:
            buses = _rule_buses(spec, feeder, rng, ctx)
            ids = [f"{spec.id_prefix}{k:03d}" for k in range(1, buses.size + 1)]
        phases = _phases(spec, buses.size, rng, ctx)
        for cid, bus, phase in zip(ids, buses, phases, strict=True):
            if cid in made_by:
                raise ctx.err(
                    "id" if spec.bus is not None else "id_prefix",
                    f"charger id {cid!r} is also made by chargers[{made_by[cid]}]",
                    value=cid,
                    expected="charger ids unique across all [[chargers]] entries",
                )
            made_by[cid] = i
            chargers.append(_charger(spec, cid, int(bus), phase))
    return tuple(chargers), tuple(c.kind for c in chargers)


def _charger(spec: ChargerSpec, cid: str, bus: int, phase: str) -> Charger:
    return Charger(
        charger_id=cid,
        bus=bus,
        phases=int(spec.phases),
        phase=phase,
        max_current_a=float(spec.max_current_a),
        min_current_a=float(spec.min_current_a),
        efficiency=float(spec.efficiency),
        kind=spec.kind,
        current_step_a=float(spec.current_step_a),
        allowed_current_a=tuple(float(a) for a in spec.allowed_current_a),
    )


def _check_electrical(spec: ChargerSpec, ctx: _Ctx) -> None:
    if spec.phases not in (1, 3):
        raise ctx.err("phases", "a charger has 1 or 3 phases", value=spec.phases, expected="1 or 3")
    if spec.phases == 1 and spec.phase not in (*PHASES_1, "random"):
        raise ctx.err(
            "phase",
            "a single-phase charger needs the phase it is wired to",
            value=spec.phase,
            expected="L1, L2, L3 or random",
        )
    if spec.phases == 3 and spec.phase != "L1L2L3":
        raise ctx.err(
            "phase",
            "a three-phase charger uses all phases",
            value=spec.phase,
            expected="L1L2L3 (or phases = 1)",
        )


def _explicit_bus(spec: ChargerSpec, feeder: Feeder, ctx: _Ctx) -> NDArray[np.int64]:
    bus = spec.bus
    bus_ids = feeder.bus_ids
    valid = isinstance(bus, (int, np.integer)) and not isinstance(bus, bool) and int(bus) in set(bus_ids)
    if valid and not bool(feeder.net.bus.at[int(bus), "in_service"]):
        raise ctx.err(
            "bus", "this bus is out of service in the network", value=bus, expected=_bus_hint(feeder)
        )
    if not valid:
        raise ctx.err("bus", "no such bus in the network", value=bus, expected=_bus_hint(feeder))
    return np.array([int(bus)], dtype=np.int64)


def _bus_hint(feeder: Feeder) -> str:
    ids = feeder.bus_ids
    load_buses = feeder.load_bus_ids()
    sample = ", ".join(str(b) for b in load_buses[:8]) + (", ..." if len(load_buses) > 8 else "")
    return f"a bus index {min(ids)}..{max(ids)} ({len(ids)} buses); load buses are {sample or 'none'}"


def _rule_buses(spec: ChargerSpec, feeder: Feeder, rng: np.random.Generator, ctx: _Ctx) -> NDArray[np.int64]:
    if spec.place not in PLACEMENT_RULES:
        raise ctx.err(
            "place",
            "unknown placement rule",
            value=spec.place,
            expected="one of " + ", ".join(PLACEMENT_RULES),
        )
    load_buses = np.asarray(feeder.load_bus_ids(), dtype=np.int64)
    if load_buses.size == 0:
        raise ctx.err(
            "place",
            "the network has no load buses to place chargers on",
            value=spec.place,
            expected="explicit chargers (bus = ...) for this network",
        )
    if spec.place == "per_load_bus":
        if not (np.isfinite(spec.share) and 0.0 <= spec.share <= 1.0):
            raise ctx.err(
                "share",
                "must be a fraction of the load buses",
                value=spec.share,
                expected="a number in [0, 1]",
            )
        n = int(round(spec.share * load_buses.size))
        return np.sort(rng.choice(load_buses, size=n, replace=False))
    count = spec.count
    if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 0:
        raise ctx.err(
            "count", "random_load_buses needs the number of chargers", value=count, expected="an integer >= 0"
        )
    return np.sort(rng.choice(load_buses, size=int(count), replace=int(count) > load_buses.size))


def _phases(spec: ChargerSpec, n: int, rng: np.random.Generator, ctx: _Ctx) -> list[str]:
    if spec.phases == 1 and spec.phase == "random":
        return [PHASES_1[k] for k in rng.integers(0, len(PHASES_1), size=n)]
    return [spec.phase] * n
