"""Sweeps on a real Dask cluster: same KPIs on any cluster as single runs, resume, failed runs.

The cluster of ``conftest.dask_scheduler`` is a scheduler and two worker processes on 127.0.0.1;
the default path starts its own ``LocalCluster``. The study is 2 charger counts x 2 strategies x
2 seeds of a one-day, 18-bus scenario (``data/small_study.toml``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.results import KPI_KEYS
from sim.study.dataset import KPI_DIR, SweepDataset, column_kind
from sim.study.runs import failed_row

DATA = Path(__file__).resolve().parent / "data"
STUDY = DATA / "small_study.toml"
BASE = DATA / "small.toml"
SORT = ["variant", "seed"]


def _kpis(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(SORT).reset_index(drop=True)[[*SORT, *KPI_KEYS]]


def _row_files(out: Path) -> set[str]:
    return {p.stem for p in (out / KPI_DIR).glob("*.parquet")}


def test_scheduler_local_cluster_and_single_runs_give_identical_kpis(
        dask_scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    on_cluster = tmp_path / "cluster"
    code = main(["sweep", str(STUDY), "--scheduler", dask_scheduler, "--out", str(on_cluster), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "8 runs done now (0 failed), 0 skipped" in out and "dataset:" in out
    remote = sim.load_sweep(on_cluster)
    assert len(remote) == 8 and set(remote["status"]) == {"ok"}
    assert remote["worker"].str.startswith("tcp://127.0.0.1:").all()

    local = sim.sweep(STUDY, out=tmp_path / "local", workers=2, progress=False)
    assert (local.n_done, local.n_skipped, local.n_failed, local.n_left) == (8, 0, 0, 0)
    pd.testing.assert_frame_equal(_kpis(remote), _kpis(local.table), check_exact=True)

    # The same variants as single runs in this process, set up from the base file with --set strings.
    single = []
    for row in remote.sort_values(SORT).to_dict("records"):
        overrides = [f"chargers.0.count={row['chargers.0.count']}", f"strategy.name={row['strategy.name']}",
                     f"simulation.seed={row['seed']}"]
        kpis = sim.simulate(BASE, overrides=overrides).kpis
        single.append({"variant": row["variant"], "seed": row["seed"], **{k: kpis[k] for k in KPI_KEYS}})
    expected = pd.DataFrame(single)
    pd.testing.assert_frame_equal(_kpis(remote), expected, check_exact=True, check_dtype=False)
    assert list(remote.columns[3:5]) == ["chargers.0.count", "strategy.name"]


def test_interrupted_sweep_resumes_with_exactly_the_missing_runs(dask_scheduler: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "resume"
    first: list[str] = []

    def interrupt_after_three(row: object) -> None:
        first.append(row["run_key"])  # type: ignore[index]
        if len(first) == 3:
            raise KeyboardInterrupt  # as Ctrl-C would, between two finished runs

    with pytest.raises(KeyboardInterrupt):
        sim.sweep(STUDY, out=out, scheduler=dask_scheduler, on_row=interrupt_after_three, progress=False)
    assert _row_files(out) == set(first) and len(first) == 3
    assert not list((out / KPI_DIR).glob(".*"))  # no half-written row left behind

    second: list[str] = []
    result = sim.sweep(STUDY, out=out, scheduler=dask_scheduler, progress=False,
                       on_row=lambda row: second.append(row["run_key"]))
    all_keys = {spec.run_key for spec in sim.load_study(STUDY).runs()}
    assert (result.n_skipped, result.n_done, result.n_left) == (3, 5, 0)
    assert sorted(second) == sorted(all_keys - set(first))
    assert len(result.table) == 8 and set(result.table["run_key"]) == all_keys

    # Lost rows (deleted files) are run again, and nothing else; --max-runs stops part way.
    lost = sorted(all_keys)[:3]
    for key in lost:
        (out / KPI_DIR / f"{key}.parquet").unlink()
    third: list[str] = []
    partial = sim.sweep(STUDY, out=out, scheduler=dask_scheduler, progress=False, max_runs=2,
                        on_row=lambda row: third.append(row["run_key"]))
    assert (partial.n_skipped, partial.n_done, partial.n_left) == (5, 2, 1)
    assert set(third) < set(lost) and len(third) == 2
    assert main(["sweep", str(STUDY), "--scheduler", dask_scheduler, "--out", str(out), "--quiet"]) == 0
    assert "1 runs done now (0 failed), 7 skipped (finished before), 0 left" in capsys.readouterr().out
    assert _row_files(out) == all_keys


def test_failed_run_is_recorded_and_the_others_finish(dask_scheduler: str, tmp_path: Path) -> None:
    study = tmp_path / "failing.toml"
    study.write_text(f'[study]\nbase = "{BASE.as_posix()}"\nseeds = [5]\n\n'
                     '[grid]\n"grid.base_load.scale" = [1.0, 400.0]   # 400 x the base load: no load flow\n\n'
                     '[outputs]\ntimeseries = true\n', encoding="utf-8")
    out = tmp_path / "failing"
    result = sim.sweep(study, out=out, scheduler=dask_scheduler, progress=False)
    table = result.table.set_index("grid.base_load.scale")
    assert (result.n_done, result.n_failed) == (2, 1)
    assert table.loc[1.0, "status"] == "ok" and pd.isna(table.loc[1.0, "error"])
    assert table.loc[400.0, "status"] == "failed"
    assert table.loc[400.0, "error"].startswith("LoadFlowError: load flow failed at step 0")
    assert table.loc[400.0, list(KPI_KEYS)].isna().all()

    # [outputs] timeseries = true: the full results of the run that finished, and none of the other.
    ok_key, failed_key = table.loc[1.0, "run_key"], table.loc[400.0, "run_key"]
    saved = sim.load_results(out / "runs" / ok_key)
    assert saved.kpis["peak_charging_kw"] == table.loc[1.0, "peak_charging_kw"]
    assert saved.summary["seed"] == 5
    assert not (out / "runs" / failed_key).exists()

    again = sim.sweep(study, out=out, scheduler=dask_scheduler, progress=False)
    assert (again.n_done, again.n_skipped) == (0, 2)  # a failed run counts as finished ...
    retried = sim.sweep(study, out=out, scheduler=dask_scheduler, progress=False, retry_failed=True)
    assert (retried.n_done, retried.n_skipped, retried.n_failed) == (1, 1, 1)  # ... unless retried


def test_nothing_left_needs_no_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "none.toml"
    study.write_text(f'[study]\nbase = "{BASE.as_posix()}"\nseeds = 1\n', encoding="utf-8")
    result = sim.sweep(study, out=tmp_path / "none", max_runs=0, progress=False)
    assert (result.n_runs, result.n_done, result.n_left) == (1, 0, 1) and result.table.empty
    meta = json.loads((tmp_path / "none" / "sweep.json").read_text(encoding="utf-8"))
    assert (meta["n_runs"], meta["seeds"], meta["versions"]["distributed"] != "not installed") == (1, [0], True)
    assert (tmp_path / "none" / "study.toml").read_text() == study.read_text()
    assert (tmp_path / "none" / "base_scenario.toml").read_text() == BASE.read_text()
    code = main(["sweep", str(study), "--out", str(tmp_path / "none"), "--max-runs", "0"])
    assert code == 0 and "0 runs done now (0 failed), 0 skipped (finished before), 1 left" in capsys.readouterr().out

    # A row of a run that is not in the study (written by another study into the same directory) is
    # kept, counted and left out of the result.
    other = sim.load_study(STUDY)
    stranger = other.runs()[0]
    kinds = {key: column_kind(values) for key, values in other.param_domains().items()}
    SweepDataset(tmp_path / "none", kinds).write(failed_row(stranger, "RuntimeError: not this study"))
    again = sim.sweep(study, out=tmp_path / "none", max_runs=0, progress=False)
    assert again.n_stale == 1 and again.table.empty
    assert len(sim.load_sweep(tmp_path / "none")) == 1
