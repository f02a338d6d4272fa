"""Study files: variants, seeds, draws, run keys, and a clear error for every malformed file.

``malformed/NAME.toml`` must fail with a ``ScenarioError`` whose message starts with the file and
contains every line of ``NAME.expected`` (the key, the bad value, what is valid), as in
``tests/data/malformed``. No test here needs a Dask cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.results import KPI_KEYS
from sim.study import apply_params, is_study_file, load_study, make_run, run_one
from sim.study.dataset import column_kind, row_schema

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BASE = DATA / "small.toml"
ROOT = HERE.parents[1]
CORPUS = HERE / "malformed"
CASES = sorted(CORPUS.glob("*.toml"))


def _study(tmp_path: Path, body: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'[study]\nbase = "{BASE.as_posix()}"\n{body}', encoding="utf-8")
    return path


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 30
    assert [c.name for c in CASES if not c.with_suffix(".expected").is_file()] == []


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_malformed_study_gives_a_clear_error(case: Path) -> None:
    try:
        load_study(case)
    except ScenarioError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - any other type is exactly the failure under test
        pytest.fail(f"{case.name}: raised {type(exc).__name__} instead of ScenarioError: {exc}")
    else:
        pytest.fail(f"{case.name}: loaded without an error")
    assert message.startswith(str(case)), message
    for fragment in case.with_suffix(".expected").read_text(encoding="utf-8").splitlines():
        if fragment.strip():
            assert fragment in message, f"{fragment!r} not in {message!r}"


def test_grid_variants_in_order_and_seeds(tmp_path: Path) -> None:
    study = load_study(_study(tmp_path, 'seeds = 3\n[grid]\n"chargers.0.count" = [2, 4]\n'
                                        'strategy.name = ["uncontrolled", "edf"]\n'))
    assert study.name == "study" and study.seeds == (0, 1, 2) and study.n_runs == 12
    assert study.param_keys == ("chargers.0.count", "strategy.name")
    assert [dict(v.params) for v in study.variants] == [
        {"chargers.0.count": 2, "strategy.name": "uncontrolled"}, {"chargers.0.count": 2, "strategy.name": "edf"},
        {"chargers.0.count": 4, "strategy.name": "uncontrolled"}, {"chargers.0.count": 4, "strategy.name": "edf"}]
    runs = study.runs()
    assert [(r.variant, r.seed) for r in runs[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert runs[5].scenario.simulation.seed == 2 and runs[5].scenario.strategy.name == "edf"
    assert len({r.run_key for r in runs}) == 12


def test_default_seed_is_the_base_scenario_s_and_a_list_is_kept(tmp_path: Path) -> None:
    assert load_study(_study(tmp_path, "")).seeds == (3,)  # data/small.toml has seed = 3
    assert load_study(_study(tmp_path, "seeds = [7, 1]\n")).seeds == (7, 1)
    only_base = load_study(_study(tmp_path, ""))
    assert len(only_base.variants) == 1 and only_base.param_keys == ()


def test_run_keys_are_stable_and_follow_the_scenario(tmp_path: Path) -> None:
    body = 'seeds = 2\n[grid]\n"chargers.0.count" = [2, 4]\n'
    keys = [r.run_key for r in load_study(_study(tmp_path, body)).runs()]
    assert keys == [r.run_key for r in load_study(_study(tmp_path, body, "copy.toml")).runs()]
    # Extending the grid keeps the finished runs' keys; changing the base changes every key.
    extended = [r.run_key for r in load_study(_study(tmp_path, body.replace("[2, 4]", "[2, 4, 6]"))).runs()]
    assert extended[:4] == keys
    changed = [r.run_key for r in load_study(_study(tmp_path, body), ["simulation.duration=12h"]).runs()]
    assert not set(changed) & set(keys)


def test_sample_draws_are_reproducible_and_within_bounds(tmp_path: Path) -> None:
    body = ('seed = 11\n[sample]\nn = 6\n"grid.pv.share" = { uniform = [0.1, 0.5] }\n'
            '"chargers.0.count" = { integer = [1, 3] }\n"strategy.name" = { choice = ["edf", "llf"] }\n')
    first = load_study(_study(tmp_path, body))
    again = load_study(_study(tmp_path, body))
    other = load_study(_study(tmp_path, body.replace("seed = 11", "seed = 12")))
    draws = [dict(v.params) for v in first.variants]
    assert draws == [dict(v.params) for v in again.variants]
    assert draws != [dict(v.params) for v in other.variants]
    assert all(0.1 <= d["grid.pv.share"] <= 0.5 and d["chargers.0.count"] in (1, 2, 3) for d in draws)
    assert {d["strategy.name"] for d in draws} <= {"edf", "llf"}
    assert first.variants[0].scenario.grid.pv is not None


def test_grid_times_sample_and_repeated_variants(tmp_path: Path) -> None:
    body = ('[grid]\n"strategy.name" = ["edf", "llf"]\n'
            '[sample]\nn = 4\n"chargers.0.count" = { choice = [2] }\n')
    study = load_study(_study(tmp_path, body))
    # 2 grid points x 4 draws, but every draw is the same: 2 distinct variants, 6 repeats dropped.
    assert len(study.variants) == 2 and study.n_repeated == 6


def test_table_values_replace_a_whole_table(tmp_path: Path) -> None:
    body = '[grid]\nstrategy = [{ name = "uncontrolled" }, { name = "peak_shaving", target_kw = 20 }]\n'
    study = load_study(_study(tmp_path, body))
    assert study.variants[1].scenario.strategy.params == {"target_kw": 20}
    kinds = {key: column_kind(values) for key, values in study.param_domains().items()}
    assert kinds == {"strategy": "json"}
    assert row_schema(kinds).names[:4] == ["run_key", "variant", "variant_hash", "strategy"]


def test_column_kinds() -> None:
    assert [column_kind(v) for v in ([1, 2], [1, 2.5], [True], ["a"], [[8, 16]], [1, "a"])] == [
        "int", "float", "bool", "str", "json", "json"]


def test_run_one_in_process_matches_simulate_and_records_failures() -> None:
    base = sim.load_scenario(BASE)
    variant = apply_params(base, {"chargers.0.count": 2}, "test")
    spec = make_run(variant, {"chargers.0.count": 2}, seed=4)
    row = run_one(spec)
    expected = sim.simulate(BASE, overrides=["chargers.0.count=2", "simulation.seed=4"]).kpis
    assert row["status"] == "ok" and row["error"] is None and row["seed"] == 4
    assert {key: row[key] for key in KPI_KEYS} == {key: expected[key] for key in KPI_KEYS}
    assert ":" in row["worker"] and row["wall_time_s"] > 0
    broken = make_run(apply_params(base, {"grid.base_load.scale": 400.0}, "test"), {}, seed=4)
    failed = run_one(broken)
    assert failed["status"] == "failed" and failed["error"].startswith("LoadFlowError")
    assert all(failed[key] is None for key in KPI_KEYS)


def test_cli_validate_accepts_studies_and_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    study = DATA / "small_study.toml"
    assert is_study_file(study) and not is_study_file(BASE)
    assert main(["validate", str(study), str(BASE)]) == 0
    out = capsys.readouterr().out
    assert "OK: study 'small', 4 variants x 2 seeds = 8 runs" in out and "OK: 'sweep-small'" in out


def test_cli_reports_a_bad_study_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = CORPUS / "grid_bad_value.toml"
    assert main(["validate", str(bad)]) == 2
    assert main(["sweep", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("variant 2 of 2") == 2 and "Traceback" not in err
    assert main(["sweep", str(DATA / "small_study.toml"), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1",
                 "--out", str(tmp_path / "both")]) == 2
    assert "--workers 2 applies to the local cluster" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_shipped_example_studies_validate() -> None:
    for path in sorted((ROOT / "scenarios" / "studies").glob("*.toml")):
        if path.name.startswith("criteria"):  # hosting-capacity criteria files (tests/study/test_hosting.py)
            continue
        study = load_study(path)
        assert study.n_runs >= 20, path
