"""The run report: figures (matplotlib, no pyplot) and one self-contained HTML file.

Works from stored results only: ``write_report(load_results(d), d / "report.html")``.
"""

from sim.report.html import write_report

__all__ = ["write_report"]
