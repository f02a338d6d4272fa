"""A real Dask cluster for the sweep tests: a scheduler and two worker processes on 127.0.0.1.

Started the way a user starts one (``dask scheduler`` / ``dask worker``, here as ``python -m`` of
the same modules so the test venv's interpreter runs them) and stopped in the fixture's finalizer.
Each process writes its log under the test's temporary directory; a start-up failure shows it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 60.0
N_WORKERS = 2


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {process.returncode}:\n{log.read_text()}")
        if path.is_file():
            try:
                return dict(json.loads(path.read_text()))
            except json.JSONDecodeError:
                pass  # being written
        time.sleep(0.1)
    raise RuntimeError(f"dask scheduler did not start within {START_TIMEOUT_S:g} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address (``tcp://127.0.0.1:PORT``) of a running scheduler with two single-threaded workers."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def start(name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = folder / f"{name}.log"
        logs.append(log)
        with log.open("wb") as handle:
            process = subprocess.Popen([sys.executable, "-m", *args], stdout=handle, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        scheduler = start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--scheduler-file", str(scheduler_file), "--no-dashboard"])
        address = str(_wait_for_file(scheduler_file, scheduler, logs[0])["address"])
        for i in range(N_WORKERS):
            start(f"worker-{i}", ["distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
                                  "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "30",
                                  "--name", f"test-worker-{i}"])
        with Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(N_WORKERS, timeout=START_TIMEOUT_S)
        yield address
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            _stop(process)
