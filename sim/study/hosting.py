"""``sim.study.hosting_capacity`` / ``feedertwin hosting-capacity``: how many EVs a feeder hosts.

For each strategy and seed, the largest number of EVs (chargers with their vehicles) at which every
run stays within the criteria (``sim.results.violations``), found by a search over the count
(``sim.study.hosting_search``: doubling, then bisection) rather than a grid; then P10 / P50 / P90
over the seeds, and which limit binds first and where.

**The EV count.** One ``[[chargers]]`` placement rule of the base scenario (``random_load_buses`` or
``per_load_bus``; the only one, or ``ev_entry``) is the EV population. For a seed, the load buses are
put in a random order drawn from the seed (a stream of its own: the same order for every count and
strategy), and *n* EVs are the first *n* buses of that order, written as explicit chargers in that
order. The session generator draws charger by charger in charger order, so the first *n* chargers get
the same sessions at every count: *n* + 1 EVs are *n* EVs plus one more. This nesting is what makes the
search's monotonicity assumption hold for the load a feeder sees. Counts run from 0 to the number of
load buses (one EV per household bus) or ``max_count``.

**The runs** go through Dask as a sweep's do (``dask_client``, ``run_many``, ``run_one``) with the limit
checks computed on the worker (``assess_point``); each round runs the next counts of every open
search at once (several per search when workers would idle), so the workers stay busy.

**The output directory** (default ``out/<scenario name>-hosting/``)::

    hosting.json        the study: scenario, strategies, seeds, criteria (and their hash), counts, versions
    points.parquet      every evaluated run: strategy, seed, count, passes, binding limit and
                        element, the limit checks, the KPIs and the transformer's loading duration
                        curve (101 values), status, error, wall time
    capacity.csv        per strategy: capacity P10 / P50 / P90, min, max, one column per seed, and the
                        limit that binds first (in most seeds) and where
    capacity_by_seed.csv  per strategy and seed: capacity, first failing count, binding limit, element
    feeder.json         buses and lines as points and segments (``sim.study.hosting_feeder``)
    base_scenario.toml  a copy of the base scenario file

Run again with the same arguments and the evaluated points are reused (matched by the run's key and
the criteria); a change of criteria or scenario runs new points.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import pandas as pd

from sim import __version__
from sim.errors import FeedertwinError, ScenarioError
from sim.results import Results
from sim.results.violations import UNBALANCE_KEY, Criteria, check_results, duration_curve
from sim.scenario import Scenario, load_scenario, scenario_from_dict, scenario_hash
from sim.scenario.schema import PER_PHASE_LOADFLOWS
from sim.study.cluster import check_cluster_args, dask_client, describe, run_many
from sim.study.dataset import _versions
from sim.study.hosting_criteria import criteria_dict, load_criteria
from sim.study.hosting_search import CountSearch
from sim.study.runs import STATUS_OK, RunSpec, apply_params, make_run

if TYPE_CHECKING:
    from distributed import Client

    from sim.grid import Feeder

META_FILE = "hosting.json"
POINTS_FILE = "points.parquet"
CAPACITY_FILE = "capacity.csv"
BY_SEED_FILE = "capacity_by_seed.csv"
FEEDER_FILE = "feeder.json"
BASE_COPY = "base_scenario.toml"
EV_ORDER_STREAM = 3  # SeedSequence(seed).spawn(4)[3]: the engine uses children 0-2 (grid, placement, fleet)
RULE_KEYS = ("place", "count", "share", "id_prefix")
LOADFLOW_FAILED = "loadflow"  # the binding "limit" of a run whose load flow has no solution
MAX_PROBES_PER_SEARCH = 4


class HostingError(FeedertwinError):
    """A hosting-capacity study asked for something the scenario cannot give (no EV rule, counts)."""


@dataclass(frozen=True)
class HostingResult:
    """The study's tables (also written to ``out_dir``) and what this call ran.

    ``capacity``: one row per strategy; ``by_seed``: one row per strategy and seed; ``points``: every
    evaluated run. ``n_runs``: runs done by this call; ``n_reused``: points found in ``out_dir``.
    """

    out_dir: Path
    capacity: pd.DataFrame = field(repr=False)
    by_seed: pd.DataFrame = field(repr=False)
    points: pd.DataFrame = field(repr=False)
    criteria: Criteria
    n_runs: int
    n_reused: int


@dataclass(frozen=True)
class EvPopulation:
    """The EV rule of the base scenario: its entry, what each EV charger gets, and the load buses."""

    entry: int
    id_prefix: str
    electrical: Mapping[str, Any]
    load_buses: tuple[int, ...]

    def order(self, seed: int) -> list[int]:
        """The load buses in the order EVs are added for ``seed`` (its own random stream)."""
        stream = np.random.SeedSequence(int(seed)).spawn(EV_ORDER_STREAM + 1)[EV_ORDER_STREAM]
        return [int(b) for b in np.random.default_rng(stream).permutation(np.asarray(self.load_buses))]

    def scenario(self, base: Scenario, seed: int, count: int) -> Scenario:
        """``base`` with the EV rule replaced by the first ``count`` buses of ``order(seed)``."""
        raw = copy.deepcopy(base.raw)
        explicit: list[dict[str, Any]] = [{"id": f"{self.id_prefix}{k:03d}", "bus": bus, **self.electrical}
                                          for k, bus in enumerate(self.order(seed)[:count], start=1)]
        if not explicit and len(raw["chargers"]) == 1:  # no EV and no other charger: an empty rule
            explicit = [{"place": "per_load_bus", "share": 0.0, "id_prefix": self.id_prefix, **self.electrical}]
        raw["chargers"][self.entry:self.entry + 1] = explicit
        return scenario_from_dict(raw, base.path)


def ev_population(base: Scenario, feeder: Feeder, entry: int | None = None) -> EvPopulation:
    """The EV rule of ``base`` (the only placement rule, or ``[[chargers]]`` entry ``entry``)."""
    file = str(base.path or "<scenario>")
    chargers = base.raw.get("chargers", [])
    rules = [i for i, item in enumerate(chargers) if "place" in item]
    if entry is None:
        if len(rules) != 1:
            raise HostingError(f"{file}: [[chargers]] has {len(rules)} placement rules (entries {rules}); a hosting-"
                               "capacity study varies one: name it with --ev-entry N (ev_entry=N)" if rules else
                               f"{file}: [[chargers]] has no placement rule (place = ...) to vary; a hosting-capacity "
                               "study needs one, e.g. place = \"per_load_bus\"")
        entry = rules[0]
    if entry not in rules:
        raise HostingError(f"{file}: --ev-entry {entry}: chargers[{entry}] is not a placement rule; "
                           f"expected one of {rules}")
    rule = chargers[entry]
    return EvPopulation(entry, str(rule.get("id_prefix", "cp")),
                        {k: v for k, v in rule.items() if k not in RULE_KEYS}, tuple(feeder.load_bus_ids()))


def strategy_tables(base: Scenario, strategies: Sequence[str | Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Label -> the ``[strategy]`` table of each strategy. A name equal to the base scenario's strategy
    keeps the base's parameters; another name runs with its defaults; a mapping is a whole table."""
    if isinstance(strategies, str):
        strategies = [s.strip() for s in strategies.split(",") if s.strip()]
    if not strategies:
        raise HostingError("no strategy given; expected e.g. --strategies uncontrolled,edf")
    base_table = dict(base.raw.get("strategy", {"name": base.strategy.name}))
    out: dict[str, dict[str, Any]] = {}
    for item in strategies:
        if isinstance(item, str):
            table = dict(base_table) if item == base_table.get("name") else {"name": item}
            label = item
        else:
            table = dict(item)
            params = {k: v for k, v in table.items() if k != "name"}
            label = str(table.get("name", "?")) + (f" {json.dumps(params, sort_keys=True)}" if params else "")
        if label in out:
            raise HostingError(f"strategy {label!r} is given twice; expected each strategy once")
        out[label] = table
    return out


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    """``3`` -> [0, 1, 2]; a list as given (integers >= 0, no repeats)."""
    values = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not values or any(s < 0 for s in values) or len(set(values)) != len(values):
        raise HostingError(f"seeds: expected a count >= 1 or distinct integers >= 0; got {seeds!r}")
    return values


