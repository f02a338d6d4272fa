"""Recorder: rows in, frames out; the round trip through the results directory."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.domain import GridState, Timebase
from sim.results import Recorder, Results, load_results
from sim.results.results import RESULT_FILES, TIMESERIES_COLUMNS

START = datetime(2024, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
PERIOD_S = 300.0
CHARGERS = ("cp-a", "cp-b", "cp-c")
BUSES = (10, 11, 12, 13, 14)
LINES = (0, 1, 2, 3)
TRAFOS = (0,)


def _grid(step: int, rng: np.random.Generator) -> GridState:
    return GridState(
        time_s=step * PERIOD_S,
        vm_pu=rng.uniform(0.92, 1.02, len(BUSES)),
        line_loading_percent=rng.uniform(0.0, 80.0, len(LINES)),
        trafo_loading_percent=rng.uniform(0.0, 90.0, len(TRAFOS)),
        p_import_kw=float(rng.uniform(10, 50)),
        q_import_kvar=float(rng.uniform(0, 5)),
        losses_kw=float(rng.uniform(0, 2)),
    )


def _sessions() -> pd.DataFrame:
    start = pd.Timestamp(START).tz_convert("UTC")
    return pd.DataFrame(
        {
            "session_id": ["s1", "s2"],
            "charger_id": ["cp-a", "cp-c"],
            "bus": np.array([11, 14], dtype=np.int64),
            "arrival": [start, start + pd.Timedelta(minutes=5)],
            "departure": [start + pd.Timedelta(minutes=15), start + pd.Timedelta(minutes=20)],
            "energy_requested_kwh": [3.0, 4.0],
            "energy_delivered_kwh": [3.0, 1.5],
            "max_power_kw": [11.0, math.inf],
        }
    )


def _meta(**extra: object) -> dict:
    meta = {
        "scenario": "tiny <test> & co",
        "scenario_hash": "abc123",
        "seed": 7,
        "version": "0.1.0",
        "core_backend": "python",
        "wall_time_s": 0.01,
        "strategy": "uncontrolled",
        "start": START.isoformat(),
        "duration_s": 4 * PERIOD_S,
        "control_period_s": PERIOD_S,
        "sessions_outside_window": 0,
        "sessions_truncated": 1,
        "buses": pd.DataFrame(
            {"bus": list(BUSES), "name": [f"b{b}" for b in BUSES], "distance_km": [0.0, 0.1, 0.2, 0.3, 0.45]}
        ),
    }
    meta.update(extra)
    return meta


def _recorder(n_steps: int = 4) -> Recorder:
    return Recorder(n_steps, PERIOD_S, Timebase(START), CHARGERS, BUSES, LINES, TRAFOS)


def _filled(n_steps: int = 4, seed: int = 3) -> tuple[Recorder, list[GridState], np.ndarray]:
    rng = np.random.default_rng(seed)
    rec = _recorder(n_steps)
    grids, powers = [], rng.uniform(0.0, 11.0, (n_steps, len(CHARGERS)))
    for step in range(n_steps):
        grids.append(_grid(step, rng))
        rec.record_step(step, step * PERIOD_S, powers[step], 20.0 + step, 5.0, grids[step],
                        site_base_load_kw=15.0 + step, price_per_kwh=0.25 if step < 2 else 0.1,
                        site_limit_violation=step == 3, site_limit_max_use_percent=50.0 + 20.0 * step)
    return rec, grids, powers


def test_finish_builds_the_documented_frames() -> None:
    rec, grids, powers = _filled()
    res = rec.finish(_sessions(), _meta())
    ts = res.timeseries
    assert list(ts.columns) == list(TIMESERIES_COLUMNS) + [f"p_kw:{c}" for c in CHARGERS]
    assert str(ts["time"].dt.tz) == "UTC"
    assert ts["time"].iloc[1] == pd.Timestamp("2024-06-01T06:05:00Z")
    np.testing.assert_allclose(ts["t_s"], [0.0, 300.0, 600.0, 900.0])
    np.testing.assert_allclose(ts["charging_p_kw"], powers.sum(axis=1))
    np.testing.assert_allclose(ts["p_kw:cp-b"], powers[:, 1])
    np.testing.assert_allclose(ts["base_load_kw"], [20.0, 21.0, 22.0, 23.0])
    np.testing.assert_allclose(ts["vm_min_pu"], [g.vm_min_pu for g in grids])
    np.testing.assert_allclose(ts["max_trafo_loading_percent"], [g.max_trafo_loading_percent for g in grids])
    np.testing.assert_allclose(ts["losses_kw"], [g.losses_kw for g in grids])
    assert list(res.bus_vm_pu.columns) == [str(b) for b in BUSES]
    assert res.bus_vm_pu.index.name == "time"
    np.testing.assert_allclose(res.bus_vm_pu.to_numpy(), np.vstack([g.vm_pu for g in grids]))
    np.testing.assert_allclose(res.line_loading_percent["2"], [g.line_loading_percent[2] for g in grids])
    assert list(res.buses["bus_id"]) == ["10", "11", "12", "13", "14"]
    assert res.buses["distance_km"].iloc[-1] == 0.45
    assert res.charger_ids == CHARGERS


def test_site_columns_and_their_kpis() -> None:
    rec, _, powers = _filled()
    res = rec.finish(_sessions(), _meta())
    ts = res.timeseries
    np.testing.assert_allclose(ts["site_base_load_kw"], [15.0, 16.0, 17.0, 18.0])
    np.testing.assert_allclose(ts["price_per_kwh"], [0.25, 0.25, 0.1, 0.1])
    assert ts["site_limit_violation"].dtype == bool
    assert list(ts["site_limit_violation"]) == [False, False, False, True]
    np.testing.assert_allclose(ts["site_limit_max_use_percent"], [50.0, 70.0, 90.0, 110.0])
    kpis = res.summary["kpis"]
    energy_kwh = powers.sum(axis=1) * PERIOD_S / 3600.0
    assert kpis["charging_cost"] == pytest.approx(float(energy_kwh @ np.array([0.25, 0.25, 0.1, 0.1])))
    assert kpis["minutes_site_limit_violation"] == pytest.approx(PERIOD_S / 60.0)
    assert kpis["peak_site_import_kw"] == pytest.approx(float(np.max(powers.sum(axis=1) + [15, 16, 17, 18])))


def test_site_columns_default_to_unknown() -> None:
    rec = _recorder(2)
    rng = np.random.default_rng(0)
    for step in range(2):
        rec.record_step(step, step * PERIOD_S, np.ones(3), 1.0, 0.0, _grid(step, rng))
    res = rec.finish(None, {})
    assert res.timeseries["price_per_kwh"].isna().all()
    assert res.timeseries["site_limit_max_use_percent"].isna().all()
    assert not res.timeseries["site_limit_violation"].any()
    assert res.summary["kpis"]["charging_cost"] is None  # nan -> null: no tariff, no cost
    assert res.summary["kpis"]["minutes_site_limit_violation"] == 0.0


def test_summary_is_meta_plus_kpis_and_json_ready() -> None:
    rec, _, _ = _filled()
    res = rec.finish(_sessions(), _meta())
    s = res.summary
    assert s["scenario_hash"] == "abc123" and s["seed"] == 7 and s["sessions_truncated"] == 1
    assert "buses" not in s
    assert s["record_period_s"] == PERIOD_S and s["n_steps_recorded"] == 4
    assert s["vm_band_pu"] == [0.9, 1.1]
    assert s["n_chargers"] == 3 and s["n_buses"] == 5
    assert s["kpis"]["energy_unmet_kwh"] == pytest.approx(2.5)
    assert s["kpis"]["n_sessions"] == 2
    json.dumps(s, allow_nan=False)  # strict JSON already


def test_round_trip_through_a_results_directory(tmp_path: Path) -> None:
    rec, _, _ = _filled()
    res = rec.finish(_sessions(), _meta())
    out = res.save(tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    back = load_results(out)
    assert back.summary == res.summary
    for name in ("timeseries", "sessions", "bus_vm_pu", "line_loading_percent", "buses"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(res, name), check_exact=True, obj=name)
    assert res.equals(back)


def test_summary_json_is_sorted_indented_and_nan_free(tmp_path: Path) -> None:
    rec = Recorder(2, PERIOD_S, Timebase(START), CHARGERS, [], [], [])
    grid = GridState(0.0, np.zeros(0), np.zeros(0), np.zeros(0), 1.0, 0.0, 0.0)
    for step in range(2):
        rec.record_step(step, step * PERIOD_S, np.zeros(3), 1.0, 0.0, grid)
    res = rec.finish(None, {"scenario": "x", "note": math.nan})
    text = (res.save(tmp_path) / "summary.json").read_text()
    assert "NaN" not in text
    data = json.loads(text)
    assert data["note"] is None and data["kpis"]["vm_min_pu"] is None
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_zero_chargers_and_zero_sessions_round_trip(tmp_path: Path) -> None:
    rec = Recorder(3, PERIOD_S, Timebase(START), [], BUSES, LINES, TRAFOS)
    rng = np.random.default_rng(0)
    for step in range(3):
        rec.record_step(step, step * PERIOD_S, np.zeros(0), 10.0, 0.0, _grid(step, rng))
    res = rec.finish(None, _meta())
    assert res.charger_ids == ()
    assert (res.timeseries["charging_p_kw"] == 0.0).all()
    assert len(res.sessions) == 0 and res.summary["kpis"]["share_sessions_fully_served"] == 1.0
    assert load_results(res.save(tmp_path)).equals(res)


def test_engine_style_empty_sessions_are_accepted() -> None:
    empty = _sessions().iloc[0:0]
    res = _filled()[0].finish(empty, _meta())
    assert len(res.sessions) == 0 and list(res.sessions.columns) == list(_sessions().columns)


def test_a_run_stopped_early_keeps_the_recorded_prefix() -> None:
    rec, _, _ = _filled(n_steps=2)
    bigger = _recorder(5)
    rng = np.random.default_rng(1)
    for step in range(2):
        bigger.record_step(step, step * PERIOD_S, np.ones(3), 0.0, 0.0, _grid(step, rng))
    res = bigger.finish(None, {})
    assert len(res.timeseries) == 2 and res.summary["n_steps_recorded"] == 2


def test_a_gap_in_the_rows_is_an_error() -> None:
    rec = _recorder(4)
    rng = np.random.default_rng(1)
    for step in (0, 2):
        rec.record_step(step, step * PERIOD_S, np.ones(3), 0.0, 0.0, _grid(step, rng))
    with pytest.raises(ValueError, match=r"steps \[1\]"):
        rec.finish(None, {})


@pytest.mark.parametrize("bad", ["charger_p_kw", "vm_pu"])
def test_record_step_checks_shapes(bad: str) -> None:
    rec = _recorder()
    grid = _grid(0, np.random.default_rng(0))
    p_kw = np.ones(3)
    if bad == "charger_p_kw":
        p_kw = np.ones(2)
    else:
        grid = GridState(
            0.0, np.ones(4), grid.line_loading_percent, grid.trafo_loading_percent, 0.0, 0.0, 0.0
        )
    with pytest.raises(ValueError, match=bad):
        rec.record_step(0, 0.0, p_kw, 0.0, 0.0, grid)


def test_record_step_checks_the_step() -> None:
    with pytest.raises(IndexError, match="step 4 outside 0..3"):
        _recorder().record_step(4, 0.0, np.ones(3), 0.0, 0.0, _grid(0, np.random.default_rng(0)))


def test_constructor_rejects_duplicate_ids_and_bad_period() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Recorder(1, PERIOD_S, Timebase(START), ["a", "a"], [], [], [])
    with pytest.raises(ValueError, match="period_s"):
        Recorder(1, 0.0, Timebase(START), [], [], [], [])


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"kpis": {}}, "kpis"),
        ({"n_chargers": 2}, "n_chargers"),
        ({"buses": [{"bus_id": 99}]}, "99"),
        ({"buses": [{"name": "no id"}]}, "bus_id"),
        ({"buses": [{"bus": 10}, {"bus": 10}]}, "more than once"),
        ({"buses": [{"bus": 10, "distance_km": "far"}]}, "distance_km"),
    ],
)
def test_finish_rejects_bad_meta(meta: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _filled()[0].finish(None, meta)


def test_partial_bus_table_is_completed_not_dropped() -> None:
    res = _filled()[0].finish(None, {"buses": [{"bus": 12, "name": "corner", "distance_km": 0.2}]})
    buses = res.buses.set_index("bus_id")
    assert buses.loc["12", "name"] == "corner" and buses.loc["12", "distance_km"] == 0.2
    assert buses.loc["10", "name"] == "10" and math.isnan(buses.loc["10", "distance_km"])


def test_sessions_need_their_columns_and_time_zones() -> None:
    with pytest.raises(ValueError, match="energy_delivered_kwh"):
        _filled()[0].finish(_sessions().drop(columns="energy_delivered_kwh"), {})
    naive = _sessions().assign(arrival=lambda d: d["arrival"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="arrival"):
        _filled()[0].finish(naive, {})


def test_results_is_frozen() -> None:
    res = _filled()[0].finish(None, {})
    assert isinstance(res, Results)
    with pytest.raises(AttributeError):
        res.summary = {}  # type: ignore[misc]


def test_record_block_equals_a_record_step_per_row() -> None:
    """The engine records a block-solved run with ``record_block``: the same frames as row by row."""
    from types import SimpleNamespace

    rng = np.random.default_rng(11)
    n = 6
    tb = Timebase(START)
    grids = [_grid(k, rng) for k in range(n)]
    p_kw = rng.uniform(0, 11, (n, len(CHARGERS)))
    base_kw, pv_kw, site_kw, price = (rng.uniform(0, 30, n) for _ in range(4))
    broken, use = rng.random(n) < 0.3, rng.uniform(0, 120, n)
    by_row = Recorder(n, PERIOD_S, tb, CHARGERS, BUSES, LINES, TRAFOS)
    for k, g in enumerate(grids):
        by_row.record_step(k, g.time_s, p_kw[k], base_kw[k], pv_kw[k], g, site_base_load_kw=site_kw[k],
                           price_per_kwh=price[k], site_limit_violation=bool(broken[k]),
                           site_limit_max_use_percent=use[k])
    block = SimpleNamespace(**{name: np.array([getattr(g, name) for g in grids]) for name in (
        "vm_pu", "line_loading_percent", "trafo_loading_percent", "p_import_kw", "q_import_kvar", "losses_kw")})
    at_once = Recorder(n, PERIOD_S, tb, CHARGERS, BUSES, LINES, TRAFOS)
    at_once.record_block(0, [g.time_s for g in grids], p_kw, base_kw, pv_kw, block, site_base_load_kw=site_kw,
                         price_per_kwh=price, site_limit_violation=broken, site_limit_max_use_percent=use)
    a, b = by_row.finish(_sessions(), _meta()), at_once.finish(_sessions(), _meta())
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.bus_vm_pu, b.bus_vm_pu)
    pd.testing.assert_frame_equal(a.line_loading_percent, b.line_loading_percent)
    with pytest.raises(ValueError, match=r"grid.vm_pu has shape \(6, 4\), expected \(6, 5\)"):
        at_once.record_block(0, np.zeros(n), p_kw, base_kw, pv_kw,
                             SimpleNamespace(**{**vars(block), "vm_pu": np.zeros((n, 4))}),
                             site_base_load_kw=site_kw, price_per_kwh=price, site_limit_violation=broken,
                             site_limit_max_use_percent=use)
    with pytest.raises(IndexError, match="outside"):
        at_once.record_block(3, np.zeros(n), p_kw, base_kw, pv_kw, block, site_base_load_kw=site_kw,
                             price_per_kwh=price, site_limit_violation=broken, site_limit_max_use_percent=use)
