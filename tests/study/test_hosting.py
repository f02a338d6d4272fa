"""Hosting capacity end to end: the search against a brute-force grid, resume, the CLI, the report.

The feeder is ``data/hosting_small.toml`` (8 household buses, two days at 15-minute ticks, a run takes
well under a second) with tight criteria (``data/hosting_tight_criteria.toml``) so that its capacity
lies inside 0..8 EVs; the runs go to the two-worker cluster of ``conftest.dask_scheduler``.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.engine import build_setup
from sim.report.hosting import sections
from sim.study import dask_client, load_criteria, run_many
from sim.study.hosting import assess_point, ev_population, strategy_tables
from sim.study.runs import apply_params, make_run

DATA = Path(__file__).resolve().parent / "data"
SCENARIO = DATA / "hosting_small.toml"
CRITERIA = DATA / "hosting_tight_criteria.toml"
MALFORMED = sorted((Path(__file__).resolve().parent / "malformed_criteria").glob("*.toml"))
STRATEGIES = ["uncontrolled", "edf"]
SEEDS = [0, 2]


def brute_force_grid(scheduler: str) -> pd.DataFrame:
    """Every EV count 0..8 for every strategy and seed: all runs at once on the cluster (no search)."""
    base = sim.load_scenario(SCENARIO)
    feeder = build_setup(base).feeder
    population = ev_population(base, feeder)
    assess = functools.partial(assess_point, criteria=load_criteria(CRITERIA), trafo_id=str(feeder.trafo_ids[0]))
    specs = []
    for label, table in strategy_tables(base, STRATEGIES).items():
        variant = apply_params(base, {"strategy": table}, "test")
        for seed in SEEDS:
            for count in range(len(population.load_buses) + 1):
                specs.append(make_run(population.scenario(variant, seed, count), {"strategy": label, "count": count},
                                      seed))
    with dask_client(scheduler=scheduler) as client:
        return pd.DataFrame(list(run_many(client, specs, assess=assess)))


def _strategy_order(column: pd.Series) -> pd.Series:
    return column.map(STRATEGIES.index) if column.name == "strategy" else column


def grid_capacity(grid: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and seed: the largest count with every count up to it passing, and what broke next."""
    out = []
    for (label, seed), runs in grid.sort_values(["strategy", "seed", "count"], key=_strategy_order).groupby(
            ["strategy", "seed"], sort=False):
        passes = runs.sort_values("count")["passes"].tolist()
        first_fail = passes.index(False) if False in passes else None
        assert passes == sorted(passes, reverse=True), f"{label}, seed {seed}: not monotone: {passes}"
        broke = runs[runs["count"] == first_fail].iloc[0] if first_fail is not None else None
        capacity = (len(passes) if first_fail is None else first_fail) - 1
        out.append({"strategy": label, "seed": seed, "capacity": max(capacity, 0),
                    "binding_limit": broke["binding_limit"] if broke is not None else "none",
                    "binding_element": broke["binding_element"] if broke is not None else ""})
    return pd.DataFrame(out)


def test_search_equals_brute_force_grid_and_resumes(dask_scheduler: str, tmp_path: Path) -> None:
    out = tmp_path / "hosting"
    result = sim.hosting_capacity(SCENARIO, STRATEGIES, seeds=SEEDS, criteria=CRITERIA, out=out,
                                  scheduler=dask_scheduler, progress=False)
    grid = brute_force_grid(dask_scheduler)
    expected = grid_capacity(grid)
    found = result.by_seed[["strategy", "seed", "capacity", "binding_limit", "binding_element"]]
    pd.testing.assert_frame_equal(found.astype({"capacity": int}), expected, check_dtype=False)
    assert set(expected["capacity"]) - {0, 8}, "the test feeder should have a capacity inside the range"
    assert result.n_runs == len(result.points) < len(grid)  # a search, not a grid

    # Each evaluated point is the grid's run of the same strategy, seed and count (same KPIs, same checks).
    merged = result.points.merge(grid, on=["strategy", "seed", "count"], suffixes=("", "_grid"))
    assert len(merged) == len(result.points)
    for column in ("passes", "vm_min_pu", "max_trafo_loading_percent", "binding_limit", "transformer_minutes"):
        assert merged[column].tolist() == merged[f"{column}_grid"].tolist(), column

    # P10 / P50 / P90 over the seeds (linear interpolation) and the most frequent binding limit.
    for row in result.capacity.itertuples():
        seeds = expected.loc[expected["strategy"] == row.strategy, "capacity"]
        assert row.capacity_p50 == pytest.approx(seeds.quantile(0.5))
        assert row.capacity_p10 == pytest.approx(seeds.quantile(0.1))
        assert row.binding_limit == expected.loc[expected["strategy"] == row.strategy, "binding_limit"].mode()[0]

    # Written files; a second call reuses every point and runs nothing.
    assert {p.name for p in out.iterdir()} >= {"hosting.json", "points.parquet", "capacity.csv",
                                                "capacity_by_seed.csv", "feeder.json", "base_scenario.toml"}
    again = sim.hosting_capacity(SCENARIO, STRATEGIES, seeds=SEEDS, criteria=CRITERIA, out=out,
                                 scheduler=dask_scheduler, progress=False)
    assert (again.n_runs, again.n_reused) == (0, len(result.points))
    pd.testing.assert_frame_equal(again.capacity, result.capacity)
    # Fewer strategies and seeds: their points are reused, the others stay in the file for later.
    fewer = sim.hosting_capacity(SCENARIO, ["edf"], seeds=[2], criteria=CRITERIA, out=out, scheduler=dask_scheduler,
                                 progress=False)
    assert fewer.n_runs == 0 and set(fewer.points["strategy"]) == {"edf"} and set(fewer.points["seed"]) == {2}
    assert len(pd.read_parquet(out / "points.parquet")) == len(result.points)
    fewer = sim.hosting_capacity(SCENARIO, STRATEGIES, seeds=SEEDS, criteria=CRITERIA, out=out,
                                 scheduler=dask_scheduler, progress=False)  # back to the whole study

    # The report's sections: every figure draws something.
    parts = sections(out)
    assert [s.title for s in parts][:2] == ["Hosting capacity per strategy", "Violations against the EV count"]
    figures = [fig for part in parts for fig in part.figures]
    assert len(figures) == 4
    for fig in figures:
        assert fig.axes and (fig.axes[0].lines or fig.axes[0].collections or fig.axes[0].patches)
        png = io.BytesIO()
        fig.savefig(png, format="png")
        assert len(png.getvalue()) > 5000


