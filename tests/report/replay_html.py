"""Reading the replay section back out of a report.html, to check it against ``summary["replay"]``.

Used by ``tests/report/test_replay_section.py`` (synthetic results) and
``tests/live/test_export_replay.py`` (a replay of a real live store).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from sim.report.html_parts import KPI_LABELS
from sim.report.replay_section import ANCHOR, TITLE

_SECTION = re.compile(rf'<h2 id="{ANCHOR}">(.*?)</h2>(.*?)(?=<h2|</body>)', re.DOTALL)
_ROW = re.compile(r"<tr><th>(.*?)</th>(.*?)</tr>", re.DOTALL)
_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.DOTALL)
_IMAGE = '<img src="data:image/png;base64,'


def replay_section_html(report: str) -> str | None:
    """The replay section's HTML (after its heading), ``None`` when the report has none."""
    found = _SECTION.findall(report)
    assert len(found) <= 1
    if not found:
        return None
    title, body = found[0]
    assert html.unescape(title) == TITLE
    return str(body)


def table_rows(section: str) -> dict[str, list[str]]:
    """Row label -> its cells (unit, measured, simulated, difference, difference %), unescaped;
    the header row (no ``<td>``) is left out."""
    return {html.unescape(label): [html.unescape(c) for c in _CELL.findall(cells)]
            for label, cells in _ROW.findall(section) if _CELL.search(cells)}


def number(text: str) -> float | None:
    """A table cell as a number: ``1,234.50`` -> 1234.5, ``+3.2 %`` -> 3.2, ``n/a`` -> None."""
    return None if text == "n/a" else float(text.removesuffix(" %").replace(",", ""))


def check_replay_section(report: str, replay: dict[str, Any]) -> dict[str, list[str]]:
    """Assert the report's replay table shows ``replay`` (``summary["replay"]``) to the shown
    precision, with one figure; returns the rows (label -> cells)."""
    section = replay_section_html(report)
    assert section is not None
    assert section.count(_IMAGE) == 1
    assert f"<th>simulated with {replay['strategy']}</th>" in section
    rows = table_rows(section)
    measured, simulated = replay["measured"], replay["simulated"]
    assert set(rows) == {KPI_LABELS[key][0] for key in measured}
    for key, was in measured.items():
        label, unit = KPI_LABELS[key]
        shown_unit, shown_measured, shown_simulated, shown_difference, shown_percent = rows[label]
        would = simulated[key]
        assert shown_unit == unit
        assert number(shown_measured) == pytest.approx(was, abs=0.05)  # shown with 1 or 2 decimals
        assert number(shown_simulated) == pytest.approx(would, abs=0.05)
        assert number(shown_difference) == pytest.approx(would - was, abs=0.05)
        if was == 0:
            assert shown_percent == "n/a"
        else:
            assert number(shown_percent) == pytest.approx((would - was) / was * 100.0, abs=0.05)
    return rows
