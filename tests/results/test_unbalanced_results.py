"""Per-phase results of an unbalanced run: recorder (step and block), save/load, KPIs with known answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.domain import GridState, Timebase
from sim.results import KPI_KEYS, UNBALANCE_KPI_KEYS, Recorder, Results, load_results
from sim.results.metrics import compute_unbalance_kpis
from sim.results.phases import PHASE_FILES, PHASE_TIMESERIES_COLUMNS
from sim.results.results import PER_PHASE_KEY, RESULT_FILES, TIMESERIES_COLUMNS

START = datetime(2024, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
PERIOD_S = 600.0
CHARGERS = ("cp-1",)
BUSES = (1, 2, 3)
LINES = (0, 1)
TRAFOS = (0,)


def _state(step: int, rng: np.random.Generator, phases: bool = True) -> GridState:
    """A made-up unbalanced state (phase a lowest on purpose); ``vm_pu`` is the lowest phase."""
    vm_phase = np.column_stack([rng.uniform(0.90, 0.95, 3), rng.uniform(0.97, 1.0, 3), rng.uniform(1.0, 1.06, 3)])
    return GridState(
        time_s=step * PERIOD_S, vm_pu=vm_phase.min(axis=1), line_loading_percent=rng.uniform(0, 90, 2),
        trafo_loading_percent=rng.uniform(0, 90, 1), p_import_kw=30.0 + step, q_import_kvar=1.0, losses_kw=0.5,
        vm_phase_pu=vm_phase if phases else None, vuf_percent=rng.uniform(0.0, 3.0, 3) if phases else None,
        vm0_pu=rng.uniform(0.0, 0.02, 3) if phases else None,
        line_i_phase_ka=rng.uniform(0.0, 0.2, (2, 3)) if phases else None,
        p_import_phase_kw=np.array([15.0, 10.0, 5.0 + step]) if phases else None,
    )


def _recorder(n: int) -> Recorder:
    return Recorder(n, PERIOD_S, Timebase(START), CHARGERS, BUSES, LINES, TRAFOS)


def _recorded(n: int = 4, seed: int = 1, phases: bool = True) -> tuple[Results, list[GridState]]:
    rng = np.random.default_rng(seed)
    rec = _recorder(n)
    states = [_state(k, rng, phases) for k in range(n)]
    for k, state in enumerate(states):
        rec.record_step(k, k * PERIOD_S, [3.7], 20.0, 0.0, state)
    return rec.finish(None, {"vuf_limit_percent": 2.0} if phases else {}), states


def test_recorder_keeps_every_phase_field_and_the_round_trip_keeps_them(tmp_path: Path) -> None:
    res, states = _recorded()
    phases = res.phases
    assert phases is not None and res.summary[PER_PHASE_KEY] is True
    for j, name in enumerate(("vm_a_pu", "vm_b_pu", "vm_c_pu")):
        table = getattr(phases, name)
        assert list(table.columns) == ["1", "2", "3"] and table.index.equals(res.bus_vm_pu.index)
        np.testing.assert_array_equal(table.to_numpy(), np.vstack([s.vm_phase_pu[:, j] for s in states]))
    np.testing.assert_array_equal(phases.vuf_percent.to_numpy(), np.vstack([s.vuf_percent for s in states]))
    np.testing.assert_array_equal(phases.vm0_pu.to_numpy(), np.vstack([s.vm0_pu for s in states]))
    np.testing.assert_array_equal(phases.line_i_b_ka["1"].to_numpy(), [s.line_i_phase_ka[1, 1] for s in states])
    ts = res.timeseries
    assert list(ts.columns) == [*TIMESERIES_COLUMNS, *PHASE_TIMESERIES_COLUMNS, "p_kw:cp-1"]
    np.testing.assert_array_equal(ts["vm_min_a_pu"], [s.vm_phase_pu[:, 0].min() for s in states])
    np.testing.assert_array_equal(ts["vm_max_c_pu"], [s.vm_phase_pu[:, 2].max() for s in states])
    np.testing.assert_array_equal(ts["vm_max_pu"], [s.vm_max_pu for s in states])  # the highest phase
    np.testing.assert_array_equal(ts["vuf_max_percent"], [s.vuf_percent.max() for s in states])
    np.testing.assert_array_equal(ts["p_import_c_kw"], [5.0, 6.0, 7.0, 8.0])
    assert set(UNBALANCE_KPI_KEYS) <= set(res.kpis)

    res.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == set(RESULT_FILES) | set(PHASE_FILES)
    back = load_results(tmp_path)
    assert back.equals(res) and back.phases is not None
    pd.testing.assert_frame_equal(back.phases.vm_b_pu, phases.vm_b_pu)
    pd.testing.assert_frame_equal(back.timeseries, ts)


def test_record_block_adopts_the_solver_arrays_and_equals_per_step_recording() -> None:
    res_steps, states = _recorded()

    @dataclass
    class Block:  # what UnbalancedBlockResult gives the recorder
        vm_pu: np.ndarray
        line_loading_percent: np.ndarray
        trafo_loading_percent: np.ndarray
        p_import_kw: np.ndarray
        q_import_kvar: np.ndarray
        losses_kw: np.ndarray
        vm_phase_pu: np.ndarray
        vuf_percent: np.ndarray
        vm0_pu: np.ndarray
        line_i_phase_ka: np.ndarray
        p_import_phase_kw: np.ndarray

    def stack(name: str) -> np.ndarray:
        return np.ascontiguousarray(np.stack([np.asarray(getattr(s, name), dtype=float) for s in states]))

    block = Block(*(stack(f) for f in ("vm_pu", "line_loading_percent", "trafo_loading_percent", "p_import_kw",
                                       "q_import_kvar", "losses_kw", "vm_phase_pu", "vuf_percent", "vm0_pu",
                                       "line_i_phase_ka", "p_import_phase_kw")))
    rec = _recorder(4)
    n = len(states)
    rec.record_block(0, np.arange(n) * PERIOD_S, np.full((n, 1), 3.7), np.full(n, 20.0), np.zeros(n), block,
                     site_base_load_kw=np.full(n, np.nan), price_per_kwh=np.full(n, np.nan),
                     site_limit_violation=np.zeros(n, bool), site_limit_max_use_percent=np.full(n, np.nan))
    res = rec.finish(None, {"vuf_limit_percent": 2.0})
    assert res.phases is not None
    assert np.shares_memory(res.phases.vm_a_pu.to_numpy(), block.vm_phase_pu)  # adopted, not copied
    assert np.shares_memory(res.phases.vuf_percent.to_numpy(), block.vuf_percent)
    assert res.equals(res_steps)


def test_a_balanced_run_records_nothing_new(tmp_path: Path) -> None:
    unbalanced, _ = _recorded()
    unbalanced.save(tmp_path)
    res, _ = _recorded(phases=False)
    assert res.phases is None and PER_PHASE_KEY not in res.summary and "vuf_limit_percent" not in res.summary
    assert list(res.timeseries.columns) == [*TIMESERIES_COLUMNS, "p_kw:cp-1"]
    assert list(res.kpis) == list(KPI_KEYS)
    res.save(tmp_path)  # over the unbalanced run's directory: its phase tables go
    assert {p.name for p in tmp_path.iterdir()} == set(RESULT_FILES)
    assert load_results(tmp_path).equals(res)


def test_mixing_balanced_and_unbalanced_steps_is_refused() -> None:
    rng = np.random.default_rng(0)
    rec = _recorder(2)
    rec.record_step(0, 0.0, [1.0], 1.0, 0.0, _state(0, rng, phases=False))
    with pytest.raises(ValueError, match="per-phase grid results arrived after steps without them"):
        rec.record_step(1, PERIOD_S, [1.0], 1.0, 0.0, _state(1, rng))
    rec = _recorder(2)
    rec.record_step(0, 0.0, [1.0], 1.0, 0.0, _state(0, rng))
    with pytest.raises(ValueError, match="vm_phase_pu is missing"):
        rec.record_step(1, PERIOD_S, [1.0], 1.0, 0.0, _state(1, rng, phases=False))


def test_load_names_a_missing_phase_file(tmp_path: Path) -> None:
    res, _ = _recorded()
    res.save(tmp_path)
    (tmp_path / "bus_vuf_percent.parquet").unlink()
    with pytest.raises(Exception, match="bus_vuf_percent.parquet"):
        load_results(tmp_path)


def test_unbalance_kpis_on_hand_made_ticks() -> None:
    """Four 15-minute ticks; band (0.9, 1.1), limit 2 %: answers counted by hand."""
    times = pd.date_range("2026-01-05T00:00Z", periods=4, freq="15min", name="time")
    ts = pd.DataFrame({
        "time": times,
        "vm_min_a_pu": [0.95, 0.89, 0.88, 0.97], "vm_max_a_pu": [1.0, 1.0, 1.0, 1.0],   # a low in ticks 1, 2
        "vm_min_b_pu": [0.99, 0.99, 0.99, 0.99], "vm_max_b_pu": [1.02, 1.02, 1.02, 1.02],  # b always fine
        "vm_min_c_pu": [1.0, 1.0, 1.0, 1.0], "vm_max_c_pu": [1.05, 1.05, 1.12, 1.11],   # c high in ticks 2, 3
        "vuf_max_percent": [0.5, 2.5, 3.1, 2.0],  # above 2 % in ticks 1, 2 (2.0 is within)
        "p_import_a_kw": [10.0, 30.0, 25.0, 5.0], "p_import_b_kw": [8.0, 9.0, 7.0, 6.0],
        "p_import_c_kw": [4.0, 3.0, np.nan, 2.0],
    })
    vuf = pd.DataFrame({"7": [0.5, 2.5, 1.0, 2.0], "9": [0.1, 1.0, 3.1, 0.3]}, index=times)
    kpis = compute_unbalance_kpis(ts, vuf, 900.0, (0.9, 1.1), 2.0)
    assert list(kpis) == list(UNBALANCE_KPI_KEYS)
    assert kpis["minutes_phase_voltage_violation"] == 45.0  # ticks 1, 2, 3
    assert (kpis["minutes_voltage_violation_a"], kpis["minutes_voltage_violation_b"],
            kpis["minutes_voltage_violation_c"]) == (30.0, 0.0, 30.0)
    assert (kpis["vm_min_a_pu"], kpis["vm_min_b_pu"], kpis["vm_min_c_pu"]) == (0.88, 0.99, 1.0)
    assert kpis["vuf_max_percent"] == 3.1
    assert kpis["vuf_max_bus"] == "9"
    assert kpis["vuf_max_time"] == "2026-01-05T00:30:00+00:00"
    assert kpis["minutes_vuf_violation"] == 30.0
    assert compute_unbalance_kpis(ts, vuf, 900.0, (0.9, 1.1), 3.0)["minutes_vuf_violation"] == 15.0
    assert (kpis["peak_import_a_kw"], kpis["peak_import_b_kw"], kpis["peak_import_c_kw"]) == (30.0, 9.0, 4.0)
    with pytest.raises(ValueError, match="vuf_limit_percent"):
        compute_unbalance_kpis(ts, vuf, 900.0, (0.9, 1.1), 0.0)
    with pytest.raises(ValueError, match="vm_max_c_pu"):
        compute_unbalance_kpis(ts.drop(columns="vm_max_c_pu"), vuf, 900.0)


def test_unbalance_kpis_of_an_empty_run() -> None:
    ts = pd.DataFrame({c: pd.Series(dtype=float) for c in PHASE_TIMESERIES_COLUMNS})
    ts.insert(0, "time", pd.Series(dtype="datetime64[ns, UTC]"))
    kpis = compute_unbalance_kpis(ts, pd.DataFrame({"1": pd.Series(dtype=float)}), 900.0)
    assert (kpis["vuf_max_bus"], kpis["vuf_max_time"], kpis["minutes_vuf_violation"]) == ("", "", 0.0)
    assert np.isnan(kpis["vuf_max_percent"])
