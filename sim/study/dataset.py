"""A sweep's output directory: one Parquet file per finished run, readable as one dataset.

Layout of ``DIR``::

    kpis/<run_key>.parquet    one row per run (see ``row_schema`` for the columns)
    runs/<run_key>/           the run's full results directory (only with [outputs] timeseries = true)
    study.toml                a copy of the study file
    base_scenario.toml        a copy of its base scenario file
    sweep.json                study name, run counts, --set overrides, versions

Each row is written to a hidden temporary file and renamed into place when complete, so an
interrupted sweep leaves only whole rows, and a second call finds the finished runs by file name.
Every file of one study has the same schema (the swept keys' column types come from the study), so
``pandas.read_parquet(DIR / "kpis")`` reads the whole set; ``load_sweep`` also copes with files
written by an earlier version of the study (columns added or widened).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim import __version__
from sim.study.runs import LEADING_COLUMNS, MIDDLE_COLUMNS, STATUS_FAILED, SWEEP_KPI_KEYS, TRAILING_COLUMNS

KPI_DIR = "kpis"
RUNS_DIR = "runs"
META_FILE = "sweep.json"
STUDY_COPY = "study.toml"
BASE_COPY = "base_scenario.toml"
ROW_SUFFIX = ".parquet"

# Column kind -> Arrow type; "json" holds any other value (arrays, date-times, mixed types) as JSON text.
ARROW_TYPES = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string(), "json": pa.string()}
FIXED_TYPES: dict[str, pa.DataType] = {
    "run_key": pa.string(), "variant": pa.int64(), "variant_hash": pa.string(),
    "seed": pa.int64(), "status": pa.string(), "error": pa.string(),
    "wall_time_s": pa.float64(), "worker": pa.string(),
}
COUNT_KPIS = ("n_sessions", "vuf_max_bus")


def column_kind(values: Iterable[Any]) -> str:
    """The narrowest column kind holding every value: bool, int, float, str, else json."""
    values = list(values)
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "float"
    if all(isinstance(v, str) for v in values):
        return "str"
    return "json"


def row_schema(param_kinds: Mapping[str, str]) -> pa.Schema:
    """run_key, variant, variant_hash, one column per swept key, seed, status, error, every KPI
    (``SWEEP_KPI_KEYS``), wall_time_s, worker."""
    fields = [pa.field(name, FIXED_TYPES[name]) for name in LEADING_COLUMNS]
    fields += [pa.field(key, ARROW_TYPES[kind]) for key, kind in param_kinds.items()]
    fields += [pa.field(name, FIXED_TYPES[name]) for name in MIDDLE_COLUMNS]
    fields += [pa.field(key, pa.int64() if key in COUNT_KPIS else pa.float64()) for key in SWEEP_KPI_KEYS]
    fields += [pa.field(name, FIXED_TYPES[name]) for name in TRAILING_COLUMNS]
    return pa.schema(fields)


def _json_text(value: Any) -> str:
    def default(item: Any) -> Any:
        return item.isoformat() if isinstance(item, datetime | date | time) else str(item)

    return json.dumps(value, sort_keys=True, default=default)


class SweepDataset:
    """The output directory of one study's sweep (see the module docstring)."""

    def __init__(self, out_dir: str | Path, param_kinds: Mapping[str, str]) -> None:
        self.out_dir = Path(out_dir)
        self.kpi_dir = self.out_dir / KPI_DIR
        self.runs_dir = self.out_dir / RUNS_DIR
        self.param_kinds = dict(param_kinds)
        self.schema = row_schema(self.param_kinds)

    def prepare(self, study_file: Path, base_file: Path | None, meta: Mapping[str, Any]) -> None:
        """Create the directory, copy the study and base files, write ``sweep.json``."""
        self.kpi_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(study_file, self.out_dir / STUDY_COPY)
        if base_file is not None:
            shutil.copyfile(base_file, self.out_dir / BASE_COPY)
        info = {**meta, "feedertwin_version": __version__, "python": platform.python_version(),
                "versions": _versions()}
        (self.out_dir / META_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")

    def finished_keys(self) -> set[str]:
        """The run keys of every row already written (from the file names: no file is read)."""
        return {path.name[: -len(ROW_SUFFIX)] for path in _row_files(self.kpi_dir)}

    def failed_keys(self) -> set[str]:
        """The run keys of the rows whose status is ``failed`` (reads each row's status)."""
        return {path.name[: -len(ROW_SUFFIX)] for path in _row_files(self.kpi_dir)
                if pq.read_table(path, columns=["status"])["status"][0].as_py() == STATUS_FAILED}

    def write(self, row: Mapping[str, Any]) -> Path:
        """Write one run's row as ``kpis/<run_key>.parquet`` (atomically: temporary file, then rename)."""
        values = dict(row)
        for key, kind in self.param_kinds.items():
            if kind == "json":
                values[key] = _json_text(values[key])
            elif kind == "float":
                values[key] = float(values[key])
        table = pa.Table.from_pylist([values], schema=self.schema)
        target = self.kpi_dir / f"{row['run_key']}{ROW_SUFFIX}"
        temporary = self.kpi_dir / f".{row['run_key']}{ROW_SUFFIX}.tmp"
        pq.write_table(table, temporary)
        os.replace(temporary, target)
        return target


def load_sweep(out_dir: str | Path, run_keys: Iterable[str] | None = None) -> pd.DataFrame:
    """Every row of the sweep in ``out_dir`` (or only those of ``run_keys``), by variant and seed.

    An empty frame (no columns) when nothing is written yet.
    """
    paths = _row_files(Path(out_dir) / KPI_DIR)
    if run_keys is not None:
        wanted = set(run_keys)
        paths = [p for p in paths if p.name[: -len(ROW_SUFFIX)] in wanted]
    if not paths:
        return pd.DataFrame()
    table = pa.concat_tables([pq.read_table(p) for p in paths], promote_options="permissive")
    frame: pd.DataFrame = table.to_pandas()
    return frame.sort_values(["variant", "seed"], kind="stable").reset_index(drop=True)


def _row_files(kpi_dir: Path) -> list[Path]:
    """The finished rows' files (not the hidden temporary ones being written)."""
    if not kpi_dir.is_dir():
        return []
    return sorted(p for p in kpi_dir.glob(f"*{ROW_SUFFIX}") if not p.name.startswith("."))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in ("numpy", "pandas", "pandapower", "pyarrow", "dask", "distributed"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
