"""The live site file: the example loads, a scenario's site part reads the same, malformed files fail clearly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.domain import Charger
from sim.errors import ScenarioError
from sim.live.site_file import ControlSpec, load_site, site_from_dict
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scenarios" / "live" / "site_example.toml"
MALFORMED = sorted((Path(__file__).parent / "malformed_site").glob("*.toml"))


def test_example_site_loads() -> None:
    site = load_site(EXAMPLE)
    assert site.name == "workplace-live"
    assert site.chargers.ids[:2] == ("office-01", "office-02") and len(site.chargers) == 7
    assert site.chargers.chargers[-1].phases == 1 and site.chargers.chargers[-1].phase == "L2"
    assert site.control == ControlSpec(period_s=30.0, deadband_a=1.0, min_send_interval_s=60.0, safe_limit_a=6.0,
                                       stack_level=1)
    assert site.store_path == EXAMPLE.parent / "workplace-live.sqlite"
    assert str(site.time_zone) == "Europe/Berlin" and site.base_load_kw == 20.0
    assert site.grid is not None and site.grid.network == "cigre_lv"
    assert [n.node_id for n in site.limits] == ["site-fuse", "car-park", "yard"]
    assert site.limits[1].charger_ids == tuple(f"office-0{k}" for k in range(1, 6))
    assert site.make_strategy().name == "edf"
    assert site.charger_for("nobody") is None and not site.accept_unknown_chargers


def test_defaults() -> None:
    site = site_from_dict({"chargers": [{"id": "cp1", "bus": 0}]}, "/tmp/depot.toml")
    assert site.name == "depot" and site.control == ControlSpec()
    assert site.control.period_s == 30.0 and site.store_path == Path("/tmp/depot.sqlite")
    assert site.strategy.name == "uncontrolled" and site.grid is None and site.limits == ()
    assert str(site.time_zone) == "UTC" and site.base_load_kw == 0.0


def test_a_scenario_site_part_reads_the_same() -> None:
    """Chargers, [site], [tariff] and [strategy] of a scenario paste into a site file unchanged."""
    path = ROOT / "scenarios" / "workplace_managed.toml"
    raw = tomllib.loads(path.read_text())
    scenario = load_scenario(path)
    site = site_from_dict({k: raw[k] for k in ("chargers", "site", "tariff", "strategy", "grid")}, path)
    assert site.site == scenario.site and site.tariff == scenario.tariff and site.strategy == scenario.strategy
    assert site.chargers.ids == tuple(c.charger_id for c in scenario.chargers)
    yard = dict(zip(site.chargers.ids, site.chargers.chargers, strict=True))["yard-05"]
    assert (yard.phases, yard.phase, yard.max_current_a) == (1, "L3", 32.0)
    assert site.constraints(site.chargers).row_names[-1] == "import_kw"


def test_unknown_chargers_take_the_template() -> None:
    site = site_from_dict({"accept_unknown_chargers": True, "unknown_chargers": {"bus": 7, "max_current_a": 20},
                           "chargers": [{"id": "cp1", "bus": 0}],
                           "site": {"limits": [{"id": "fuse", "max_current_a": 63}]}})
    guest = site.charger_for("guest-9")
    assert guest == Charger("guest-9", 7, max_current_a=20.0)
    assert site.charger_for("cp1") == site.chargers.chargers[0]
    default = site_from_dict({"accept_unknown_chargers": True, "chargers": [{"id": "cp1", "bus": 0}]})
    assert default.charger_for("x") == Charger("x", 0)


def _expected(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return [part.strip() for part in first.removeprefix("# expect: ").split(" | ")]


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_site_files_name_the_problem(path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_site(path)
    message = str(info.value)
    assert path.name in message
    for fragment in _expected(path):
        assert fragment in message, (fragment, message)


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_site(ROOT / "no-such-site.toml")