def check_criteria_fit(criteria: Criteria, base: Scenario, criteria_file: str | Path | None = None) -> None:
    """Refuse, before anything runs, criteria the runs of ``base`` cannot be checked against: an
    unbalance limit needs per-phase results, i.e. an unbalanced load flow (``PER_PHASE_LOADFLOWS``)."""
    if criteria.needs_phases and base.grid.loadflow not in PER_PHASE_LOADFLOWS:
        raise ScenarioError(str(criteria_file or "<criteria>"), UNBALANCE_KEY,
                            f"the unbalance limit needs per-phase results, but the scenario "
                            f"{base.path or base.name} runs the balanced load flow "
                            f"(grid.loadflow = {base.grid.loadflow!r}); set grid.loadflow = \"unbalanced\" "
                            "(e.g. --set grid.loadflow='\"unbalanced\"') or remove the key",
                            value=criteria.vuf_max_percent, expected=f"no {UNBALANCE_KEY} for a balanced study")


def assess_point(results: Results, *, criteria: Criteria, trafo_id: str) -> dict[str, Any]:
    """The columns a run adds to its point (computed on the worker): the limit checks and the
    transformer loading duration curve."""
    check = check_results(results, criteria, trafo_id)
    trafo = results.timeseries["max_trafo_loading_percent"].to_numpy(dtype=float)
    return {**check.row(), "trafo_loading_duration_percent": duration_curve(trafo)}


