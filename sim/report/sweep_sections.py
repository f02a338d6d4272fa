"""The content of a sweep's report, read from its output directory only (``feedertwin sweep`` wrote it).

``sections(out_dir)`` gives, in order:

1. *The study*: what was swept (each key with its values), seeds, run counts, how to read the rest;
2. *KPIs per variant*: the median over seeds of the main KPIs for every variant in one table, then
   for each variant the mean and the P10 / P50 / P90 over its seeds;
3. *KPIs against the swept values*: for each swept numeric key, each main KPI against it, one line
   per value of the swept categorical keys (a strategy, say): the median over seeds with the
   P10-P90 band (a scatter of every run when the key was sampled at many values);
4. *Failed runs* with their errors; 5. the study file and base scenario as they were run;
6. *Versions* of the software that ran the sweep.

``title(out_dir)`` and ``facts(out_dir)`` give the page title and the facts table. Quantiles over
seeds interpolate linearly (pandas' default): with 2-3 seeds, P10 and P90 are close to the lowest
and highest run. A swept value of a table (a whole ``[strategy]``) is shown as ``name (key=value)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import sim
from sim.errors import DataError
from sim.report.html_parts import KPI_LABELS, format_value, unit_of
from sim.report.sections import Section

# The sweep directory's layout and row statuses, as ``sim.study.dataset`` and ``sim.study.runs`` write
# them (docs/studies.md; a test keeps the two in step). The report reads files only: it imports no
# model code, and the dataset is read through the public ``sim.load_sweep``.
META_FILE = "sweep.json"
KPI_DIR = "kpis"
STUDY_COPY = "study.toml"
BASE_COPY = "base_scenario.toml"
STATUS_OK = "ok"
STATUS_FAILED = "failed"

MAIN_KPIS = (
    "peak_import_kw",
    "max_trafo_loading_percent",
    "max_line_loading_percent",
    "vm_min_pu",
    "minutes_voltage_violation",
    "minutes_overload",
    "energy_unmet_kwh",
    "peak_charging_kw",
)
"""The KPIs the tables and plots show: the feeder's limits first, then what the drivers got."""

QUANTILES = (0.1, 0.5, 0.9)
MAX_VARIANT_TABLES = 40  # beyond this many variants only the overview table is given
MAX_FAILED_ROWS = 100
MAX_LISTED_VALUES = 12  # a numeric key with more values is shown by its range
MAX_LINE_POINTS = 25  # a numeric key with more distinct values (a sampled one) is shown as a scatter
PANEL_SIZE_IN = (5.0, 2.7)


