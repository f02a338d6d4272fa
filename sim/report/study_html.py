"""One self-contained HTML report of a study (a sweep, a hosting-capacity study) from its ``Section``s.

Each kind of study supplies its content as ``sim.report.sections.Section``s (paragraphs, tables,
figures, verbatim texts); this module only lays them out: the title, a table of facts, a table of
contents, then each section in order. Like the run report (``sim.report.html``, sharing its style
and helpers in ``sim.report.html_parts``) the page has no external asset: figures are PNGs embedded
as data URIs, the style sheet is inline, and every piece of text (titles, cells, paragraphs, file
contents) is escaped, so a study name like ``<script>`` shows as text.

Rendering consumes the sections' figures (each is cleared once embedded, to free its memory).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.report.html_parts import figure_html, format_value, page, row, unit_of
from sim.report.sections import Section

REPORT_FILE = "report.html"
"""The report's file name inside the study's output directory (the default place)."""

_NUMBER_TEXT = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?( %)?$", re.IGNORECASE)


def write_study_report(
    out_dir: str | Path,
    sections: Sequence[Section],
    title: str,
    facts: Mapping[str, Any],
    path: str | Path | None = None,
) -> Path:
    """Write the report of the study in ``out_dir`` to ``path`` (default ``out_dir/report.html``;
    parent directories created) and return the path.

    ``title`` and the keys and values of ``facts`` (shown as a table under the title: study name,
    run counts, ...) are plain text.
    """
    target = Path(path) if path is not None else Path(out_dir) / REPORT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_study_report(sections, title, facts), encoding="utf-8")
    return target


def render_study_report(sections: Sequence[Section], title: str, facts: Mapping[str, Any]) -> str:
    """The whole report as one HTML string."""
    body = [facts_table(facts)]
    if len(sections) > 1:
        items = "".join(f'<li><a href="#section-{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections))
        body.append(f'<nav><ul class="contents">{items}</ul></nav>')
    body += [section_html(section, f"section-{i}") for i, section in enumerate(sections)]
    return page(title, body)


def section_html(section: Section, anchor: str) -> str:
    """One section: its heading, paragraphs, tables, figures, then verbatim texts."""
    parts = [f'<h2 id="{html.escape(anchor)}">{html.escape(section.title)}</h2>']
    parts += [f"<p>{html.escape(text)}</p>" for text in section.paragraphs]
    parts += [table_html(caption, frame) for caption, frame in section.tables]
    for i, fig in enumerate(section.figures):
        alt = fig.get_suptitle() or f"{section.title}: figure {i + 1}"
        parts.append(figure_html(fig, alt=alt))
    for caption, text in section.texts:
        parts.append(f"<h3>{html.escape(caption)}</h3>\n<pre>{html.escape(text)}</pre>")
    return "\n".join(parts)


def facts_table(facts: Mapping[str, Any]) -> str:
    """The facts as a two-column table (lists joined by commas, tables as ``key=value`` pairs)."""
    rows = [row([html.escape(str(key)), html.escape(_fact_text(str(key), value))]) for key, value in facts.items()]
    head = "<tr><th>what</th><th>value</th></tr>"
    return f'<table class="facts">\n{head}\n' + "\n".join(rows) + "\n</table>"


def _fact_text(key: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_fact_text(str(k), v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(_fact_text(key, v) for v in value) or "(none)"
    return format_value(_plain(value), unit_of(key))


def table_html(caption: str, frame: pd.DataFrame) -> str:
    """A titled table: the index as header cells (left out when it is an unnamed 0, 1, ...
    ``RangeIndex``), the column names as header row, numbers formatted by the unit their column
    name ends with (``_kw``, ``_pu``, ...) and right-aligned, text escaped."""
    show_index = not (isinstance(frame.index, pd.RangeIndex) and all(n is None for n in frame.index.names))
    index_names = [html.escape("" if n is None else str(n)) for n in frame.index.names] if show_index else []
    columns = [_column_name(c) for c in frame.columns]
    head = "".join(f"<th>{name}</th>" for name in [*index_names, *(html.escape(c) for c in columns)])
    rows = []
    n_index = len(index_names)
    for label, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        labels = (label if isinstance(label, tuple) else (label,)) if show_index else ()
        cells = [html.escape(_cell_text(v, "")) for v in labels]
        cells += [html.escape(_cell_text(v, unit_of(c))) for v, c in zip(values, columns, strict=True)]
        numeric = tuple(i for i, text in enumerate(cells) if i >= n_index and _NUMBER_TEXT.match(text))
        rows.append(row(cells, numeric=numeric, header=tuple(range(n_index))))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="study">{cap}\n<tr>{head}</tr>\n' + "\n".join(rows) + "\n</table>"


def _column_name(column: Any) -> str:
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if str(part))
    return str(column)


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, missing values (None, NaN, NA, NaT) as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _cell_text(value: Any, unit: str) -> str:
    value = _plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return format_value(value, unit)
