"""The content of a hosting-capacity report, read from the study's output directory only
(``feedertwin hosting-capacity`` wrote it; see ``sim.study.hosting`` for the files).

``sections(out_dir)`` gives, in order:

1. *Hosting capacity per strategy*: P50 with the P10-P90 spread over the seeds and every seed's
   value as a dot; the table of ``capacity.csv``;
2. *Violations against the EV count*: for every evaluated run, the minutes its worst limit was
   broken (0 while within limits), open markers for failing runs; the capacity (P50) as a line;
3. *Where the feeder breaks first*: the feeder (``feeder.json``) with the binding element of every
   seed marked (a bus for voltage, a line, the transformer), and the per-seed table;
4. *Transformer loading duration curves*: for each strategy, the run at the capacity of the median
   seed and the run one EV above it (the first failing count), against the transformer limit;
5. *Criteria, strategies and versions* as they were run.

The duration curves come from ``points.parquet``, which keeps each run's transformer loading as
101 descending quantiles (exceeded 0 %, 1 %, ... 100 % of the time): small, and there for every
evaluated count, so no time series need to be kept. Nothing here imports pandapower or runs a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.report.sections import Section

META_FILE = "hosting.json"
POINTS_FILE = "points.parquet"
CAPACITY_FILE = "capacity.csv"
BY_SEED_FILE = "capacity_by_seed.csv"
FEEDER_FILE = "feeder.json"
LIMIT_NAMES = ("undervoltage", "overvoltage", "line", "transformer", "unbalance")  # unbalance: when the criteria set it
FIGSIZE_IN = (8.0, 3.8)
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
LIMIT_MARKERS = {"undervoltage": "v", "overvoltage": "^", "line": "s", "transformer": "D", "unbalance": "P",
                 "loadflow": "X"}


def _figure(size: tuple[float, float] = FIGSIZE_IN) -> tuple[Figure, Axes]:
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def sections(out_dir: Path) -> list[Section]:
    """The report's sections for the hosting-capacity study in ``out_dir`` (see the module docstring)."""
    root = Path(out_dir)
    meta = json.loads((root / META_FILE).read_text(encoding="utf-8"))
    capacity = pd.read_csv(root / CAPACITY_FILE, keep_default_na=False, na_values=[""])
    by_seed = pd.read_csv(root / BY_SEED_FILE, keep_default_na=False, na_values=[""], dtype={"binding_element": str})
    points = pd.read_parquet(root / POINTS_FILE)
    if "criteria_hash" in meta:  # the file also keeps points of earlier calls with other arguments
        points = points[(points["criteria_hash"] == meta["criteria_hash"]) & points["seed"].isin(meta.get("seeds", []))]
    feeder = json.loads((root / FEEDER_FILE).read_text(encoding="utf-8"))
    by_seed["binding_limit"] = by_seed["binding_limit"].fillna("")
    by_seed["binding_element"] = by_seed["binding_element"].fillna("")
    labels = [str(s) for s in capacity["strategy"]]
    criteria = meta.get("criteria", {})
    return [
        Section("Hosting capacity per strategy",
                (f"The largest number of EVs (of {meta.get('max_count')} tried, one per household bus at most) at which "
                 f"'{meta.get('scenario')}' stays within the criteria, per strategy, over the seeds "
                 f"{meta.get('seeds')}: the bar is the median (P50), the whisker spans P10-P90, the dots are the "
                 "seeds. 'binding_limit' is the limit broken first in most seeds, at 'binding_element'.",),
                (capacity_figure(capacity, by_seed, labels),),
                (("Capacity (EV count)", capacity),)),
        Section("Violations against the EV count",
                ("Every evaluated run: the minutes its worst limit was broken (for the EN 50160 rule, 10 minutes "
                 "per 10-minute mean outside the band), filled when the run passes, open when it fails. The search "
                 "only runs the counts it needs, so each seed has a few points, dense near its capacity.",),
                (violations_figure(points, labels),)),
        Section("Where the feeder breaks first",
                ("The feeder as drawn from its geodata (or, without, as a tree from the transformer down). Marked: "
                 "the element whose limit is broken first (at the first failing count) in each seed, one colour "
                 "per strategy; a bus for voltage, a line for loading, the transformer for its loading.",),
                (feeder_figure(feeder, by_seed, labels),),
                (("Per seed", by_seed),)),
        Section("Transformer loading duration curves",
                ("Per strategy, the transformer loading sorted from highest to lowest over the run: solid at the "
                 "capacity of the median seed, dashed one EV above it (the first failing count). The dotted line "
                 f"is the limit ({criteria.get('loading', {}).get('trafo_max_percent', 100)} %). The results keep "
                 "the most loaded transformer per tick; on a feeder with one transformer, that transformer.",),
                (duration_figure(points, by_seed, labels, criteria),)),
        Section("Criteria, strategies and versions",
                (f"Criteria: {json.dumps(criteria, sort_keys=True)}",
                 f"Strategies: {json.dumps(meta.get('strategies', {}), sort_keys=True)}",
                 f"Search: {meta.get('search', '')}",
                 f"Versions: feedertwin {meta.get('feedertwin_version')}, Python {meta.get('python')}, "
                 + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()))),
    ]


