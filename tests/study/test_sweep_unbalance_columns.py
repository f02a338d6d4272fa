"""A sweep row carries the unbalance KPIs of an unbalanced run (empty in a balanced one), and the
dataset's schema has a column for each, so sweeps of unbalanced runs can be compared in pandas."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from sim.results import UNBALANCE_KPI_KEYS
from sim.scenario import default_scenario_path, load_scenario
from sim.study.dataset import SweepDataset, load_sweep, row_schema
from sim.study.runs import STATUS_OK, SWEEP_KPI_KEYS, RunSpec, make_row


def _spec(run_key: str) -> RunSpec:
    return RunSpec(run_key, 0, "h", {}, 0, load_scenario(default_scenario_path()))


def test_unbalance_kpis_reach_the_dataset(tmp_path: Path) -> None:
    schema = row_schema({})
    numeric = [key for key in UNBALANCE_KPI_KEYS if key != "vuf_max_time"]
    assert all(key in schema.names for key in numeric) and "vuf_max_time" not in schema.names
    assert schema.field("vuf_max_bus").type == pa.int64() and schema.field("vuf_max_percent").type == pa.float64()

    unbalanced = {key: 1.0 for key in SWEEP_KPI_KEYS} | {"n_sessions": 3, "vuf_max_bus": 899,
                                                       "vuf_max_percent": 2.3, "vuf_max_time": "2027-01-01T18:00Z"}
    dataset = SweepDataset(tmp_path, {})
    dataset.kpi_dir.mkdir(parents=True)  # what prepare() does, without a study file
    dataset.write(make_row(_spec("a"), unbalanced, STATUS_OK, None, 1.0, "w"))
    dataset.write(make_row(_spec("b"), {"n_sessions": 2}, STATUS_OK, None, 1.0, "w"))  # a balanced run
    frame = load_sweep(tmp_path).set_index("run_key")
    assert frame.loc["a", "vuf_max_percent"] == 2.3 and frame.loc["a", "vuf_max_bus"] == 899
    assert frame["vuf_max_percent"].isna().tolist() == [False, True]
