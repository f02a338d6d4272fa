"""Study files (TOML): a base scenario, what varies (a grid and/or random draws) and the seeds.

Every key (``*`` marks the required ones)::

    [study]                           # * marks the file as a study (feedertwin validate / sweep)
    name = "ev-penetration"           # default: the file's stem; names out/<name>-sweep/
    description = "..."               # default ""
    base = "../default.toml"          # * the base scenario, relative to this file
    seeds = 5                         # 5 means seeds 0..4; or a list [1, 7, 42] (integers >= 0, no
                                      #   repeats); default: the base scenario's own seed
    seed = 0                          # integer >= 0, default 0: seeds the [sample] draws

    [grid]                            # optional: every combination of these values
    "chargers.0.share" = [0.2, 0.4]   # a scenario key, dotted as for --set -> a non-empty array of
    "grid.pv.kwp" = [5.0]             #   values (no repeats); one value sets the key for every run
    strategy = [{ name = "uncontrolled" }, { name = "grid_aware", vm_min_pu = 0.95 }]  # whole tables

    [sample]                          # optional: n random draws
    n = 20                            # * integer >= 1
    "grid.pv.share" = { uniform = [0.0, 0.5] }     # a float in [a, b], a < b
    "chargers.0.count" = { integer = [5, 40] }     # an integer in [a, b], both included
    "fleet.kinds.home.energy_kwh_mean" = { choice = [10, 15, 20] }  # one of the values

    [outputs]                         # optional
    timeseries = false                # true: keep each run's full results under runs/<run key>/

Keys may also be written unquoted (``strategy.name = [...]`` makes TOML tables; they are read back as
the dotted key). ``simulation.seed`` cannot be swept: the seeds are ``[study] seeds``.

Variants: every combination of the grid (the first key varies slowest), each combined with every
draw of ``[sample]`` (drawn once, from ``[study] seed``: all grid points share the same draws, key by
key in file order). Variants that give the same scenario are run once. Each variant runs with every
seed. Every variant's ``Scenario`` (and its strategy's parameters) is built when the study loads, so
a bad key or value is reported before any run, naming the study file, the key and the variant.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError, StrategyError
from sim.scenario import Scenario, load_scenario, scenario_hash
from sim.scenario._reader import Table, as_integer, as_number, one_of, suggestion, type_name
from sim.scenario.load import read_toml
from sim.scenario.overrides import apply_values
from sim.study.runs import SEED_KEY, RunSpec, apply_params, make_run

STUDY_ROOT_KEYS = ("study", "grid", "sample", "outputs")
STUDY_KEYS = ("name", "description", "base", "seeds", "seed")
OUTPUT_KEYS = ("timeseries",)
DISTRIBUTIONS = ("uniform", "integer", "choice")
SAMPLE_COUNT_KEY = "n"


@dataclass(frozen=True)
class Distribution:
    """How one ``[sample]`` key is drawn: ``uniform`` (a, b), ``integer`` (a, b) or ``choice`` (values)."""

    kind: str
    args: tuple[Any, ...]

    def draw(self, rng: np.random.Generator) -> Any:
        if self.kind == "uniform":
            return float(rng.uniform(self.args[0], self.args[1]))
        if self.kind == "integer":
            return int(rng.integers(self.args[0], self.args[1], endpoint=True))
        return self.args[int(rng.integers(len(self.args)))]

    def domain(self) -> tuple[Any, ...]:
        """Values standing for what this draws (for the column type of the dataset)."""
        return (0.5,) if self.kind == "uniform" else (1,) if self.kind == "integer" else self.args


@dataclass(frozen=True)
class Variant:
    """The base scenario with ``params`` set; ``index`` is its position in the study."""

    index: int
    params: Mapping[str, Any]
    scenario: Scenario = field(repr=False)
    scenario_hash: str


@dataclass(frozen=True)
class Study:
    name: str
    description: str
    path: Path
    base: Scenario = field(repr=False)
    seeds: tuple[int, ...]
    grid: Mapping[str, tuple[Any, ...]]
    sample: Mapping[str, Distribution]
    sample_n: int
    sample_seed: int
    save_timeseries: bool
    variants: tuple[Variant, ...] = field(repr=False)
    n_repeated: int  # variants dropped because they gave the scenario of an earlier one
    raw: Mapping[str, Any] = field(repr=False)
    overrides: tuple[str, ...] = ()  # --set strings applied to the base scenario

    @property
    def param_keys(self) -> tuple[str, ...]:
        """The swept scenario keys: the grid's, then the sample's (one dataset column each)."""
        return (*self.grid, *self.sample)

    def param_domains(self) -> dict[str, tuple[Any, ...]]:
        """Each swept key -> values standing for what it takes (decides its column type)."""
        domains: dict[str, tuple[Any, ...]] = {key: values for key, values in self.grid.items()}
        domains.update({key: dist.domain() for key, dist in self.sample.items()})
        return domains

    @property
    def n_runs(self) -> int:
        return len(self.variants) * len(self.seeds)

    def runs(self) -> list[RunSpec]:
        """Every run, variant by variant, each with every seed."""
        return [make_run(v.scenario, v.params, seed, index=v.index, variant_hash=v.scenario_hash)
                for v in self.variants for seed in self.seeds]


def is_study_file(path: str | Path) -> bool:
    """True when the TOML file at ``path`` has a top-level ``[study]`` table."""
    data = read_toml(Path(path))
    return isinstance(data.get("study"), dict)


def load_study(path: str | Path, overrides: Sequence[str] = ()) -> Study:
    """Read and validate the study file at ``path``; ``overrides`` (``--set``) apply to its base scenario.

    Raises ``ScenarioError`` naming the study file and the key for every bad key or value, and for
    the first variant that is not a valid scenario.
    """
    file_path = Path(path)
    file = str(file_path)
    if not file_path.is_file():
        what = "is a directory, not a study file" if file_path.is_dir() else f"study file not found: {file_path.resolve()}"
        raise ScenarioError(file, "", what, expected="an existing TOML study file")
    data = read_toml(file_path)
    root = Table(file, "", data)
    root.check_keys(STUDY_ROOT_KEYS)
    head = root.table("study", required=True)
    assert head is not None
    head.check_keys(STUDY_KEYS)
    name = head.string("name", file_path.stem)
    description = head.string("description", "", allow_empty=True)
    base_path = head.existing_file("base", file_path.resolve().parent)
    base = load_scenario(base_path, overrides)
    seeds = _seeds(head, base)
    grid = _grid(root)
    sample_n, sample = _sample(root, grid)
    sample_seed = head.integer("seed", 0, lo=0)
    outputs = root.table("outputs", required=False)
    save_timeseries = False
    if outputs is not None:
        outputs.check_keys(OUTPUT_KEYS)
        save_timeseries = _boolean(outputs, "timeseries", False)
    for key, values in {**grid, **{k: d.domain() for k, d in sample.items()}}.items():
        _check_key(file, _section(key, grid), key, values[0], base)
    draws = _draws(sample, sample_n, sample_seed)
    variants, n_repeated = _variants(file, base, grid, draws)
    return Study(
        name=name,
        description=description,
        path=file_path.resolve(),
        base=base,
        seeds=seeds,
        grid=grid,
        sample=sample,
        sample_n=sample_n,
        sample_seed=sample_seed,
        save_timeseries=save_timeseries,
        variants=tuple(variants),
        n_repeated=n_repeated,
        raw=data,
        overrides=tuple(overrides),
    )


# --- [study] ----------------------------------------------------------------------------------


def _seeds(head: Table, base: Scenario) -> tuple[int, ...]:
    if not head.has("seeds"):
        return (base.simulation.seed,)
    value = head.get("seeds")
    expected = "an integer >= 1 (that many seeds, 0..n-1) or a non-empty array of distinct integers >= 0"
    if isinstance(value, list):
        if not value:
            raise head.error("seeds", "must not be empty", value=value, expected=expected)
        seeds = tuple(as_integer(head.file, f"{head.key('seeds')}[{i}]", s, lo=0) for i, s in enumerate(value))
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise head.error("seeds", f"seed {repeated[0]} is listed twice", value=value, expected=expected)
        return seeds
    if isinstance(value, bool) or not isinstance(value, int):
        raise head.error("seeds", f"must be an integer or an array, not {type_name(value)}", value=value,
                         expected=expected)
    return tuple(range(as_integer(head.file, head.key("seeds"), value, lo=1)))


def _boolean(table: Table, name: str, default: bool) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise table.error(name, f"must be a boolean, not {type_name(value)}", value=value, expected="true or false")
    return value


# --- [grid] and [sample] ----------------------------------------------------------------------


def _flatten(data: Mapping[str, Any], prefix: str, is_leaf: Any) -> Iterator[tuple[str, Any]]:
    """``{"strategy": {"name": [...]}}`` -> ``("strategy.name", [...])``: TOML's unquoted dotted keys."""
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not is_leaf(value):
            yield from _flatten(value, dotted, is_leaf)
        else:
            yield dotted, value


