"""load_results: clear errors for missing or damaged results directories; import boundaries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ResultsError
from sim.results import load_results
from sim.results.results import RESULT_FILES
from sim.results.synthetic import synthetic_results


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return synthetic_results(np.random.default_rng(5), n_steps=6).save(tmp_path / "run")


@pytest.mark.parametrize("name", RESULT_FILES)
def test_missing_file_is_named(saved: Path, name: str) -> None:
    (saved / name).unlink()
    with pytest.raises(ResultsError, match=name.replace(".", r"\.")):
        load_results(saved)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a results directory"):
        load_results(tmp_path / "nowhere")


def test_damaged_parquet_is_named(saved: Path) -> None:
    (saved / "timeseries.parquet").write_bytes(b"not parquet")
    with pytest.raises(ResultsError, match=r"timeseries\.parquet: cannot read as Parquet"):
        load_results(saved)


def test_damaged_summary_is_named(saved: Path) -> None:
    (saved / "summary.json").write_text("{ nope")
    with pytest.raises(ResultsError, match=r"summary\.json: cannot read"):
        load_results(saved)
    (saved / "summary.json").write_text(json.dumps({"scenario": "x"}))
    with pytest.raises(ResultsError, match="record_period_s"):
        load_results(saved)


def test_missing_column_is_named(saved: Path) -> None:
    res = load_results(saved)
    res.sessions.drop(columns="bus").to_parquet(saved / "sessions.parquet", index=False)
    with pytest.raises(ResultsError, match=r"sessions\.parquet: missing column\(s\) \['bus'\]"):
        load_results(saved)


@pytest.mark.parametrize("kwargs", [{}, {"n_steps": 0, "n_buses": 0, "n_chargers": 0, "n_sessions": 0}])
def test_synthetic_round_trip(tmp_path: Path, kwargs: dict) -> None:
    res = synthetic_results(np.random.default_rng(1), **kwargs)
    assert load_results(res.save(tmp_path)).equals(res)


def test_results_rooms_import_no_engine_grid_or_simpy() -> None:
    code = (
        "import sys, sim.results, sim.report, sim.results.synthetic\n"
        "bad = [m for m in ('simpy', 'pandapower', 'sim.engine', 'sim.grid', 'matplotlib.pyplot')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
