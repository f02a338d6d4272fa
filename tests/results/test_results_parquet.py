"""The Parquet writers of the results directory: exact round trips of the wide time x elements tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.results import load_results
from sim.results._parquet import ROWS_PER_BLOCK, column_major, write_wide
from sim.results.synthetic import synthetic_results


@pytest.mark.parametrize("shape", [(0, 0), (0, 4), (5, 0), (ROWS_PER_BLOCK + 3, 7), (2 * ROWS_PER_BLOCK, 1)])
def test_column_major_is_the_transpose(shape: tuple[int, int]) -> None:
    values = np.random.default_rng(3).normal(size=shape)
    out = column_major(values)
    assert out.flags.c_contiguous
    assert np.array_equal(out, values.T)


def test_column_major_of_a_column_major_array_is_a_view() -> None:
    values = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    assert np.shares_memory(column_major(values), values)


def _wide(n_steps: int, n_columns: int) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    values = rng.uniform(0.9, 1.1, (n_steps, n_columns))
    if n_columns:
        values[1:, 0] = np.nan  # out-of-service elements are nan, and stay nan
    times = pd.date_range("2026-01-05", periods=n_steps, freq="15min", tz="UTC", name="time", unit="ms")
    return pd.DataFrame(values, index=times, columns=[str(10 + j) for j in range(n_columns)])


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (4, 0), (ROWS_PER_BLOCK + 5, 6)])
def test_write_wide_round_trip_is_exact(tmp_path: Path, shape: tuple[int, int]) -> None:
    frame = _wide(*shape)
    path = tmp_path / "wide.parquet"
    write_wide(frame, path)
    back = pd.read_parquet(path)
    assert back.equals(frame)
    assert back.index.equals(frame.index) and back.index.name == "time"
    assert list(back.columns) == list(frame.columns)
    metadata = pq.ParquetFile(path).metadata
    if metadata.num_row_groups and shape[1]:
        assert metadata.row_group(0).column(0).compression == "UNCOMPRESSED"


def test_write_wide_of_other_frames_falls_back_to_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}, index=pd.Index(["x", "y"], name="id"))
    write_wide(frame, tmp_path / "mixed.parquet")
    assert pd.read_parquet(tmp_path / "mixed.parquet").equals(frame)


def test_save_over_a_previous_run_and_resave_after_load(tmp_path: Path) -> None:
    first = synthetic_results(np.random.default_rng(1), n_steps=300, n_buses=7)
    second = synthetic_results(np.random.default_rng(2), n_steps=40, n_buses=4)
    out = tmp_path / "run"
    first.save(out)
    second.save(out)  # replaces every file of the first run
    loaded = load_results(out)
    assert loaded.equals(second)
    loaded.save(tmp_path / "again")  # frames read back are column-major already
    assert load_results(tmp_path / "again").equals(second)