def test_cli_end_to_end_and_its_errors(dask_scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(["hosting-capacity", str(SCENARIO), "--strategies", "uncontrolled", "--seeds", "1", "--max-count", "3",
                 "--criteria", str(CRITERIA), "--set", "simulation.duration=1d", "--scheduler", dask_scheduler,
                 "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "runs now, 0 points reused" in text and "uncontrolled" in text and str(out.resolve()) in text
    capacity = pd.read_csv(out / "capacity.csv")
    assert capacity["strategy"].tolist() == ["uncontrolled"] and 0 <= capacity["capacity_p50"][0] <= 3
    meta = json.loads((out / "hosting.json").read_text())
    assert meta["criteria"]["loading"]["trafo_max_percent"] == 65 and meta["max_count"] == 3
    assert meta["seeds"] == [0] and "pandas" in meta["versions"]
    feeder = json.loads((out / "feeder.json").read_text())
    assert len(feeder["buses"]) == 18 and len(feeder["lines"]) == 16 and feeder["layout"] == "tree"

    assert main(["hosting-capacity", str(SCENARIO), "--strategies", "uncontrolled", "--max-count", "9",
                 "--out", str(tmp_path / "too_many")]) == 2
    assert "--max-count 9: the feeder has 8 load buses" in capsys.readouterr().err
    assert main(["hosting-capacity", str(SCENARIO), "--strategies", "uncontrolled",
                 "--criteria", str(MALFORMED[0]), "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.startswith(f"feedertwin: error: {MALFORMED[0]}:")
    assert main(["hosting-capacity", str(SCENARIO), "--strategies", "uncontrolled,edff",
                 "--out", str(tmp_path / "unknown")]) == 2
    assert "edff" in capsys.readouterr().err
    assert not (tmp_path / "unknown").exists()  # refused before anything was written


def test_a_feeder_without_a_load_flow_solution_hosts_no_ev(dask_scheduler: str, tmp_path: Path) -> None:
    result = sim.hosting_capacity(SCENARIO, ["uncontrolled"], seeds=[0], overrides=["grid.base_load.scale=400"],
                                  max_count=2, out=tmp_path / "collapse", scheduler=dask_scheduler, progress=False)
    seed = result.by_seed.iloc[0]
    assert (seed["capacity"], seed["first_fail"], seed["binding_limit"]) == (0, 0, "loadflow")
    assert seed["fails_without_evs"] and seed["error"] == ""
    assert {0, 1} <= set(result.points["count"])  # 1 EV fails, so 0 EVs is run: it fails too
    assert result.points["error"].str.startswith("LoadFlowError").all()


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.stem)
def test_malformed_criteria_are_named(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").strip()
    with pytest.raises(sim.ScenarioError) as error:
        load_criteria(path)
    assert expected in str(error.value)
    assert str(error.value).startswith(str(path))


def test_default_and_example_criteria() -> None:
    default = load_criteria(None)
    assert (default.vm_min_pu, default.vm_max_pu, default.voltage_rule) == (0.90, 1.10, "band")
    assert (default.line_max_percent, default.trafo_max_percent, default.max_violation_minutes_per_year) == (100, 100, 0)
    example = load_criteria(Path(__file__).resolve().parents[2] / "scenarios" / "studies" / "criteria_en50160.toml")
    assert example.voltage_rule == "en50160" and example.max_violation_minutes_per_year == 60
