"""One run of a study: a base scenario with some keys set (a *variant*) and a seed, and its KPI row.

These are the building blocks every many-run study uses (sweeps, hosting capacity):

- ``apply_params(base, {"chargers.0.count": 12}, file)`` -> the variant's ``Scenario``; keys are the
  dotted keys of ``--set``, values typed (a table too: ``{"strategy": {"name": "edf"}}``), checked
  and applied by ``sim.scenario.overrides``;
- ``make_run(variant, params, seed)`` -> a ``RunSpec``, identified by its ``run_key``, a hash of the
  variant's scenario hash and the seed (so a finished run is recognised again on a second call);
- ``run_one(spec)`` -> one row: the parameters, the seed, the run key, every KPI, ``status`` (``ok`` /
  ``failed``), ``error``, ``wall_time_s`` and ``worker``. It never raises for a failing run: the error
  becomes the row, so a sweep goes on. It is what a Dask worker executes.

The seed is the scenario's ``[simulation] seed``: every random choice of a run derives from it
(``sim.engine.build_setup``), so a run gives the same KPIs in any process on any worker.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.results import KPI_KEYS, UNBALANCE_KPI_KEYS, Results
from sim.scenario import Scenario, scenario_from_dict, scenario_hash
from sim.scenario.overrides import apply_values

SEED_KEY = "simulation.seed"
STATUS_OK = "ok"
STATUS_FAILED = "failed"
# Columns of a row before the parameters, between parameters and KPIs, and after the KPIs.
LEADING_COLUMNS = ("run_key", "variant", "variant_hash")
MIDDLE_COLUMNS = ("seed", "status", "error")
TRAILING_COLUMNS = ("wall_time_s", "worker")
SWEEP_KPI_KEYS = KPI_KEYS + tuple(key for key in UNBALANCE_KPI_KEYS if key != "vuf_max_time")
"""The KPI columns of a sweep row: every run's KPIs, then the unbalanced runs' (empty in a balanced
sweep); the time of the worst unbalance stays in each run's own summary."""


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run (small and picklable: the scenario, not its set-up).

    ``variant`` is the variant's position in its study (0 outside a study), ``variant_hash`` the
    scenario hash of the variant before the seed is applied, ``scenario`` the variant with the seed.
    """

    run_key: str
    variant: int
    variant_hash: str
    params: Mapping[str, Any]
    seed: int
    scenario: Scenario = field(repr=False)


def apply_params(base: Scenario, params: Mapping[str, Any], file: str) -> Scenario:
    """``base`` with every dotted key of ``params`` set to its (typed) value, validated again.

    ``file`` names the source of the parameters in errors (the study file). A bad key is the
    override parser's ``ScenarioError``; a bad value is the scenario loader's, naming the base file.
    """
    if not base.raw:
        raise ValueError("apply_params needs a Scenario from load_scenario or scenario_from_dict (it has no raw mapping)")
    return scenario_from_dict(apply_values(base.raw, params, file), base.path)


def run_key(variant_hash: str, seed: int) -> str:
    """16 hex digits identifying a run: a sha256 over the variant's scenario hash and the seed."""
    return hashlib.sha256(f"{variant_hash}:{seed}".encode("ascii")).hexdigest()[:16]


def make_run(variant: Scenario, params: Mapping[str, Any], seed: int, *, index: int = 0,
             variant_hash: str | None = None) -> RunSpec:
    """The run of ``variant`` (a scenario, with ``params`` already applied) with ``seed``."""
    variant_hash = variant_hash or scenario_hash(variant)
    seeded = apply_values(variant.raw, {SEED_KEY: int(seed)}, str(variant.path or "<scenario>"))
    scenario = scenario_from_dict(seeded, variant.path)
    return RunSpec(run_key(variant_hash, seed), index, variant_hash, dict(params), int(seed), scenario)


def run_one(spec: RunSpec, results_dir: str | None = None,
            assess: Callable[[Results], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Simulate ``spec`` and return its row; any exception becomes a ``failed`` row with the error.

    With ``results_dir`` the run's full results are saved under ``results_dir/<run_key>/`` (by the
    process that ran it: on a cluster, a path every worker can write to). ``assess`` (picklable)
    adds columns computed from the run's full results where they are, on the worker (a
    hosting-capacity study's limit checks), at the end of the row.
    """
    from sim.engine import simulate  # the heavy room, loaded where the run happens

    started = time.perf_counter()
    try:
        results = simulate(spec.scenario)
        extra = dict(assess(results)) if assess is not None else {}
        if results_dir is not None:
            results.save(Path(results_dir) / spec.run_key)
    except Exception as error:  # noqa: BLE001 - a failing run is recorded, never fatal to the sweep
        return failed_row(spec, f"{type(error).__name__}: {error}", time.perf_counter() - started, worker_name())
    return {**make_row(spec, results.kpis, STATUS_OK, None, time.perf_counter() - started, worker_name()), **extra}


def make_row(spec: RunSpec, kpis: Mapping[str, Any], status: str, error: str | None, wall_time_s: float,
             worker: str) -> dict[str, Any]:
    """The row of one run, columns in the dataset's order (missing KPIs are ``None``)."""
    row: dict[str, Any] = {"run_key": spec.run_key, "variant": spec.variant, "variant_hash": spec.variant_hash}
    row.update(spec.params)
    row.update(seed=spec.seed, status=status, error=error)
    row.update({key: kpis.get(key) for key in SWEEP_KPI_KEYS})
    row.update(wall_time_s=round(float(wall_time_s), 3), worker=worker)
    return row


def failed_row(spec: RunSpec, error: str, wall_time_s: float = float("nan"), worker: str = "") -> dict[str, Any]:
    """The row of a run that raised (or whose task was lost): no KPIs, the error message."""
    return make_row(spec, {}, STATUS_FAILED, error, wall_time_s, worker)


def worker_name() -> str:
    """The Dask worker's address when called inside a task, else ``host:pid`` of this process."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"
