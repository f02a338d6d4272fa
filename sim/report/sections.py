"""The parts a study report is made of, so each kind of study supplies its own content and one
renderer (``sim.report.study_html``) turns them into a self-contained HTML page.

A sweep's sections come from ``sim.report.sweep_sections``, a hosting-capacity study's from
``sim.report.hosting``; each reads only the study's output directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Section:
    """One heading of a report: paragraphs of plain text (escaped when rendered), matplotlib
    figures (embedded as PNG), titled tables (rendered with their index and column names) and
    titled verbatim texts such as a copied study file (rendered in ``<pre>``, escaped)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    tables: tuple[tuple[str, pd.DataFrame], ...] = field(default=())
    texts: tuple[tuple[str, str], ...] = ()
