"""The command line as a user meets it: real subprocesses, exit codes, files written, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
MALFORMED = ROOT / "tests" / "data" / "malformed"
MALFORMED_SETUP = ROOT / "tests" / "data" / "malformed_setup"


def feedertwin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=600)


def test_version() -> None:
    done = feedertwin("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"feedertwin {sim.__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "feedertwin"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and sim.__version__ in done.stdout


@pytest.mark.parametrize("scenario", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_validates(scenario: Path) -> None:
    done = feedertwin("validate", str(scenario))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_runs(scenario: Path, tmp_path: Path) -> None:
    # A shortened run of every shipped scenario (the full default runs in `make run`).
    out = tmp_path / "out"
    done = feedertwin("run", str(scenario), "--out", str(out), "--set", "simulation.duration=1d", "--quiet")
    assert done.returncode == 0, done.stderr
    for name in ("summary.json", "sessions.parquet", "timeseries.parquet", "bus_vm_pu.parquet",
                 "line_loading_percent.parquet", "report.html"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["core_backend"] in ("cython", "python")
    assert summary["kpis"]["energy_delivered_kwh"] > 0
    assert summary["duration_s"] == 86400


def test_run_without_argument_uses_default_from_any_directory(tmp_path: Path) -> None:
    done = feedertwin("run", "--set", "simulation.duration=6h", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "suburban-default" / "report.html").is_file()
    assert "report:" in done.stdout


def test_malformed_scenario_gives_message_not_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((SCENARIOS / "workplace.toml").read_text().replace("max_current_a = 32", "max_current_a = -5", 1))
    for command in ("run", "validate"):
        done = feedertwin(command, str(bad))
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert "bad.toml" in done.stderr and "chargers[0].max_current_a" in done.stderr and "-5" in done.stderr


@pytest.mark.parametrize("case", sorted([*MALFORMED.glob("*.toml"), *MALFORMED_SETUP.glob("*.toml")]),
                         ids=lambda p: p.stem)
def test_malformed_corpus_through_cli(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # In-process (main() is what the console script calls): one subprocess per case would be slow.
    assert main(["validate", str(case)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("feedertwin: error: ") and "Traceback" not in err
    for fragment in (case.with_suffix(".expected")).read_text().splitlines():
        if fragment.strip():
            assert fragment.strip() in err


def test_bad_override_is_a_clear_error() -> None:
    done = feedertwin("validate", str(SCENARIOS / "workplace.toml"), "--set", "simulation.control_period_s=-1")
    assert done.returncode == 2
    assert "simulation.control_period_s" in done.stderr and "Traceback" not in done.stderr


def test_missing_file() -> None:
    done = feedertwin("validate", "no/such/file.toml")
    assert done.returncode == 2
    assert "no/such/file.toml" in done.stderr and "Traceback" not in done.stderr


def test_diverging_load_flow_names_step_time_and_state(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(SCENARIOS / "workplace.toml"), "--set", "grid.base_load.scale=200",
                 "--set", "simulation.duration=1h", "--quiet", "--no-report", "--out", "/nonexistent/never"])
    err = capsys.readouterr().err
    assert code == 2
    assert "load flow failed at step 0 (t = 0 s, 2026-04-13T00:00:00+02:00)" in err
    assert "base load" in err and "charging" in err and "Traceback" not in err
