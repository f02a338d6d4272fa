"""The malformed-scenario corpus: every file in tests/data/malformed/ must fail with a clear message.

Each ``NAME.toml`` has a ``NAME.expected`` next to it holding the substrings, one per line, that
``str(error)`` must contain (the key path and the bad value among them). Loading must raise a
``ScenarioError`` - never another exception type, never a silent success.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario import load_scenario

CORPUS = Path(__file__).resolve().parents[1] / "data" / "malformed"
CASES = sorted(CORPUS.glob("*.toml"))


def _expected(case: Path) -> list[str]:
    lines = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


def test_corpus_is_large_and_complete() -> None:
    assert len(CASES) >= 30
    missing = [c.name for c in CASES if not c.with_suffix(".expected").is_file()]
    assert missing == []
    orphans = [e.name for e in CORPUS.glob("*.expected") if not e.with_suffix(".toml").is_file()]
    assert orphans == []


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_malformed_file_gives_a_clear_scenario_error(case: Path) -> None:
    try:
        load_scenario(case)
    except ScenarioError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001 - any other type is exactly the failure under test
        pytest.fail(f"{case.name}: raised {type(exc).__name__} instead of ScenarioError: {exc}")
    else:
        pytest.fail(f"{case.name}: loaded without an error")
    assert message.startswith(str(case)), message
    for fragment in _expected(case):
        assert fragment in message, f"{fragment!r} not in {message!r}"