def point_key(run_key: str, criteria_hash: str) -> str:
    """16 hex digits naming an evaluated point: the run (scenario and seed) under these criteria."""
    return hashlib.sha256(f"{run_key}:{criteria_hash}".encode("ascii")).hexdigest()[:16]


def _criteria_hash(criteria: Criteria) -> str:
    return hashlib.sha256(json.dumps(criteria_dict(criteria), sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _outcome(row: Mapping[str, Any]) -> bool | None:
    """Whether a point passes; a run whose load flow failed fails (no solution within any limit);
    ``None`` for a run that failed for another reason (the search of its seed stops there)."""
    if row["status"] == STATUS_OK:
        return bool(row["passes"])
    if str(row.get("error") or "").startswith("LoadFlowError"):
        return False
    return None


def hosting_capacity(
    scenario: Scenario | str | Path,
    strategies: Sequence[str | Mapping[str, Any]] | str,
    *,
    seeds: int | Sequence[int] = 3,
    criteria: Criteria | str | Path | None = None,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    max_count: int | None = None,
    ev_entry: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Client | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> HostingResult:
    """Find each strategy's hosting capacity on ``scenario`` (see the module docstring).

    ``strategies``: names (``"uncontrolled,edf"`` or a list) or whole ``[strategy]`` tables;
    ``seeds``: a count (seeds 0..N-1) or a list; ``criteria``: a ``Criteria``, a criteria TOML file
    or ``None`` (the defaults); ``overrides``: ``--set`` strings for the scenario file; ``max_count``:
    the largest EV count tried (default: one per load bus); ``ev_entry``: the ``[[chargers]]`` entry
    that is the EV population (default: the only placement rule); ``workers`` / ``scheduler`` /
    ``client``: the Dask cluster, as for ``sim.sweep``.
    """
    from sim.domain import Timebase
    from sim.grid import build_feeder
    from sim.strategies import create
    from sim.study.hosting_feeder import write_feeder_json

    check_cluster_args(workers=workers, scheduler=scheduler, client=client)
    if isinstance(scenario, Scenario) and overrides:
        raise TypeError("overrides apply to a scenario file path; edit the Scenario object instead")
    stream = stream if stream is not None else sys.stderr
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    rules = criteria if isinstance(criteria, Criteria) else load_criteria(criteria)
    check_criteria_fit(rules, base, criteria if isinstance(criteria, str | Path) else None)
    tables = strategy_tables(base, strategies)
    for table in tables.values():  # an unknown strategy or parameter is refused before anything runs
        create(str(table.get("name")), {k: v for k, v in table.items() if k != "name"})
    seed_values = seed_list(seeds)
    # The network as the runs build it (PV placement aside, which does not matter here): load buses,
    # transformers and the drawing.
    feeder = build_feeder(base.grid, base.base_dir, Timebase(base.simulation.start), np.random.default_rng(0),
                          scenario_file=str(base.path or "<scenario>"))
    population = ev_population(base, feeder, ev_entry)
    n_load = len(population.load_buses)
    top = n_load if max_count is None else int(max_count)
    if not 1 <= top <= n_load:
        raise HostingError(f"--max-count {max_count}: the feeder has {n_load} load buses (one EV each at most); "
                           f"expected a count in [1, {n_load}]")
    trafo_id = str(feeder.trafo_ids[0]) if len(feeder.trafo_ids) == 1 else f"max of {len(feeder.trafo_ids)} transformers"
    assess = functools.partial(assess_point, criteria=rules, trafo_id=trafo_id)
    crit_hash = _criteria_hash(rules)
    out_dir = Path(out) if out is not None else Path("out") / f"{base.name}-hosting"
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = {label: apply_params(base, {"strategy": table}, str(base.path or "<scenario>"))
                for label, table in tables.items()}

    def spec(label: str, seed: int, count: int) -> RunSpec:
        variant = population.scenario(variants[label], seed, count)
        return make_run(variant, {"strategy": label, "count": count}, seed)

    def say(text: str) -> None:
        if progress:
            print(text, file=stream, flush=True)

    searches = {(label, seed): CountSearch(top) for label in tables for seed in seed_values}
    errors: dict[tuple[str, int], str] = {}
    rows: dict[str, dict[str, Any]] = {}  # point key -> row, of this study

    def record(row: dict[str, Any]) -> None:
        key = (str(row["strategy"]), int(row["seed"]))
        rows[row["point_key"]] = row
        outcome = _outcome(row)
        if outcome is None:
            errors[key] = str(row.get("error"))
        else:
            searches[key].record(int(row["count"]), outcome)

    n_reused = 0
    others: list[dict[str, Any]] = []  # points of other strategies, seeds or criteria: kept in the file, not used
    for row in _read_points(out_dir / POINTS_FILE):  # an earlier call's points: reused when they match
        key = (str(row.get("strategy")), int(row.get("seed", -1)))
        matches = key in searches and 0 <= int(row["count"]) <= top and row.get("criteria_hash") == crit_hash
        if matches and row["point_key"] == point_key(spec(key[0], key[1], int(row["count"])).run_key, crit_hash):
            record(row)
            n_reused += 1
        else:
            others.append(row)
    _write_meta(out_dir, base, tables, seed_values, rules, crit_hash, population, top, trafo_id)
    write_feeder_json(feeder, out_dir / FEEDER_FILE)
    say(f"hosting capacity of '{base.name}': {len(tables)} strategies x {len(seed_values)} seeds, EV counts 0..{top}"
        f"{f'; {n_reused} points evaluated before (reused)' if n_reused else ''}")

    n_runs = 0
    open_searches = [k for k, s in searches.items() if not s.done and k not in errors]
    if open_searches:
        with dask_client(workers=workers, scheduler=scheduler, client=client) as dask:
            slots = max(1, sum(dask.nthreads().values()))
            say(f"searching on {describe(dask)}")
            round_no = 0
            while open_searches:
                round_no += 1
                per_search = min(MAX_PROBES_PER_SEARCH, max(1, math.ceil(slots / len(open_searches))))
                specs = [spec(label, seed, count) for label, seed in open_searches
                         for count in searches[(label, seed)].next_counts(per_search)]
                try:
                    with closing(run_many(dask, specs, assess=assess)) as finished:  # closing cancels the rest
                        for row in finished:
                            row.update(point_key=point_key(row["run_key"], crit_hash), criteria_hash=crit_hash)
                            record(row)
                            n_runs += 1
                            _write_points(out_dir / POINTS_FILE, [*others, *rows.values()])
                except KeyboardInterrupt:
                    say(f"interrupted: {len(rows)} points in {out_dir / POINTS_FILE}; run the same command again "
                        "to continue from them")
                    raise
                open_searches = [k for k, s in searches.items() if not s.done and k not in errors]
                say(f"round {round_no}: {len(specs)} runs; {len(open_searches)} of {len(searches)} searches open")
    points = _points_frame(rows.values(), list(tables))
    _write_points(out_dir / POINTS_FILE, [*others, *rows.values()])
    by_seed = _by_seed(searches, errors, points, list(tables), top)
    capacity = _capacity(by_seed, list(tables), seed_values)
    by_seed.to_csv(out_dir / BY_SEED_FILE, index=False)
    capacity.to_csv(out_dir / CAPACITY_FILE, index=False)
    return HostingResult(out_dir, capacity, by_seed, points, rules, n_runs, n_reused)


def _read_points(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    frame = pd.read_parquet(path)
    return [{str(k): (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _points_frame(rows: Any, labels: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return frame
    order = {label: i for i, label in enumerate(labels)}
    frame = frame.assign(_order=frame["strategy"].map(order)).sort_values(["_order", "seed", "count"], kind="stable")
    leading = ["strategy", "seed", "count", "passes", "binding_limit", "binding_element"]
    columns = [c for c in leading if c in frame.columns] + [c for c in frame.columns if c not in leading]
    return frame.drop(columns="_order")[[c for c in columns if c != "_order"]].reset_index(drop=True)


def _write_points(path: Path, rows: Any) -> None:
    """Every point so far as one Parquet file, replaced atomically (a few hundred rows: cheap). Points
    of other strategies, seeds or criteria (an earlier call with other arguments) stay in it."""
    frame = pd.DataFrame(list(rows))
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)


def _by_seed(searches: Mapping[tuple[str, int], CountSearch], errors: Mapping[tuple[str, int], str],
             points: pd.DataFrame, labels: list[str], top: int) -> pd.DataFrame:
    """One row per strategy and seed: the capacity and what broke at the first failing count."""
    out = []
    for (label, seed), search in searches.items():
        row: dict[str, Any] = {"strategy": label, "seed": seed, "capacity": math.nan, "first_fail": math.nan,
                               "binding_limit": "", "binding_element": "", "fails_without_evs": False,
                               "monotone": search.monotone, "n_points": len(search.passed), "error": ""}
        if (label, seed) in errors:
            row["error"] = errors[(label, seed)]
        elif search.done:
            row.update(capacity=search.capacity, fails_without_evs=search.fails_without_evs)
            if search.first_fail <= top:
                row["first_fail"] = search.first_fail
                at = points[(points["strategy"] == label) & (points["seed"] == seed)
                            & (points["count"] == search.first_fail)].iloc[0]
                failed_run = at["status"] != STATUS_OK
                row["binding_limit"] = LOADFLOW_FAILED if failed_run else at["binding_limit"]
                row["binding_element"] = "" if failed_run else at["binding_element"]
            else:
                row["binding_limit"] = "none"  # no limit broken up to the largest count tried
        out.append(row)
    frame = pd.DataFrame(out)
    order = {label: i for i, label in enumerate(labels)}
    return frame.sort_values(["strategy", "seed"], key=lambda s: s.map(order) if s.name == "strategy" else s,
                             kind="stable").reset_index(drop=True)


def _capacity(by_seed: pd.DataFrame, labels: list[str], seeds: list[int]) -> pd.DataFrame:
    """One row per strategy: P10 / P50 / P90 (linear interpolation), min, max over the seeds, each
    seed's capacity, and the limit (and element) binding first in most seeds."""
    out = []
    for label in labels:
        mine = by_seed[by_seed["strategy"] == label]
        values = mine["capacity"].to_numpy(dtype=float)
        found = values[~np.isnan(values)]
        row: dict[str, Any] = {"strategy": label}
        for name, q in (("capacity_p10", 10), ("capacity_p50", 50), ("capacity_p90", 90)):
            row[name] = float(np.percentile(found, q)) if found.size else math.nan
        row["capacity_min"] = float(found.min()) if found.size else math.nan
        row["capacity_max"] = float(found.max()) if found.size else math.nan
        limits = mine.loc[mine["binding_limit"] != "", "binding_limit"]
        limit = str(limits.value_counts().index[0]) if len(limits) else ""
        elements = mine.loc[mine["binding_limit"] == limit, "binding_element"]
        row["binding_limit"] = limit
        row["binding_element"] = str(elements.value_counts().index[0]) if len(elements) else ""
        row["binding_seeds"] = f"{int((mine['binding_limit'] == limit).sum())}/{len(mine)}"
        row["n_failed_seeds"] = int((mine["error"] != "").sum())
        for seed, value in zip(mine["seed"], values, strict=True):
            row[f"seed_{seed}"] = value
        out.append(row)
    return pd.DataFrame(out)


def _write_meta(out_dir: Path, base: Scenario, tables: Mapping[str, Any], seeds: list[int], criteria: Criteria,
                criteria_hash: str, population: EvPopulation, top: int, trafo_id: str) -> None:
    """``hosting.json`` (what ``sweep.json`` is to a sweep) and a copy of the base scenario file."""
    if base.path is not None and Path(base.path).is_file():
        shutil.copyfile(base.path, out_dir / BASE_COPY)
    info = {
        "study": "hosting-capacity",
        "scenario": base.name,
        "scenario_file": str(base.path),
        "scenario_hash": scenario_hash(base),
        "strategies": dict(tables),
        "seeds": seeds,
        "criteria": criteria_dict(criteria),
        "criteria_hash": criteria_hash,  # the points.parquet rows of this study have it
        "ev_entry": population.entry,
        "ev_charger": dict(population.electrical),
        "n_load_buses": len(population.load_buses),
        "max_count": top,
        "transformer": trafo_id,
        "search": "per strategy and seed: counts 1, 2, 4, ... until one fails, then bisection; assumes that a "
                  "count passes when a larger one does (EVs nested: n + 1 EVs are n EVs plus one)",
        "files": [META_FILE, POINTS_FILE, CAPACITY_FILE, BY_SEED_FILE, FEEDER_FILE],
        "feedertwin_version": __version__,
        "python": platform.python_version(),
        "versions": _versions(),
    }
    text = json.dumps(info, indent=2, default=str) + "\n"
    (out_dir / META_FILE).write_text(text, encoding="utf-8")