def _where(section: str, key: str) -> str:
    return f'{section}."{key}"'


def _no_repeats(file: str, where: str, values: Sequence[Any]) -> None:
    seen: list[str] = []
    for value in values:
        text = json.dumps(value, sort_keys=True, default=str)
        if text in seen:
            raise ScenarioError(file, where, f"value {value!r} is listed twice", value=list(values),
                                expected="distinct values")
        seen.append(text)


def _check_swept_key(file: str, where: str, key: str) -> None:
    if key == SEED_KEY:
        raise ScenarioError(file, where, "the seed is not swept here", value=key,
                            expected="the seeds in [study] seeds (an integer count or an array)")


def _grid(root: Table) -> dict[str, tuple[Any, ...]]:
    table = root.table("grid", required=False)
    if table is None:
        return {}
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in _flatten(table.data, "", lambda _: False):
        where = _where("grid", key)
        _check_swept_key(table.file, where, key)
        if not isinstance(values, list):
            raise ScenarioError(table.file, where, f"must be an array of values, not {type_name(values)}",
                                value=values, expected=f"an array, e.g. [{values!r}]")
        if not values:
            raise ScenarioError(table.file, where, "must not be empty", value=values, expected="a non-empty array")
        _no_repeats(table.file, where, values)
        grid[key] = tuple(values)
    return grid