def is_sweep_dir(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a sweep (its ``sweep.json``)."""
    return (Path(out_dir) / META_FILE).is_file()


def read_meta(out_dir: str | Path) -> dict[str, Any]:
    """``sweep.json`` of the sweep in ``out_dir`` (a ``DataError`` when missing or unreadable)."""
    path = Path(out_dir) / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(str(out_dir), "", f"no {META_FILE}: not a sweep output directory",
                        expected=f"the directory feedertwin sweep wrote ({META_FILE}, {KPI_DIR}/, {STUDY_COPY})") from None
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(str(path), "", f"cannot read it: {error}", expected="the JSON file feedertwin sweep wrote") from None
    if not isinstance(meta, dict):
        raise DataError(str(path), "", "not a JSON object", value=type(meta).__name__, expected="an object")
    return meta


def title(out_dir: str | Path) -> str:
    """The report's title: ``feedertwin sweep report: <study name>``."""
    return f"feedertwin sweep report: {read_meta(out_dir).get('study', Path(out_dir).name)}"


def facts(out_dir: str | Path) -> dict[str, Any]:
    """The study in a few lines: name, files, swept keys, seeds, run counts, wall time."""
    meta = read_meta(out_dir)
    table = sim.load_sweep(out_dir)
    n_ok, n_failed = _count(table, STATUS_OK), _count(table, STATUS_FAILED)
    n_runs = int(meta.get("n_runs", len(table)))
    out: dict[str, Any] = {
        "study": meta.get("study", ""),
        "description": meta.get("description", ""),
        "study file": meta.get("study_file", ""),
        "base scenario": meta.get("base_scenario", ""),
        "swept keys": list(meta.get("param_keys", [])),
        "seeds": list(meta.get("seeds", [])),
        "variants": meta.get("n_variants", ""),
        "runs in the study": n_runs,
        "runs ok": n_ok,
        "runs failed": n_failed,
        "runs not finished": max(n_runs - n_ok - n_failed, 0),
        "--set overrides": list(meta.get("overrides", [])) or "none",
    }
    if len(table):
        out["run time, all runs (s)"] = float(table["wall_time_s"].sum())
        out["workers"] = int(table["worker"].nunique())
    out["output directory"] = str(Path(out_dir).resolve())
    return out


def sections(out_dir: str | Path) -> list[Section]:
    """Every section of the sweep's report (see the module docstring)."""
    meta = read_meta(out_dir)
    table = sim.load_sweep(out_dir)
    keys = [k for k in meta.get("param_keys", []) if k in table.columns]
    ok = table[table["status"] == STATUS_OK] if len(table) else table
    return [
        _study_section(meta, table, keys),
        _variants_section(table, ok, keys),
        _plots_section(ok, keys),
        _failed_section(table, keys),
        _files_section(Path(out_dir)),
        _versions_section(meta),
    ]


# -- sections ---------------------------------------------------------------------------------------


def _study_section(meta: dict[str, Any], table: pd.DataFrame, keys: list[str]) -> Section:
    n_runs = int(meta.get("n_runs", len(table)))
    n_ok, n_failed = _count(table, STATUS_OK), _count(table, STATUS_FAILED)
    paragraphs = [
        str(meta.get("description") or "No description in the study file."),
        f"{meta.get('n_variants', '?')} variants x {len(meta.get('seeds', []))} seeds = {n_runs} runs: "
        f"{n_ok} ok, {n_failed} failed, {max(n_runs - n_ok - n_failed, 0)} not finished"
        + (" (run the same feedertwin sweep command again to finish them)." if n_runs > n_ok + n_failed else "."),
        "A variant is one combination of the swept values; each runs once per seed (the seed draws "
        "the sessions, the charger and the PV placement). The tables below give the mean and the "
        "P10 / P50 / P90 of each KPI over the seeds of a variant: P50 is the typical outcome, "
        "P10-P90 how much it depends on chance. With few seeds the spread is a rough one.",
    ]
    if len(table) > n_runs:
        paragraphs.append(f"The dataset holds {len(table) - n_runs} more rows than the study has runs: rows "
                          "of an earlier version of the study or its base scenario, shown here too.")
    rows = []
    for key in keys:
        values = _distinct(table[key])
        shown = ", ".join(value_label(v) for v in values)
        if len(values) > MAX_LISTED_VALUES and is_numeric_key(table[key]):  # a sampled key: its range
            shown = f"{len(values)} values in [{value_label(table[key].min())}, {value_label(table[key].max())}]"
        rows.append({"key": key, "values": shown, "varies": "yes" if len(values) > 1 else "no (fixed)"})
    swept = pd.DataFrame(rows, columns=["key", "values", "varies"])
    tables = (("Swept keys and the values found in the dataset", swept),) if rows else ()
    return Section("The study", paragraphs=tuple(paragraphs), tables=tables)


def _variants_section(table: pd.DataFrame, ok: pd.DataFrame, keys: list[str]) -> Section:
    title_ = "KPIs per variant"
    if not len(table):
        return Section(title_, paragraphs=("No finished runs yet.",))
    varying = varying_keys(table, keys)
    first = table.groupby("variant", sort=True).first()
    overview = pd.DataFrame(index=pd.Index(first.index, name="variant"))
    for key in varying:
        overview[key] = [value_label(v) for v in first[key]]
    overview["runs ok"] = ok.groupby("variant").size().reindex(overview.index, fill_value=0)
    overview["runs failed"] = (table["status"] == STATUS_FAILED).groupby(table["variant"]).sum()
    kpis = [k for k in MAIN_KPIS if k in table.columns]
    medians = ok.groupby("variant")[kpis].median() if len(ok) else pd.DataFrame(columns=kpis)
    for kpi in kpis:
        overview[kpi] = medians[kpi].reindex(overview.index)
    tables: list[tuple[str, pd.DataFrame]] = [("Median (P50) over the seeds of each variant", overview)]
    statistics = kpi_statistics(ok[ok["variant"].isin(overview.index[:MAX_VARIANT_TABLES])], kpis)
    for variant, frame in statistics.items():  # a variant whose runs all failed has none: see Failed runs
        n_ok = overview.loc[variant, "runs ok"]
        caption = f"Variant {variant}: {variant_label(first.loc[variant], varying)} ({n_ok} runs ok)"
        tables.append((caption, frame))
    paragraphs = [
        "The first table has one row per variant: the swept values that differ between variants, "
        "the runs, and the median over seeds of each main KPI (columns named as in the dataset). "
        "Then one table per variant: each KPI's mean and P10 / P50 / P90 over its seeds (failed "
        "runs left out; a variant none of whose runs succeeded has none). Energy not delivered and "
        "the violation minutes are the ones to watch: above zero, the feeder or the strategy did not cope."
    ]
    if len(overview) > MAX_VARIANT_TABLES:
        paragraphs.append(f"Detail tables are given for the first {MAX_VARIANT_TABLES} of {len(overview)} "
                          "variants; sim.load_sweep reads all of them.")
    return Section(title_, paragraphs=tuple(paragraphs), tables=tuple(tables))


def _plots_section(ok: pd.DataFrame, keys: list[str]) -> Section:
    title_ = "KPIs against the swept values"
    if not len(ok):
        return Section(title_, paragraphs=("No successful runs to plot.",))
    varying = varying_keys(ok, keys)
    numeric = [k for k in varying if is_numeric_key(ok[k])]
    groups = [k for k in varying if k not in numeric]
    kpis = [k for k in MAIN_KPIS if k in ok.columns]
    if numeric:
        figures = tuple(kpi_figure(ok, x_key, groups, kpis) for x_key in numeric)
        text = ("One figure per swept numeric key, one panel per KPI: the line is the median over the "
                "seeds (and over any other swept numeric key), the shaded band P10-P90"
                + (f"; one line per {', '.join(groups)} (a line hidden under another: the same values)."
                   if groups else "."))
    else:
        figures = (variants_figure(ok, varying, kpis),)
        text = "No numeric key was swept: each KPI per variant, the median over seeds with P10-P90 bars."
    return Section(title_, paragraphs=(text,), figures=figures)


def _failed_section(table: pd.DataFrame, keys: list[str]) -> Section:
    failed = table[table["status"] == STATUS_FAILED] if len(table) else table
    if not len(failed):
        return Section("Failed runs", paragraphs=("None: every finished run succeeded.",))
    columns = ["variant", "seed", *varying_keys(table, keys), "error", "run_key"]
    shown = failed[columns].head(MAX_FAILED_ROWS).copy()
    for key in varying_keys(table, keys):
        shown[key] = [value_label(v) for v in shown[key]]
    paragraphs = [f"{len(failed)} runs failed; the sweep went on without them. A failed run counts as finished: "
                  "run feedertwin sweep with --retry-failed to run them again."]
    if len(failed) > MAX_FAILED_ROWS:
        paragraphs.append(f"The first {MAX_FAILED_ROWS} are listed.")
    return Section("Failed runs", paragraphs=tuple(paragraphs),
                   tables=(("Failed runs and their errors", shown.reset_index(drop=True)),))


def _files_section(out_dir: Path) -> Section:
    texts = []
    for name, what in ((STUDY_COPY, "Study file"), (BASE_COPY, "Base scenario")):
        path = out_dir / name
        if path.is_file():
            texts.append((f"{what} ({name})", path.read_text(encoding="utf-8")))
    paragraphs = ("The files as the sweep ran them (copies kept in the output directory).",) if texts else (
        "The output directory holds no copy of the study file or the base scenario.",)
    return Section("Study file and base scenario", paragraphs=paragraphs, texts=tuple(texts))


def _versions_section(meta: dict[str, Any]) -> Section:
    versions = {"feedertwin": meta.get("feedertwin_version", "?"), "python": meta.get("python", "?"),
                **dict(meta.get("versions", {}))}
    frame = pd.DataFrame({"version": [str(v) for v in versions.values()]},
                         index=pd.Index(list(versions), name="package"))
    return Section("Versions", paragraphs=(f"The software that ran the sweep; this report was rendered by "
                                           f"feedertwin {sim.__version__}.",),
                   tables=(("Versions of the sweep", frame),))


# -- tables and figures ------------------------------------------------------------------------------


def kpi_statistics(ok: pd.DataFrame, kpis: Sequence[str]) -> dict[Any, pd.DataFrame]:
    """Per variant of ``ok`` (the successful runs): one row per KPI (its label) with unit, mean, P10,
    P50, P90 over the variant's runs, as text formatted by unit."""
    grouped = ok.groupby("variant", sort=True)[list(kpis)]
    means, quantiles = grouped.mean(), grouped.quantile(np.asarray(QUANTILES))  # all variants at once
    labels = [KPI_LABELS.get(kpi, (kpi, unit_of(kpi))) for kpi in kpis]
    columns = ["unit", "mean", *(f"P{round(q * 100)}" for q in QUANTILES)]
    out = {}
    for variant in means.index:
        stats = [means.loc[variant], *(quantiles.loc[(variant, q)] for q in QUANTILES)]
        rows = [[unit, *(format_value(float(s[kpi]), unit) for s in stats)] for kpi, (_, unit) in zip(kpis, labels, strict=True)]
        out[variant] = pd.DataFrame(rows, columns=columns, index=pd.Index([label for label, _ in labels], name="KPI"))
    return out


def kpi_figure(ok: pd.DataFrame, x_key: str, groups: list[str], kpis: Sequence[str]) -> Figure:
    """Each KPI against ``x_key`` (one panel each): per combination of the ``groups`` keys the median
    over the runs at each value with the P10-P90 band, or every run as a point when ``x_key`` has more
    than ``MAX_LINE_POINTS`` values."""
    fig, axes = _panels(len(kpis))
    scatter = ok[x_key].nunique() > MAX_LINE_POINTS
    grouped = list(ok.groupby(groups, sort=False)) if groups else [((), ok)]  # in variant order
    for ax, kpi in zip(axes, kpis, strict=False):
        for name, runs in grouped:
            label = ", ".join(value_label(v) for v in (name if isinstance(name, tuple) else (name,))) or "all runs"
            runs = runs.dropna(subset=[kpi])
            if scatter:
                ax.scatter(runs[x_key], runs[kpi], s=12, alpha=0.6, label=label)
                continue
            stats = runs.groupby(x_key)[kpi].quantile(np.asarray(QUANTILES)).unstack()
            if not len(stats):
                continue
            (line,) = ax.plot(stats.index, stats[QUANTILES[1]], marker="o", ms=4, label=label)
            ax.fill_between(stats.index, stats[QUANTILES[0]], stats[QUANTILES[2]], color=line.get_color(),
                            alpha=0.2, lw=0)
        _label_panel(ax, kpi)
        ax.set_xlabel(x_key)
        if pd.api.types.is_integer_dtype(ok[x_key]):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if groups or scatter:
        axes[0].legend(fontsize="small")
    how = "every run" if scatter else "median over seeds, band P10-P90"
    fig.suptitle(f"Main KPIs against {x_key} ({how})")
    return fig


def variants_figure(ok: pd.DataFrame, varying: list[str], kpis: Sequence[str]) -> Figure:
    """Each KPI per variant (one panel each): the median over seeds with P10-P90 bars."""
    fig, axes = _panels(len(kpis))
    first = ok.groupby("variant", sort=True).first()
    labels = [variant_label(first.loc[v], varying) if varying else str(v) for v in first.index]
    for ax, kpi in zip(axes, kpis, strict=False):
        stats = ok.groupby("variant", sort=True)[kpi].quantile(np.asarray(QUANTILES)).unstack().reindex(first.index)
        x = range(len(stats))
        ax.errorbar(x, stats[QUANTILES[1]], yerr=[stats[QUANTILES[1]] - stats[QUANTILES[0]],
                                                  stats[QUANTILES[2]] - stats[QUANTILES[1]]],
                    fmt="o", capsize=3)
        ax.set_xticks(list(x), labels, rotation=30, ha="right", fontsize="small")
        _label_panel(ax, kpi)
    fig.suptitle("Main KPIs per variant (median over seeds, bars P10-P90)")
    return fig


def _panels(n: int) -> tuple[Figure, list[Axes]]:
    n_cols = 2 if n > 1 else 1
    n_rows = max(math.ceil(n / n_cols), 1)
    fig = Figure(figsize=(PANEL_SIZE_IN[0] * n_cols, PANEL_SIZE_IN[1] * n_rows + 0.5), layout="constrained")
    axes = list(fig.subplots(n_rows, n_cols, squeeze=False).flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _label_panel(ax: Axes, kpi: str) -> None:
    label, unit = KPI_LABELS.get(kpi, (kpi, unit_of(kpi)))
    ax.set_title(f"{label} ({unit})" if unit else label, fontsize="medium")
    ax.grid(alpha=0.3)


# -- values and keys ---------------------------------------------------------------------------------


def varying_keys(table: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """The swept keys that take more than one value in ``table`` (all of them vary by variant)."""
    return [k for k in keys if len(_distinct(table[k])) > 1]


def is_numeric_key(column: pd.Series) -> bool:
    """A swept key to plot against: integers or floats (not booleans, text or JSON tables)."""
    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def value_label(value: Any) -> str:
    """A swept value as short text: ``0.4``, ``edf``; a table (JSON text) as ``name (key=value, ...)``."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(parsed, dict):
            name = parsed.pop("name", None)
            rest = ", ".join(f"{k}={v}" for k, v in parsed.items())
            return f"{name} ({rest})" if name is not None and rest else str(name) if name is not None else rest
    if hasattr(value, "item"):
        value = value.item()  # a numpy scalar
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def variant_label(first_row: pd.Series, varying: Sequence[str]) -> str:
    """``key=value, ...`` of the keys that vary between variants (``all runs alike`` when none does)."""
    return ", ".join(f"{k}={value_label(first_row[k])}" for k in varying) or "all runs alike"


def _distinct(column: pd.Series) -> list[Any]:
    return list(pd.unique(column))


def _count(table: pd.DataFrame, status: str) -> int:
    return int((table["status"] == status).sum()) if len(table) else 0