def capacity_figure(capacity: pd.DataFrame, by_seed: pd.DataFrame, labels: list[str]) -> Figure:
    """P50 bars with P10-P90 whiskers per strategy, each seed's capacity as a dot."""
    fig, ax = _figure()
    x = np.arange(len(labels))
    p50 = capacity["capacity_p50"].to_numpy(dtype=float)
    lower = p50 - capacity["capacity_p10"].to_numpy(dtype=float)
    upper = capacity["capacity_p90"].to_numpy(dtype=float) - p50
    ax.bar(x, p50, color=[_color(i) for i in range(len(labels))], alpha=0.6, width=0.6)
    ax.errorbar(x, p50, yerr=[lower, upper], fmt="none", ecolor="black", capsize=6, label="P10-P90")
    rng = np.random.default_rng(0)  # a fixed jitter: the same report for the same study
    for i, label in enumerate(labels):
        seeds = by_seed.loc[by_seed["strategy"] == label, "capacity"].to_numpy(dtype=float)
        ax.scatter(i + rng.uniform(-0.15, 0.15, seeds.size), seeds, color="black", s=14, zorder=3,
                   label="a seed" if i == 0 else None)
    ax.set_xticks(x, labels)
    ax.set_ylabel("hosting capacity (EVs)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    return fig


def _worst_minutes(points: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    columns = [f"{name}_minutes" for name in LIMIT_NAMES if f"{name}_minutes" in points.columns]
    if not columns:
        return np.zeros(len(points))
    worst: np.ndarray[Any, np.dtype[np.float64]] = np.nan_to_num(points[columns].to_numpy(dtype=float), nan=0.0).max(axis=1)
    return worst


def violations_figure(points: pd.DataFrame, labels: list[str]) -> Figure:
    """Minutes of the worst limit's violation against the EV count, every evaluated run."""
    fig, ax = _figure()
    if points.empty:
        ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes)
        return fig
    minutes = _worst_minutes(points)
    passes = points["passes"].fillna(False).astype(bool).to_numpy()
    for i, label in enumerate(labels):
        mine = (points["strategy"] == label).to_numpy()
        offset = (i - (len(labels) - 1) / 2) * 0.08  # side by side where strategies share a count
        for ok in (True, False):
            rows = mine & (passes == ok)
            ax.scatter(points.loc[rows, "count"].to_numpy(dtype=float) + offset, minutes[rows], s=28,
                       facecolors=_color(i) if ok else "none", edgecolors=_color(i),
                       label=f"{label} ({'passes' if ok else 'fails'})")
    ax.set_xlabel("EV count")
    ax.set_ylabel("minutes the worst limit is broken")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def feeder_figure(feeder: dict[str, Any], by_seed: pd.DataFrame, labels: list[str]) -> Figure:
    """The feeder's lines and buses, the binding element of each seed marked by strategy colour."""
    fig, ax = _figure((8.0, 6.0))
    xy = {b["id"]: (float(b["x"]), float(b["y"])) for b in feeder.get("buses", [])}
    for line in feeder.get("lines", []):
        (x0, y0), (x1, y1) = xy[line["from_bus"]], xy[line["to_bus"]]
        ax.plot([x0, x1], [y0, y1], color="0.6", lw=0.8, zorder=1)
    for trafo in feeder.get("trafos", []):
        (x0, y0), (x1, y1) = xy[trafo["hv_bus"]], xy[trafo["lv_bus"]]
        ax.plot([x0, x1], [y0, y1], color="0.2", lw=2.0, zorder=1)
    loads = [xy[b["id"]] for b in feeder.get("buses", []) if b.get("load")]
    if loads:
        xs, ys = zip(*loads, strict=True)
        ax.scatter(xs, ys, s=8, color="0.4", zorder=2, label="household bus")
    if feeder.get("ext_grid_bus") in xy:
        x, y = xy[feeder["ext_grid_bus"]]
        ax.scatter(x, y, marker="s", s=60, color="black", zorder=3, label="external grid")
    for i, label in enumerate(labels):
        mine = by_seed[(by_seed["strategy"] == label) & by_seed["binding_limit"].isin(list(LIMIT_MARKERS))]
        for (limit, element), group in mine.groupby(["binding_limit", "binding_element"]):
            where = _element_xy(feeder, xy, str(limit), str(element))
            if where is None:
                continue
            size = (60 + 40 * len(group)) * 0.6 ** i  # later strategies smaller: both show at one element
            ax.scatter(where[0], where[1], marker=LIMIT_MARKERS[str(limit)], s=size, color=_color(i),
                       edgecolors="black", zorder=4 + i, alpha=0.85,
                       label=f"{label}: {limit} at {element} ({len(group)} seed{'s' if len(group) > 1 else ''})")
    ax.set_aspect("equal" if feeder.get("layout") == "geodata" else "auto")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="best", fontsize="x-small")
    return fig


