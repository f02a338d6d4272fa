"""The criteria file of a hosting-capacity study (TOML): which limits a feeder must keep.

Every key is optional; an absent key keeps its default (``sim.results.violations.Criteria``)::

    [voltage]
    rule = "band"               # "band": every bus, every tick within [vm_min_pu, vm_max_pu];
                                # "en50160": on 10-minute means per week, en50160_share of them within
                                #   [vm_min_pu, vm_max_pu] and all within [en50160_vm_min_pu, en50160_vm_max_pu]
    vm_min_pu = 0.90
    vm_max_pu = 1.10
    en50160_share = 0.95
    en50160_vm_min_pu = 0.85
    en50160_vm_max_pu = 1.10

    [loading]
    line_max_percent = 100      # % of each line's thermal rating
    trafo_max_percent = 100     # % of the transformer's rating

    [violations]
    max_minutes_per_year = 0    # minutes per year the per-tick limits may be broken in all

    [unbalance]                 # only for unbalanced runs ([grid] loadflow = "unbalanced")
    vuf_max_percent = 2.0       # voltage unbalance factor |V2| / |V1| of every bus (EN 50160: 2 %);
                                #   absent: not checked
    max_minutes_per_year = 0    # minutes per year it may be above, its own allowance

A bad file raises ``ScenarioError`` naming the file, the key, the value and what is valid.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.results.violations import VOLTAGE_RULES, Criteria
from sim.scenario._reader import Table

SECTIONS = ("voltage", "loading", "violations", "unbalance")
VOLTAGE_KEYS = ("rule", "vm_min_pu", "vm_max_pu", "en50160_share", "en50160_vm_min_pu", "en50160_vm_max_pu")
LOADING_KEYS = ("line_max_percent", "trafo_max_percent")
VIOLATION_KEYS = ("max_minutes_per_year",)
UNBALANCE_KEYS = ("vuf_max_percent", "max_minutes_per_year")


def load_criteria(path: str | Path | None) -> Criteria:
    """The criteria of ``path`` (the defaults for ``None``), validated."""
    if path is None:
        return Criteria()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(file), "", "criteria file not found", expected="an existing TOML file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(str(file), "", f"cannot read the criteria file: {error}", expected="a TOML text file") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(str(file), "", f"not valid TOML: {error}", expected="a TOML criteria file") from None
    return criteria_from_dict(data, str(file))


def criteria_from_dict(data: dict[str, Any], file: str = "<criteria>") -> Criteria:
    """Validate a parsed criteria mapping (see the module docstring) into ``Criteria``."""
    root = Table(file, "", data)
    root.check_keys(SECTIONS)
    default = Criteria()
    voltage = root.table("voltage", required=False) or Table(file, "voltage", {})
    loading = root.table("loading", required=False) or Table(file, "loading", {})
    violations = root.table("violations", required=False) or Table(file, "violations", {})
    unbalance = root.table("unbalance", required=False) or Table(file, "unbalance", {})
    voltage.check_keys(VOLTAGE_KEYS)
    loading.check_keys(LOADING_KEYS)
    violations.check_keys(VIOLATION_KEYS)
    unbalance.check_keys(UNBALANCE_KEYS)
    vuf_max = (unbalance.number("vuf_max_percent", 2.0, lo=0.0, lo_open=True, hi=100.0, hi_open=True)
               if "vuf_max_percent" in unbalance.data else None)
    if vuf_max is None and "max_minutes_per_year" in unbalance.data:
        raise ScenarioError(file, "unbalance.max_minutes_per_year", "an allowance without a limit",
                            value=unbalance.data["max_minutes_per_year"],
                            expected="unbalance.vuf_max_percent set too (e.g. 2.0)")
    vm_min = voltage.number("vm_min_pu", default.vm_min_pu, lo=0.5, hi=1.0, hi_open=True)
    vm_max = voltage.number("vm_max_pu", default.vm_max_pu, lo=1.0, lo_open=True, hi=1.5)
    en_min = voltage.number("en50160_vm_min_pu", default.en50160_vm_min_pu, lo=0.5, hi=vm_min)
    en_max = voltage.number("en50160_vm_max_pu", default.en50160_vm_max_pu, lo=vm_max, hi=1.5)
    return Criteria(
        vm_min_pu=vm_min,
        vm_max_pu=vm_max,
        voltage_rule=voltage.string("rule", default.voltage_rule, choices=VOLTAGE_RULES),
        en50160_share=voltage.number("en50160_share", default.en50160_share, lo=0.0, lo_open=True, hi=1.0),
        en50160_vm_min_pu=en_min,
        en50160_vm_max_pu=en_max,
        line_max_percent=loading.number("line_max_percent", default.line_max_percent, lo=0.0, lo_open=True),
        trafo_max_percent=loading.number("trafo_max_percent", default.trafo_max_percent, lo=0.0, lo_open=True),
        max_violation_minutes_per_year=violations.number("max_minutes_per_year",
                                                         default.max_violation_minutes_per_year, lo=0.0),
        vuf_max_percent=vuf_max,
        vuf_max_minutes_per_year=unbalance.number("max_minutes_per_year", default.vuf_max_minutes_per_year, lo=0.0),
    )


def criteria_dict(criteria: Criteria) -> dict[str, Any]:
    """The criteria as the TOML file's tables (for ``hosting.json`` and a copy next to the results);
    ``unbalance`` only when it is checked (so the criteria hash of a study without it is unchanged)."""
    values = asdict(criteria)
    unbalance = ({"unbalance": {"vuf_max_percent": values["vuf_max_percent"],
                                "max_minutes_per_year": values["vuf_max_minutes_per_year"]}}
                 if criteria.vuf_max_percent is not None else {})
    return {
        "voltage": {"rule": values["voltage_rule"], "vm_min_pu": values["vm_min_pu"], "vm_max_pu": values["vm_max_pu"],
                    "en50160_share": values["en50160_share"], "en50160_vm_min_pu": values["en50160_vm_min_pu"],
                    "en50160_vm_max_pu": values["en50160_vm_max_pu"]},
        "loading": {"line_max_percent": values["line_max_percent"],
                    "trafo_max_percent": values["trafo_max_percent"]},
        "violations": {"max_minutes_per_year": values["max_violation_minutes_per_year"]},
        **unbalance,
    }
