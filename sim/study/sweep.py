"""``sim.sweep`` / ``feedertwin sweep``: every run of a study on Dask, one Parquet row per run, resumable.

1. The study loads (every variant's scenario is validated before anything runs).
2. The runs already in ``DIR/kpis/`` are skipped (matched by run key: the variant's scenario hash
   and the seed); with ``retry_failed`` the failed ones run again.
3. The rest go to a Dask cluster (``sim.study.cluster``): a local one with a worker process per core,
   an existing one by ``scheduler`` address, or the caller's ``client``. Each row is written as its
   run finishes, so an interruption loses only the runs in flight; call again to continue.

Runs are reproducible: a run's every random choice comes from its seed, so the same study and seeds
give the same KPIs on any worker, and the same as ``sim.simulate`` of the variant.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pandas as pd

from sim.scenario import scenario_hash
from sim.study.cluster import check_cluster_args, dask_client, describe, run_many
from sim.study.dataset import SweepDataset, column_kind, load_sweep
from sim.study.progress import SweepProgress, format_duration_s
from sim.study.runs import STATUS_FAILED
from sim.study.study_file import Study, load_study

if TYPE_CHECKING:
    from distributed import Client


@dataclass(frozen=True)
class SweepResult:
    """What a call did and the study's rows found in the output directory afterwards.

    ``table`` holds every finished run of the study (this call's and earlier ones), ordered by
    variant and seed; ``n_left`` counts the runs not finished (``max_runs`` or an interruption).
    """

    study: Study = field(repr=False)
    out_dir: Path
    table: pd.DataFrame = field(repr=False)
    n_runs: int
    n_skipped: int
    n_done: int
    n_failed: int
    n_left: int
    n_stale: int  # rows in the directory that belong to no run of this study (it changed since)


def default_out_dir(study: Study) -> Path:
    return Path("out") / f"{study.name}-sweep"


def sweep(
    study: Study | str | Path,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    workers: int | None = None,
    scheduler: str | None = None,
    client: Client | None = None,
    max_runs: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    stream: TextIO | None = None,
    on_row: Callable[[Mapping[str, Any]], None] | None = None,
) -> SweepResult:
    """Run the study (a ``Study`` or a study file path) and return what was done.

    ``out``: the output directory (default ``out/<study name>-sweep``). ``overrides``: ``--set``
    strings for the base scenario (with a path). ``workers``: local worker processes (default one
    per core); ``scheduler``: the address of an existing Dask scheduler; ``client``: an open
    ``distributed.Client`` to use. ``max_runs``: run at most this many of the missing runs in this
    call (the rest stay for the next). ``progress``: the progress line on ``stream`` (stderr).
    ``on_row``: called with each row as it is written.
    """
    if not isinstance(study, Study):
        study = load_study(study, overrides)
    elif overrides:
        raise TypeError("overrides apply to a study file path; load_study(path, overrides) instead")
    if max_runs is not None and max_runs < 0:
        raise ValueError(f"max_runs must be >= 0; got {max_runs}")
    check_cluster_args(workers=workers, scheduler=scheduler, client=client)
    stream = stream if stream is not None else sys.stderr
    out_dir = Path(out) if out is not None else default_out_dir(study)
    kinds = {key: column_kind(values) for key, values in study.param_domains().items()}
    dataset = SweepDataset(out_dir, kinds)
    dataset.prepare(study.path, study.base.path, _meta(study))

    specs = study.runs()
    keys = [spec.run_key for spec in specs]
    finished = dataset.finished_keys()
    skip = finished - dataset.failed_keys() if retry_failed else finished
    missing = [spec for spec in specs if spec.run_key not in skip]
    todo = missing if max_runs is None else missing[:max_runs]
    n_skipped = len(specs) - len(missing)
    n_stale = len(finished - set(keys))

    def say(text: str) -> None:
        if progress:
            print(text, file=stream, flush=True)

    say(f"sweep '{study.name}': {len(study.variants)} variants x {len(study.seeds)} seeds = {len(specs)} runs"
        f"{f'; {n_skipped} finished before (skipped)' if n_skipped else ''}")
    if n_stale:
        say(f"note: {dataset.kpi_dir} holds {n_stale} rows of runs that are not in this study (it or its base "
            "scenario changed since); they are kept, and left out of the result")
    n_done = n_failed = 0
    if todo:
        results_dir = str(dataset.runs_dir.resolve()) if study.save_timeseries else None
        with dask_client(workers=workers, scheduler=scheduler, client=client) as dask:
            say(f"running {len(todo)} runs on {describe(dask)}")
            started = time.perf_counter()
            bar = SweepProgress(len(todo), stream) if progress else None
            try:
                with closing(run_many(dask, todo, results_dir=results_dir)) as rows:  # closing cancels the rest
                    for row in rows:
                        dataset.write(row)
                        n_done += 1
                        n_failed += row["status"] == STATUS_FAILED
                        if bar is not None:
                            bar.update(row)
                        if on_row is not None:
                            on_row(row)
            except KeyboardInterrupt:
                if bar is not None:
                    bar.close()
                say(f"interrupted: {n_done} runs written to {dataset.kpi_dir}; run the same command again to continue")
                raise
            say(f"{n_done} runs ({n_failed} failed) in {format_duration_s(time.perf_counter() - started)}")
    return SweepResult(study, out_dir, load_sweep(out_dir, keys), len(specs), n_skipped, n_done, n_failed,
                       len(missing) - n_done, n_stale)


def _meta(study: Study) -> dict[str, Any]:
    return {
        "study": study.name,
        "description": study.description,
        "study_file": str(study.path),
        "base_scenario": str(study.base.path),
        "base_scenario_hash": scenario_hash(study.base),
        "overrides": list(study.overrides),
        "param_keys": list(study.param_keys),
        "seeds": list(study.seeds),
        "n_variants": len(study.variants),
        "n_runs": study.n_runs,
        "timeseries": study.save_timeseries,
    }
