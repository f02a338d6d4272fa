"""The user-written strategy in docs/strategies.md runs through ``sim.simulate`` as the guide says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

import sim
from sim.strategies import create

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "strategies.md"


def _example() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- example: user-strategy -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/strategies.md lost its marked user-strategy example"
    return match.group(1)


def test_the_example_is_under_30_lines() -> None:
    assert len(_example().strip().splitlines()) < 30


def test_the_example_strategy_runs_in_a_simulation() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_example(), str(GUIDE), "exec"), namespace)  # noqa: S102 - our own documentation
    strategy = namespace["GentleEdf"](cap_a=16.0)
    assert create(strategy) is strategy
    results = sim.simulate(ROOT / "scenarios" / "workplace.toml", overrides=["simulation.duration=1d"],
                           strategy=strategy)
    assert results.summary["strategy"] == "gentle_edf"
    assert results.kpis["energy_delivered_kwh"] > 0.0
    cap_kw = 3 * 230.0 * 16.0 / 1000.0  # three-phase at 16 A; the single-phase chargers draw less
    power = results.timeseries[[c for c in results.timeseries.columns if c.startswith("p_kw:")]].to_numpy()
    assert np.all(power <= cap_kw + 1e-6)
