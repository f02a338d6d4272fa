"""Many runs on Dask: a local cluster of worker processes, or an existing cluster by address.

- ``dask_client(workers=N)``: a ``distributed.LocalCluster`` on this machine with ``N`` worker
  processes (default one per core), one thread each, BLAS pinned to one thread in every worker (a
  run is single-threaded: more threads per process only contend for the cores);
- ``dask_client(scheduler="tcp://HOST:PORT")``: a ``distributed.Client`` to a cluster started with
  Dask's own ``dask scheduler`` / ``dask worker`` (every worker needs feedertwin installed);
- ``run_many(client, specs)``: submits every run (``sim.study.runs.run_one``) and yields the rows
  in the order the runs finish. A task the cluster itself loses (a worker killed, say) becomes a
  ``failed`` row too. Stopping the iteration (an interruption) cancels the runs not yet finished.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sim.errors import FeedertwinError
from sim.study.runs import RunSpec, failed_row, run_one

if TYPE_CHECKING:
    from distributed import Client

    from sim.results import Results

ONE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONNECT_TIMEOUT_S = 20.0
WAIT_FOR_WORKERS_S = 60.0


class ClusterError(FeedertwinError):
    """The Dask cluster cannot be reached, has no workers, or was asked for in a contradictory way."""


def local_cores() -> int:
    """The cores this process may run on (one local worker each by default)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None,
                client: Client | None = None) -> Iterator[Client]:
    """A Dask client for the duration of the block (see the module docstring).

    With ``client`` the caller's client is used as it is and left open.
    """
    check_cluster_args(workers=workers, scheduler=scheduler, client=client)
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        remote = _connect(scheduler)
        try:
            yield remote
        finally:
            remote.close()
        return
    n_workers = local_cores() if workers is None else workers
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", env=dict(ONE_THREAD_ENV)) as cluster, Client(cluster) as local:
        yield local


def check_cluster_args(*, workers: int | None = None, scheduler: str | None = None,
                       client: Client | None = None) -> None:
    """Refuse contradictory choices of cluster (before anything is started or written)."""
    if client is not None and (workers is not None or scheduler is not None):
        raise ClusterError("give either a client, or workers / a scheduler address, not both")
    if scheduler is not None and workers is not None:
        raise ClusterError(f"--workers {workers} applies to the local cluster; with --scheduler {scheduler} the "
                           "cluster's own workers run (start more with `dask worker`)")
    if workers is not None and workers < 1:
        raise ClusterError(f"--workers must be at least 1; got {workers}")


def _connect(address: str) -> Client:
    from distributed import Client

    hint = (f"start one with `dask scheduler` and workers with `dask worker {address}` "
            "(each with feedertwin installed)")
    try:
        remote = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"--scheduler {address}: cannot connect to a Dask scheduler there ({error}); {hint}") from None
    try:
        remote.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
    except (OSError, TimeoutError) as error:
        remote.close()
        raise ClusterError(f"--scheduler {address}: no worker joined within {WAIT_FOR_WORKERS_S:g} s ({error}); "
                           f"{hint}") from None
    return remote


def describe(client: Client) -> str:
    """``"2 workers at tcp://127.0.0.1:8786"``: what the runs go to."""
    n = len(client.nthreads())
    return f"{n} worker{'s' if n != 1 else ''} at {getattr(client.scheduler, 'address', '?')}"


def run_many(client: Client, specs: Sequence[RunSpec], *, results_dir: str | None = None,
             assess: Callable[[Results], Mapping[str, Any]] | None = None) -> Generator[dict[str, Any], None, None]:
    """Run every spec on the cluster; yield each row as its run finishes (see the module docstring).
    ``assess``: as for ``run_one`` (extra columns computed on the worker)."""
    from distributed import as_completed

    batch = uuid.uuid4().hex[:8]  # task keys unique to this call, so two sweeps never share a task
    futures = {client.submit(run_one, spec, results_dir, assess, key=f"feedertwin-run-{spec.run_key}-{batch}", pure=False): spec
               for spec in specs}
    try:
        for future in as_completed(futures):
            spec = futures[future]
            try:
                row = future.result()
            except Exception as error:  # noqa: BLE001 - the task (not the run) failed on the cluster
                row = failed_row(spec, f"{type(error).__name__}: {error} (the task was lost on the cluster)")
            future.release()
            yield row
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