def _element_xy(feeder: dict[str, Any], xy: dict[str, tuple[float, float]], limit: str,
                element: str) -> tuple[float, float] | None:
    """Where to mark an element: a bus at its point, a line or transformer at its middle."""
    if limit in ("undervoltage", "overvoltage", "unbalance"):  # a bus
        return xy.get(element)
    if limit == "line":
        ends = [(ln["from_bus"], ln["to_bus"]) for ln in feeder.get("lines", []) if ln["id"] == element]
    else:
        trafos = feeder.get("trafos", [])
        ends = [(t["hv_bus"], t["lv_bus"]) for t in trafos if t["id"] == element] or \
               [(t["hv_bus"], t["lv_bus"]) for t in trafos[:1]]
    if not ends:
        return None
    (x0, y0), (x1, y1) = xy[ends[0][0]], xy[ends[0][1]]
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def _median_seed(rows: pd.DataFrame) -> pd.Series | None:
    """The row of the seed whose capacity is the median (the lower of the two middle ones)."""
    found = rows.dropna(subset=["capacity"]).sort_values(["capacity", "seed"])
    return None if found.empty else found.iloc[(len(found) - 1) // 2]


def duration_figure(points: pd.DataFrame, by_seed: pd.DataFrame, labels: list[str], criteria: dict[str, Any]) -> Figure:
    """Transformer loading duration curves at the capacity (solid) and one EV above it (dashed)."""
    fig, ax = _figure()
    column = "trafo_loading_duration_percent"
    for i, label in enumerate(labels):
        seed_row = _median_seed(by_seed[by_seed["strategy"] == label])
        if seed_row is None or column not in points.columns:
            continue
        for count, style, what in ((seed_row["capacity"], "-", "capacity"), (seed_row["first_fail"], "--", "+1 EV")):
            if pd.isna(count):
                continue
            run = points[(points["strategy"] == label) & (points["seed"] == seed_row["seed"])
                         & (points["count"] == int(count))]
            curve = run[column].iloc[0] if len(run) else None
            if curve is None or len(curve) == 0:
                continue
            share = np.linspace(0.0, 100.0, len(curve))
            ax.plot(share, np.asarray(curve, dtype=float), style, color=_color(i),
                    label=f"{label}, {int(count)} EVs ({what}, seed {int(seed_row['seed'])})")
    limit = float(criteria.get("loading", {}).get("trafo_max_percent", 100.0))
    ax.axhline(limit, color="black", ls=":", lw=1.0, label=f"limit {limit:g} %")
    ax.set_xlabel("share of the time (%)")
    ax.set_ylabel("transformer loading (%)")
    ax.set_xlim(0, 100)
    ax.legend(loc="upper right", fontsize="x-small")
    return fig
