"""The strategy registry and the engine's check of what a strategy returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.domain import Setpoints
from sim.errors import StrategyError
from sim.scenario.schema import STRATEGY_NAMES
from sim.strategies import BUILTIN, Uncontrolled, available, create

ROOT = Path(__file__).resolve().parents[2]


def test_loader_names_equal_the_registry() -> None:
    assert set(STRATEGY_NAMES) == set(BUILTIN)


def test_create_by_name_and_object() -> None:
    assert isinstance(create("uncontrolled"), Uncontrolled)
    mine = Uncontrolled()
    assert create(mine) is mine
    assert "uncontrolled" in available()


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(StrategyError, match="unknown strategy 'edff'.*uncontrolled"):
        create("edff")


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(StrategyError, match="'target_kw'"):
        create("uncontrolled", {"target_kw": 5})


def test_not_a_strategy() -> None:
    with pytest.raises(StrategyError, match="is not a strategy"):
        create(object())  # type: ignore[arg-type]


class Broken:
    name = "broken"

    def __init__(self, value: float) -> None:
        self.value = value

    def compute(self, view):  # noqa: ANN001, ANN201
        return Setpoints(np.full(len(view.chargers), self.value))


@pytest.mark.parametrize("value, fragment", [(3.0, "valid: 0 or between 6 and 32 A"), (40.0, "to 40 A"),
                                             (float("nan"), "to nan A")])
def test_infeasible_setpoints_are_a_clear_error(value: float, fragment: str) -> None:
    with pytest.raises(StrategyError, match="strategy 'broken' set charger") as info:
        sim.simulate(ROOT / "scenarios" / "workplace.toml", overrides=["simulation.duration=1d"], strategy=Broken(value))
    assert fragment in str(info.value)


def test_uncontrolled_offers_full_current_only_where_plugged_in() -> None:
    from sim.domain import ActiveSessions, Charger, ChargerTable, SiteView

    chargers = ChargerTable((Charger("a", 1, max_current_a=16), Charger("b", 1, max_current_a=32),
                             Charger("c", 1, phases=1, phase="L1", max_current_a=10)))
    arr = np.array
    sessions = ActiveSessions(("s1", "s2"), arr([2, 0]), arr([0.0, 0.0]), arr([9.0, 9.0]), arr([5.0, 5.0]),
                              arr([0.0, 0.0]), arr([10.0, 16.0]))
    sp = Uncontrolled().compute(SiteView(0.0, 300.0, chargers, sessions))
    np.testing.assert_array_equal(sp.current_a, [16.0, 0.0, 10.0])