def _is_distribution(value: Mapping[str, Any]) -> bool:
    """A distribution table (also a misspelt one: a table of plain values), not a dotted-key level."""
    return any(name in value for name in DISTRIBUTIONS) or not any(isinstance(v, dict) for v in value.values())


def _sample(root: Table, grid: Mapping[str, Any]) -> tuple[int, dict[str, Distribution]]:
    table = root.table("sample", required=False)
    if table is None:
        return 0, {}
    sample: dict[str, Distribution] = {}
    for key, spec in _flatten({k: v for k, v in table.data.items() if k != SAMPLE_COUNT_KEY}, "", _is_distribution):
        where = _where("sample", key)
        _check_swept_key(table.file, where, key)
        if key in grid:
            raise ScenarioError(table.file, where, "is swept in [grid] too", value=key,
                                expected="each key in either [grid] or [sample]")
        sample[key] = _distribution(table.file, where, spec)
    if not sample:
        raise table.error(None, "names no key to draw", expected='a scenario key -> { uniform = [a, b] }, '
                          '{ integer = [a, b] } or { choice = [...] }, e.g. "grid.pv.share" = { uniform = [0, 0.5] }')
    n = table.integer(SAMPLE_COUNT_KEY, lo=1)
    return n, sample


def _distribution(file: str, where: str, spec: Any) -> Distribution:
    expected = "{ uniform = [a, b] }, { integer = [a, b] } or { choice = [values] }"
    if not isinstance(spec, dict):
        raise ScenarioError(file, where, f"must be a table, not {type_name(spec)}", value=spec, expected=expected)
    unknown = [name for name in spec if name not in DISTRIBUTIONS]
    if unknown:
        raise ScenarioError(file, f"{where}.{unknown[0]}", f"unknown distribution '{unknown[0]}'"
                            f"{suggestion(unknown[0], DISTRIBUTIONS)}", expected=one_of(DISTRIBUTIONS))
    if len(spec) != 1:
        raise ScenarioError(file, where, "gives more than one distribution", value=spec, expected=expected)
    (kind, args), = spec.items()
    at = f"{where}.{kind}"
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ScenarioError(file, at, "must be a non-empty array", value=args, expected="an array of values")
        _no_repeats(file, at, args)
        return Distribution(kind, tuple(args))
    if not isinstance(args, list) or len(args) != 2:
        raise ScenarioError(file, at, "must be an array of two bounds", value=args, expected="[a, b]")
    if kind == "integer":
        lo, hi = (as_integer(file, f"{at}[{i}]", v) for i, v in enumerate(args))
        if lo > hi:
            raise ScenarioError(file, at, "lower bound above upper bound", value=args, expected="[a, b] with a <= b")
        return Distribution(kind, (lo, hi))
    a, b = (as_number(file, f"{at}[{i}]", v) for i, v in enumerate(args))
    if not a < b:
        raise ScenarioError(file, at, "lower bound not below upper bound", value=args, expected="[a, b] with a < b")
    return Distribution(kind, (a, b))


