"""Execute every notebook in ``notebooks/`` with small parameters, so that none of them rots.

Each notebook has one code cell tagged ``parameters`` (papermill's convention). The test inserts a
cell right after it that sets ``ROOT`` (the repository root, so the notebook finds ``scenarios/``)
and the notebook's ``SMALL`` values, then runs the notebook with nbclient on the ``python3`` kernel
in a temporary working directory, so nothing is written into the repository. A failing cell fails
the test with its source and the error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "python3"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # the kernel colours its tracebacks
CELL_TIMEOUT_S = 300  # generous: a shared 2-core machine; the small runs take seconds

# Small parameters per notebook (file name -> values injected after its `parameters` cell).
SMALL: dict[str, dict[str, Any]] = {
    "01_strategy_comparison.ipynb": {"DURATION": "1d", "GRID_DURATION": "1d"},
    "02_hosting_capacity.ipynb": {"DURATION": "1d", "SEEDS": 2, "MAX_COUNT": 4, "WORKERS": 2},
    "03_sweep_analysis.ipynb": {"DURATION": "1d", "SHARES": [0.4, 1.0], "SEEDS": 2, "WORKERS": 2},
}


def with_parameters(nb: nbformat.NotebookNode, values: dict[str, Any]) -> nbformat.NotebookNode:
    """Insert a cell assigning ``values`` right after the cell tagged ``parameters``.

    Later assignments win, so the notebook's defaults stay visible and only the values given here
    change (what papermill does, in a few lines). Values are written with ``repr``.
    """
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"a notebook needs exactly one cell tagged 'parameters'; found {len(tagged)}")
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell["id"] = "injected-parameters"
    nb.cells.insert(tagged[0] + 1, cell)
    return nb


def run_notebook(nb: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    """Execute ``nb`` in ``workdir``; on an error, fail with the failing cell's source and the error."""
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        return client.execute()
    except CellTimeoutError as exc:
        pytest.fail(f"a cell ran longer than {CELL_TIMEOUT_S} s:\n{exc}", pytrace=False)
    except CellExecutionError as exc:  # its traceback starts with the failing cell's source
        pytest.fail(f"{exc.ename}: {exc.evalue}\n\n{ANSI_ESCAPE.sub('', exc.traceback)}", pytrace=False)


def test_every_notebook_has_small_parameters() -> None:
    assert NOTEBOOKS, "no notebooks found in notebooks/"
    missing = [nb.name for nb in NOTEBOOKS if nb.name not in SMALL]
    assert not missing, f"add SMALL parameters for {missing} in {Path(__file__).name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, cell in enumerate(nb.cells)
                    if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not with_outputs, f"{path.name}: clear the outputs of cells {with_outputs} before committing"


def test_kernel_is_this_python(tmp_path: Path) -> None:
    # The notebooks must run on the interpreter that runs the tests (.venv), not on another Python.
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")])
    out = run_notebook(nb, tmp_path)
    assert Path(out.cells[0].outputs[0]["text"].strip()).resolve() == Path(sys.executable).resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_small(path: Path, tmp_path: Path) -> None:
    nb = with_parameters(nbformat.read(path, as_version=4), {"ROOT": str(ROOT), **SMALL.get(path.name, {})})
    run_notebook(nb, tmp_path)
