"""``sim.write_dir_report`` / ``feedertwin report DIR``: the HTML report of any feedertwin output directory.

What the directory holds decides the report:

- ``hosting.json`` (``feedertwin hosting-capacity``): the sections of ``sim.report.hosting``;
- ``sweep.json`` (``feedertwin sweep``): the sections of ``sim.report.sweep_sections``;
- ``summary.json`` (``feedertwin run``): the run report of ``sim.report.html``.

Study reports are rendered by ``sim.report.study_html``. ``sim.report.hosting`` is imported by name
when a hosting-capacity directory is reported, so this module works before that one exists.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from sim.errors import DataError
from sim.report import sweep_sections
from sim.report.html import write_report
from sim.report.study_html import REPORT_FILE, write_study_report
from sim.report.sweep_sections import META_FILE as SWEEP_FILE
from sim.results import load_results
from sim.results.results import SUMMARY_FILE as RUN_FILE

HOSTING_FILE = "hosting.json"  # as sim.study.hosting writes it (a test keeps the two in step)
EXPECTED = (f"a feedertwin output directory: a sweep ({SWEEP_FILE} and kpis/, from feedertwin sweep), "
            f"a hosting-capacity study ({HOSTING_FILE}, from feedertwin hosting-capacity) or a run "
            f"({RUN_FILE}, from feedertwin run)")


def report_kind(out_dir: str | Path) -> str:
    """``"hosting"``, ``"sweep"`` or ``"run"``: what ``out_dir`` holds (a ``DataError`` when none)."""
    folder = Path(out_dir)
    if not folder.is_dir():
        raise DataError(str(folder), "", "no such directory", expected=EXPECTED)
    for name, kind in ((HOSTING_FILE, "hosting"), (SWEEP_FILE, "sweep"), (RUN_FILE, "run")):
        if (folder / name).is_file():
            return kind
    found = sorted(p.name for p in folder.iterdir())[:8]
    raise DataError(str(folder), "", f"holds no {HOSTING_FILE}, {SWEEP_FILE} or {RUN_FILE}",
                    value=found, expected=EXPECTED)


def write_dir_report(out_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write the HTML report of the study or run in ``out_dir`` to ``path`` (default
    ``out_dir/report.html``) and return the path. Self-contained: figures embedded, no external asset."""
    folder = Path(out_dir)
    target = Path(path) if path is not None else folder / REPORT_FILE
    kind = report_kind(folder)
    if kind == "run":
        return write_report(load_results(folder), target)
    if kind == "sweep":
        return write_study_report(folder, sweep_sections.sections(folder), sweep_sections.title(folder),
                                  sweep_sections.facts(folder), target)
    hosting = _hosting_module(folder)
    return write_study_report(folder, hosting.sections(folder), _hosting_title(folder), _hosting_facts(folder),
                              target)


def _hosting_module(folder: Path) -> Any:
    try:  # by name: the module comes with the hosting-capacity command
        hosting = importlib.import_module("sim.report.hosting")
    except ModuleNotFoundError as error:
        if error.name != "sim.report.hosting":
            raise
        raise DataError(str(folder / HOSTING_FILE), "", "this feedertwin cannot report on hosting-capacity "
                        "studies yet (no sim.report.hosting)", expected="a sweep or run directory") from None
    return hosting


def _hosting_meta(folder: Path) -> dict[str, Any]:
    path = folder / HOSTING_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(str(path), "", f"cannot read it: {error}",
                        expected="the JSON file feedertwin hosting-capacity wrote") from None
    return meta if isinstance(meta, dict) else {}


def _hosting_title(folder: Path) -> str:
    meta = _hosting_meta(folder)
    name = meta.get("scenario") or meta.get("name") or folder.name
    return f"feedertwin hosting-capacity report: {name}"


def _hosting_facts(folder: Path) -> dict[str, Any]:
    """The plain values of ``hosting.json`` (text, numbers, lists of them); its sections say the rest."""
    meta = _hosting_meta(folder)
    plain = {k: v for k, v in meta.items()
             if isinstance(v, str | int | float | bool)
             or (isinstance(v, list) and all(isinstance(x, str | int | float | bool) for x in v))}
    if isinstance(meta.get("strategies"), dict):  # strategy label -> its [strategy] table: the labels
        plain["strategies"] = list(meta["strategies"])
    return {**plain, "output directory": str(folder.resolve())}