def _draws(sample: Mapping[str, Distribution], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` draws, each a value per key (key by key in file order, draw after draw)."""
    rng = np.random.default_rng(seed)
    return [{key: dist.draw(rng) for key, dist in sample.items()} for _ in range(n)]


# --- checks against the base scenario -----------------------------------------------------------


def _section(key: str, grid: Mapping[str, Any]) -> str:
    return "grid" if key in grid else "sample"


def _detail(error: ScenarioError) -> str:
    """``str(error)`` without its leading ``FILE: ``."""
    return str(error).removeprefix(f"{error.file}: ")


def _check_key(file: str, section: str, key: str, value: Any, base: Scenario) -> None:
    """The key exists in the scenario format (checked like a ``--set`` override of the base)."""
    try:
        apply_values(base.raw, {key: value}, file)
    except ScenarioError as error:
        raise ScenarioError(file, _where(section, key), f"not a key of the scenario format: {_detail(error)}") from None


def _shown(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in params.items()) or "the base scenario"


def _blame(error_key: str, params: Mapping[str, Any], grid: Mapping[str, Any]) -> str:
    """The study location of a variant's error: the swept key it names, else the section."""
    dotted = error_key.replace("[", ".").replace("]", "")
    for key in params:
        if dotted == key or dotted.startswith(f"{key}."):
            return _where(_section(key, grid), key)
    return "grid" if grid else "sample"


def _variants(file: str, base: Scenario, grid: Mapping[str, tuple[Any, ...]],
              draws: list[dict[str, Any]]) -> tuple[list[Variant], int]:
    from sim.strategies import create

    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    params_list = [{**combo, **draw} for combo in combos for draw in (draws or [{}])]
    variants: list[Variant] = []
    seen: set[str] = set()
    checked_strategies: set[str] = set()
    n = len(params_list)
    for i, params in enumerate(params_list):
        label = f"variant {i + 1} of {n} ({_shown(params)}) is not a valid scenario"
        try:
            scenario = apply_params(base, params, file)
        except ScenarioError as error:
            raise ScenarioError(file, _blame(error.key, params, grid), f"{label}: {error}") from None
        strategy = json.dumps([scenario.strategy.name, scenario.strategy.params], sort_keys=True, default=str)
        if strategy not in checked_strategies:
            try:
                create(scenario.strategy.name, scenario.strategy.params)
            except StrategyError as error:
                key = f"strategy.{error.param}" if error.param else "strategy.name"
                raise ScenarioError(file, _blame(key, params, grid), f"{label}: {error}") from None
            checked_strategies.add(strategy)
        digest = scenario_hash(scenario)
        if digest in seen:
            continue
        seen.add(digest)
        variants.append(Variant(len(variants), params, scenario, digest))
    return variants, n - len(variants)
