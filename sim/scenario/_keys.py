"""The key tree of a scenario file: which keys are valid at which level.

One declaration serves both the validator (unknown-key errors list the valid keys of their level)
and the ``--set`` override parser (an override path is checked against the same tree before it is
applied). A table is a ``dict`` of child keys, an array of tables is a one-element ``list`` holding
the element's tree, a plain value is ``None`` and ``ANY`` marks a table whose keys are free (the
strategy parameters).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sim.scenario.schema import CHARGER_KINDS, KindProfile

ANY: Any = "<any key>"

ROOT_KEYS = ("name", "description", "simulation", "grid", "site", "chargers", "fleet", "battery", "strategy",
             "tariff")
SIMULATION_KEYS = ("start", "duration", "control_period_s", "seed")
GRID_KEYS = ("network", "simbench", "file", "loadflow", "base_load", "pv", "vm_band_pu", "vuf_limit_percent")
BASE_LOAD_KEYS = ("profile", "scale", "peak_kw")
PV_KEYS = ("share", "kwp")
CHARGER_EXPLICIT_KEYS = ("id", "bus")
CHARGER_RULE_KEYS = ("place", "share", "count", "id_prefix")
CHARGER_COMMON_KEYS = ("phases", "phase", "max_current_a", "min_current_a", "efficiency", "kind",
                       "current_step_a", "allowed_current_a")
CHARGER_KEYS = CHARGER_EXPLICIT_KEYS + CHARGER_RULE_KEYS + CHARGER_COMMON_KEYS
FLEET_KEYS = ("source", "file", "assign", "vehicles", "kinds")
KIND_KEYS = tuple(f.name for f in fields(KindProfile))
BATTERY_KEYS = ("model", "transition_soc", "default_capacity_kwh")
SITE_KEYS = ("import_limit_kw", "buses", "limits")
LIMIT_KEYS = ("id", "parent", "max_current_a", "max_kva", "chargers", "charger_prefix")
TARIFF_KEYS = ("price_per_kwh", "periods")
TARIFF_PERIOD_KEYS = ("start_h", "end_h", "price_per_kwh", "days")


def _leaves(keys: tuple[str, ...]) -> dict[str, Any]:
    return dict.fromkeys(keys)


KEY_TREE: dict[str, Any] = {
    "name": None,
    "description": None,
    "simulation": _leaves(SIMULATION_KEYS),
    "grid": {
        **_leaves(GRID_KEYS),
        "base_load": _leaves(BASE_LOAD_KEYS),
        "pv": _leaves(PV_KEYS),
    },
    "site": {
        **_leaves(SITE_KEYS),
        "buses": [None],
        "limits": [{**_leaves(LIMIT_KEYS), "chargers": [None]}],
    },
    "chargers": [{**_leaves(CHARGER_KEYS), "allowed_current_a": [None]}],
    "fleet": {
        **_leaves(FLEET_KEYS),
        "vehicles": [None],
        "kinds": {kind: _leaves(KIND_KEYS) for kind in CHARGER_KINDS},
    },
    "battery": _leaves(BATTERY_KEYS),
    "strategy": ANY,
    "tariff": {**_leaves(TARIFF_KEYS), "periods": [_leaves(TARIFF_PERIOD_KEYS)]},
}
